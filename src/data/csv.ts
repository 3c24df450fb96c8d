/**
 * A small RFC 4180 CSV parser.
 *
 * - Fields are separated by commas; records by LF, CRLF or a lone CR.
 * - A field that starts with `"` (leading spaces allowed) is quoted: it may hold
 *   commas, line breaks and doubled quotes (`""` → `"`). Spaces after the closing
 *   quote are ignored; any other character there is an error.
 * - A `"` inside an unquoted field is kept literally (as Python's csv does).
 * - A UTF-8 byte-order mark is stripped; a trailing line break is fine.
 * - Blank lines (empty or only spaces/tabs, outside quotes) are skipped.
 * - The first record is the header. Every later record must have as many fields
 *   as the header.
 *
 * Line numbers are 1-based physical lines (a quoted field spanning lines counts
 * every line), and a record's line is the line it starts on.
 */
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { UserError } from '../util/errors.js';
import { withPath } from '../util/os-error.js';

export interface CsvData {
  /** The name used in messages (the path as given). */
  source: string;
  /** Column names from the header line, trimmed. */
  header: string[];
  /** Data records (not trimmed; exactly header.length fields each). */
  rows: string[][];
  /** 1-based line on which each record starts (parallel to `rows`). */
  lines: number[];
  /** Line of the header. */
  headerLine: number;
}

/** Reads a file's bytes; a UserError naming the file when it cannot. */
export function readFileBytes(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'no such file' : err.code === 'EISDIR' ? 'it is a directory' : err.message;
    throw new UserError(`cannot read ${what} file ${path}: ${why}`);
  }
}

/** Reads a UTF-8 text file, as a UserError naming the file when it cannot. */
export function readTextFile(path: string, what: string): string {
  const bytes = readFileBytes(path, what);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new UserError(`${path}: not valid UTF-8 text (expected a UTF-8 ${what} file; re-save it as UTF-8)`);
  }
}

const QUOTE = 0x22;
const COMMA = 0x2c;
const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const TAB = 0x09;

/** Records found in a piece of CSV text, and where the unfinished rest begins. */
interface RecordScan {
  records: string[][];
  lines: number[];
  /** index in the text where the first record not returned starts (the text's length when `final`) */
  consumed: number;
  /** physical line at `consumed` */
  line: number;
}

/** Thrown inside scanRecords when a record runs past the end of a non-final piece of text. */
const INCOMPLETE = Symbol('incomplete record');

/**
 * Scans complete records from `text`, whose first character is on `firstLine`.
 * Unless `final`, a record that reaches the end of the text is left for the next
 * piece (it may continue there): the caller keeps text[consumed..] and appends.
 */
function scanRecords(text: string, source: string, firstLine: number, final: boolean): RecordScan {
  const n = text.length;
  const records: string[][] = [];
  const lines: number[] = [];
  const more = () => {
    if (!final) throw INCOMPLETE;
  };

  let line = firstLine; // current physical line
  let i = 0;
  while (i < n) {
    // One record per iteration, starting at i on `line`.
    const startLine = line;
    const recordStart = i;
    const fields: string[] = [];
    let blank = true; // only spaces/tabs so far, no quotes, no commas
    let endOfRecord = false;
    try {
      while (!endOfRecord) {
        // One field.
        let field = '';
        let j = i;
        while (j < n && (text.charCodeAt(j) === SPACE || text.charCodeAt(j) === TAB)) j++;
        if (j < n && text.charCodeAt(j) === QUOTE) {
          // Quoted field: leading spaces dropped.
          blank = false;
          const openLine = line;
          j++;
          let chunkStart = j;
          for (;;) {
            if (j >= n) {
              more();
              throw new UserError(
                `${source} line ${openLine}: unterminated quoted field (a field opened with " is never closed; ` +
                `double a quote inside a quoted field as "")`);
            }
            const c = text.charCodeAt(j);
            if (c === QUOTE) {
              if (j + 1 >= n) more(); // a doubled quote may straddle pieces
              if (j + 1 < n && text.charCodeAt(j + 1) === QUOTE) {
                field += text.slice(chunkStart, j + 1);
                j += 2;
                chunkStart = j;
                continue;
              }
              field += text.slice(chunkStart, j);
              j++;
              break;
            }
            if (c === LF) line++;
            else if (c === CR) {
              line++;
              if (j + 1 < n && text.charCodeAt(j + 1) === LF) j++;
            }
            j++;
          }
          // After the closing quote: optional spaces, then a comma, a line break or the end.
          while (j < n && (text.charCodeAt(j) === SPACE || text.charCodeAt(j) === TAB)) j++;
          if (j < n) {
            const c = text.charCodeAt(j);
            if (c !== COMMA && c !== LF && c !== CR) {
              throw new UserError(
                `${source} line ${line}: unexpected character ${JSON.stringify(text[j])} after a closing quote ` +
                `(expected a comma or the end of the line; write a quote inside a quoted field as "")`);
            }
          }
        } else {
          // Unquoted field: up to the next comma or line break, kept as is.
          let k = i;
          while (k < n) {
            const c = text.charCodeAt(k);
            if (c === COMMA || c === LF || c === CR) break;
            k++;
          }
          field = text.slice(i, k);
          if (k > j) blank = false;
          j = k;
        }
        fields.push(field);
        // j is at a comma, a line break, or the end.
        if (j >= n) {
          more();
          endOfRecord = true;
          i = n;
        } else {
          const c = text.charCodeAt(j);
          if (c === COMMA) {
            blank = false;
            i = j + 1;
            if (i >= n) { more(); fields.push(''); endOfRecord = true; } // "a,b," at end of file
          } else {
            // line break
            i = j + 1;
            if (c === CR && i >= n) more(); // its LF may start the next piece
            if (c === CR && i < n && text.charCodeAt(i) === LF) i++;
            line++;
            endOfRecord = true;
          }
        }
      }
    } catch (e) {
      if (e !== INCOMPLETE) throw e;
      return { records, lines, consumed: recordStart, line: startLine };
    }
    if (blank) continue;
    records.push(fields);
    lines.push(startLine);
  }
  return { records, lines, consumed: n, line };
}

