/**
 * A Table: named columns of raw cells (string, number or missing) read from a CSV
 * file or from JSON records, with where each row came from for error messages.
 * No typing happens here; dataset-from-table.ts decides what each column means. Reading a file
 * by its extension (CSV, JSON or JSON Lines) is load-table.ts.
 */
import { type Cell, describe, isMissingToken, MISSING_TOKENS, valueCell } from '../model/cells.js';
import { UserError } from '../util/errors.js';
import { CellColumn } from './cell-column.js';
import { checkHeader, emptyMessage, readTextFile, scanCsvFile, widthMessage } from './csv.js';

// raw values are read as a Model reads the records it predicts on (model/cells.ts)
export { type Cell, describe, isMissingToken, MISSING_TOKENS, valueCell };

export interface Table {
  /** File name (or other source name) used in messages. */
  source: string;
  columns: string[];
  /** Number of data rows. */
  rowCount: number;
  /** The cell of row r, column c. */
  cell(r: number, c: number): Cell;
  /** Optional fast path: parseNumber(cell(r, c)), or null when the cell is missing. */
  number?(r: number, c: number): number | null | undefined;
  /** Where each row came from: its 1-based line (CSV) or 1-based record number (JSON). */
  lines: ArrayLike<number>;
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

/** A Table over rows of cells (JSON records, arrays, small inputs). */
export function rowsTable(source: string, columns: string[], rows: Cell[][], lines: ArrayLike<number>, lineKind: Table['lineKind']): Table {
  return { source, columns, rowCount: rows.length, cell: (r, c) => rows[r][c], lines, lineKind };
}

/** A table's rows as arrays of cells (for small tables and tests; a big CSV is better read by cell). */
export function tableRows(table: Table): Cell[][] {
  return Array.from({ length: table.rowCount }, (_, r) => table.columns.map((_, c) => table.cell(r, c)));
}

/**
 * Reads a CSV file into a Table; cells are trimmed strings, missing tokens become
 * null. Each piece of the file goes straight into typed columns (cell-column.ts),
 * so peak memory stays a small multiple of the file's size.
 */
export function tableFromCsv(path: string, pieceBytes = 1 << 16): Table {
  let headerFields: string[] | undefined;
  let headerLine = 0;
  let columns: CellColumn[] = [];
  let lines = new Int32Array(1024);
  let rows = 0;
  let badWidth: { line: number; fields: number } | undefined; // the first row of the wrong width, reported at the end
  scanCsvFile(path, pieceBytes, ({ bytes, starts, ends, count, line, keep }) => {
    if (!headerFields) {
      headerFields = Array.from({ length: count }, (_, f) => bytes.toString('utf8', starts[f], ends[f]));
      headerLine = line;
      columns = headerFields.map(() => new CellColumn());
      return;
    }
    if (count !== columns.length) badWidth ??= { line, fields: count };
    if (badWidth) return;
    if (rows === lines.length) {
      const more = new Int32Array(lines.length * 2);
      more.set(lines);
      lines = more;
    }
    lines[rows++] = line;
    for (let c = 0; c < count; c++) {
      if (ends[c] - starts[c] > bytes.length >> 1) {
        const own = keep(c); // most of the piece: kept where it was read, not copied
        columns[c].pushBytes(own, 0, own.length, true);
      } else {
        columns[c].pushBytes(bytes, starts[c], ends[c]);
      }
    }
  });
  if (!headerFields) throw new UserError(emptyMessage(path));
  const header = checkHeader(headerFields, headerLine, path);
  if (badWidth) throw new UserError(widthMessage(path, badWidth.line, badWidth.fields, header));
  return {
    source: path, columns: header, rowCount: rows, lines: lines.subarray(0, rows), lineKind: 'line',
    cell: (r, c) => columns[c].get(r), number: (r, c) => columns[c].number(r),
  };
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
  return rowsTable(source, columns, rows, lines.slice(), lineKind);
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

