/** Reads a data file into a Table, choosing the reader by the file's extension. */
import { extname } from 'node:path';
import { tableFromJsonl } from './jsonl.js';
import { type Table, tableFromCsv, tableFromJsonFile } from './table.js';

/** Reads a data file by extension: `.json` → records, `.jsonl`/`.ndjson` → JSON Lines, anything else → CSV. */
export function loadTable(path: string): Table {
  const ext = extname(path).toLowerCase();
  if (ext === '.json') return tableFromJsonFile(path);
  if (ext === '.jsonl' || ext === '.ndjson') return tableFromJsonl(path);
  return tableFromCsv(path);
}