/** Parses CSV text. `source` names the file in error messages. */
export function parseCsv(text: string, source: string): CsvData {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const { records, lines } = scanRecords(text, source, 1, true);
  return toCsvData(records, lines, source);
}

/**
 * Reads a UTF-8 CSV file in pieces, so the whole file never has to be one
 * string: complete records are parsed as the bytes arrive, and a record cut by
 * a piece boundary is finished with the next piece.
 */
export function readCsv(path: string, pieceBytes = 4 << 20): CsvData {
  const records: string[][] = [];
  const lines: number[] = [];
  scanCsvFile(path, pieceBytes, (piece, pieceLines) => {
    for (let r = 0; r < piece.length; r++) {
      records.push(piece[r]);
      lines.push(pieceLines[r]);
    }
  });
  return toCsvData(records, lines, path);
}

/**
 * Reads a CSV file's records piece by piece: `onRecords` gets each piece's
 * complete records (the header first) and the line each starts on, and may
 * keep what it needs of them; the rest is garbage once it returns.
 */
export function scanCsvFile(path: string, pieceBytes: number, onRecords: (records: string[][], lines: number[]) => void): void {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    readFileBytes(path, 'CSV'); // the same clear message as every other reader
    throw new UserError(`cannot read CSV file ${path}`);
  }
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let buffer = Buffer.alloc(pieceBytes);
  let carry = '';
  let line = 1;
  let first = true;
  try {
    for (;;) {
      // a record longer than a piece is scanned again with each piece: pieces grow with it (linear, not quadratic)
      if (carry.length > buffer.length) buffer = Buffer.alloc(Math.min(carry.length, 1 << 30));
      const read = withPath(path, 'read', () => readSync(fd, buffer, 0, buffer.length, null));
      const final = read === 0;
      let piece: string;
      try {
        piece = decoder.decode(buffer.subarray(0, read), { stream: !final });
      } catch {
        throw new UserError(`${path}: not valid UTF-8 text (expected a UTF-8 CSV file; re-save it as UTF-8)`);
      }
      let text = carry + piece;
      if (first && text.length > 0) {
        if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
        first = false;
      }
      const scan = scanRecords(text, path, line, final);
      onRecords(scan.records, scan.lines);
      carry = text.slice(scan.consumed);
      line = scan.line;
      if (final) break;
    }
  } finally {
    closeSync(fd);
  }
}

/** The header's checks (names present and unique); returns the trimmed names. */
export function checkHeader(fields: string[], headerLine: number, source: string): string[] {
  const header = fields.map((h) => h.trim());
  const seen = new Map<string, number>();
  header.forEach((name, c) => {
    if (name === '') {
      throw new UserError(
        `${source} line ${headerLine}: column ${c + 1} of the header has no name (every column needs a name)`);
    }
    const prev = seen.get(name);
    if (prev !== undefined) {
      throw new UserError(
        `${source} line ${headerLine}: column name "${name}" appears twice (columns ${prev + 1} and ${c + 1}; names must be unique)`);
    }
    seen.set(name, c);
  });
  return header;
}

/** The message for a record of `fields` fields under `header`. */
export function widthMessage(source: string, line: number, fields: number, header: string[]): string {
  return `${source} line ${line}: ${fields} field${fields === 1 ? '' : 's'}, expected ${header.length} ` +
    `(as in the header: ${header.map((h) => JSON.stringify(h)).join(', ')}); quote a field that contains a comma`;
}

/** The message for a file without a header. */
export const emptyMessage = (source: string) => `${source}: the file is empty (expected a header line naming the columns)`;

/** Header checks and the row-width rule, on the records of a whole file. */
function toCsvData(records: string[][], lines: number[], source: string): CsvData {
  if (records.length === 0) throw new UserError(emptyMessage(source));
  const headerLine = lines[0];
  const header = checkHeader(records[0], headerLine, source);
  const rows = records.slice(1);
  const rowLines = lines.slice(1);
  for (let r = 0; r < rows.length; r++) {
    if (rows[r].length !== header.length) throw new UserError(widthMessage(source, rowLines[r], rows[r].length, header));
  }
  return { source, header, rows, lines: rowLines, headerLine };
}
