/**
 * JSON Lines (`.jsonl`, `.ndjson`): one JSON object per line, e.g.
 *
 *     {"species": "Adelie", "beak": 39.1, "sex": "MALE"}
 *     {"species": "Gentoo", "beak": 47.5}
 *
 * - Lines end with LF or CRLF; blank lines (only spaces/tabs) are skipped; a UTF-8
 *   byte-order mark is stripped.
 * - Each other line must hold one JSON object; its values are numbers, strings,
 *   booleans (kept as "true"/"false" strings) or null (missing), as in `.json` records.
 * - Columns are the union of the objects' keys in order of first appearance; a key a
 *   line lacks is a missing value.
 * - Errors name the file and the 1-based physical line.
 *
 * The file is read at once and decoded line by line (no one giant string), which is
 * fine up to a few hundred MB; the Table holds every row anyway.
 */
import { UserError } from '../util/errors.js';
import { readFileBytes } from './csv.js';
import { type Cell, type Table, describe, rowsTable, valueCell } from './table.js';

const LF = 0x0a;
const CR = 0x0d;

/** Reads a JSON Lines file into a Table (lineKind 'line'). */
export function tableFromJsonl(path: string): Table {
  return parseJsonl(readFileBytes(path, 'JSON Lines'), path);
}

/** Parses JSON Lines bytes (or text); `source` names the file in messages. */
export function parseJsonl(input: Uint8Array | string, source: string): Table {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const columns: string[] = [];
  const index = new Map<string, number>();
  const rows: Cell[][] = [];
  const lines: number[] = [];

  let start = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  let line = 0;
  while (start < bytes.length) {
    line++;
    let end = bytes.indexOf(LF, start);
    const next = end < 0 ? bytes.length : end + 1;
    if (end < 0) end = bytes.length;
    if (end > start && bytes[end - 1] === CR) end--;
    const at = start;
    start = next;
    if (isBlank(bytes, at, end)) continue;

    let text: string;
    try {
      text = decoder.decode(bytes.subarray(at, end));
    } catch {
      throw new UserError(`${source} line ${line}: not valid UTF-8 text (re-save the file as UTF-8)`);
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      throw new UserError(`${source} line ${line}: not valid JSON (${(e as Error).message}): ${preview(text)}`);
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new UserError(
        `${source} line ${line}: expected a JSON object of column: value (one record per line), got ${describe(value)}`);
    }
    const rec = value as Record<string, unknown>;
    const keys = Object.keys(rec);
    for (const key of keys) {
      if (!index.has(key)) {
        index.set(key, columns.length);
        columns.push(key);
      }
    }
    const row: Cell[] = new Array(columns.length).fill(null);
    for (const key of keys) row[index.get(key)!] = valueCell(rec[key], source, line, key, 'line');
    rows.push(row);
    lines.push(line);
  }
  // rows read before a new key appeared are shorter: the key is missing there
  for (const row of rows) while (row.length < columns.length) row.push(null);
  return rowsTable(source, columns, rows, lines, 'line');
}

function isBlank(bytes: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = bytes[i];
    if (c !== 0x20 && c !== 0x09 && c !== CR) return false;
  }
  return true;
}

function preview(text: string): string {
  return JSON.stringify(text.length > 60 ? text.slice(0, 60) + '…' : text);
}
