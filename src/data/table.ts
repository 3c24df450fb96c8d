/**
 * A Table: named columns of raw cells (string, number or missing) read from a CSV
 * file or from JSON records, with where each row came from for error messages.
 * No typing happens here; dataset-from-table.ts decides what each column means. Reading a file
 * by its extension (CSV, JSON or JSON Lines) is load-table.ts.
 */
import { type Cell, describe, isMissingToken, MISSING_TOKENS, stringCell, valueCell } from '../model/cells.js';
import { UserError } from '../util/errors.js';
import { readCsv, readTextFile } from './csv.js';

// raw values are read as a Model reads the records it predicts on (model/cells.ts)
export { type Cell, describe, isMissingToken, MISSING_TOKENS, valueCell };

export interface Table {
  /** File name (or other source name) used in messages. */
  source: string;
  columns: string[];
  /** rows[r][c] is the cell of column c; every row has columns.length cells. */
  rows: Cell[][];
  /** Where each row came from: its 1-based line (CSV) or 1-based record number (JSON). */
  lines: number[];
  /** What `lines` counts, for messages: `line 57` or `record 57`. */
  lineKind: 'line' | 'record';
}

/** `penguins.csv line 57` — where row r of the table came from. */
export function rowLocation(table: Table, r: number): string {
  return `${table.source} ${table.lineKind} ${table.lines[r]}`;
}

/**
 * The index of a column, or a UserError listing the available columns.
 * `what` says who needs it, e.g. `(task "species")`.
 */
export function columnIndex(table: Table, name: string, what: string): number {
  const c = table.columns.indexOf(name);
  if (c >= 0) return c;
  throw new UserError(
    `${table.source}: no column ${JSON.stringify(name)}${what ? ' ' + what : ''}; ` +
    `available columns: ${table.columns.map((x) => JSON.stringify(x)).join(', ')}`);
}

/** Reads a CSV file into a Table; cells are trimmed strings, missing tokens become null. */
export function tableFromCsv(path: string): Table {
  const csv = readCsv(path);
  const rows = csv.rows.map((fields) => fields.map(stringCell));
  return { source: path, columns: csv.header, rows, lines: csv.lines, lineKind: 'line' };
}

/**
 * Builds a Table from JSON-style records, e.g. `[{"Species": "Adelie", "Beak Length (mm)": 39.1}]`.
 * Columns are the union of the records' keys in order of first appearance; a key a record
 * lacks is a missing value, as are null, NaN and the missing-value strings.
 */
export function tableFromRecords(source: string, records: readonly object[]): Table {
  if (!Array.isArray(records)) {
    throw new UserError(`${source}: expected an array of records (objects), got ${describe(records)}`);
  }
  for (let r = 0; r < records.length; r++) {
    const rec = records[r] as unknown;
    if (rec === null || typeof rec !== 'object' || Array.isArray(rec)) {
      throw new UserError(`${source} record ${r + 1}: expected an object of column: value, got ${describe(rec)}`);
    }
  }
  return tableFromObjects(source, records as Record<string, unknown>[], records.map((_, r) => r + 1), 'record');
}

/**
 * Builds a Table from checked objects (not arrays, not null); `lines[r]` is where
 * object r came from. Columns: the union of keys in order of first appearance.
 */
export function tableFromObjects(
  source: string, objects: readonly Record<string, unknown>[], lines: number[], lineKind: Table['lineKind'],
): Table {
  const columns: string[] = [];
  const index = new Map<string, number>();
  for (const rec of objects) {
    for (const key of Object.keys(rec)) {
      if (!index.has(key)) {
        index.set(key, columns.length);
        columns.push(key);
      }
    }
  }
  const rows: Cell[][] = [];
  for (let r = 0; r < objects.length; r++) {
    const rec = objects[r];
    const row: Cell[] = new Array(columns.length).fill(null);
    for (const key of Object.keys(rec)) {
      row[index.get(key)!] = valueCell(rec[key], source, lines[r], key, lineKind);
    }
    rows.push(row);
  }
  return { source, columns, rows, lines: lines.slice(), lineKind };
}

/** Reads a JSON file holding an array of records into a Table. */
export function tableFromJsonFile(path: string): Table {
  const text = readTextFile(path, 'JSON');
  let data: unknown;
  try {
    data = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (e) {
    throw new UserError(`${path}: not valid JSON (${(e as Error).message})`);
  }
  return tableFromRecords(path, data as object[]);
}

