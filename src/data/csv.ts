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
 *
 * The scanner works on the UTF-8 bytes (every character it looks for is ASCII,
 * which never occurs inside a multi-byte character) and hands over each record
 * as byte ranges, so a reader can keep fields without making strings of them
 * (tableFromCsv, table.ts); parseCsv and readCsv decode every field.
 */
import { isUtf8 } from 'node:buffer';
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

/** A record longer than this is refused (a quote left open would otherwise read the rest of the file as one field). */
export const MAX_RECORD_BYTES = 1 << 30;

/**
 * A complete record as byte ranges of `bytes`, valid only during the call that
 * gets it: field f is bytes[starts[f], ends[f]), an unquoted field as written
 * (untrimmed), a quoted one without its quotes and with `""` made `"`.
 */
export interface CsvRecord {
  bytes: Buffer;
  starts: Int32Array;
  ends: Int32Array;
  count: number;
  /** the 1-based line the record starts on */
  line: number;
  /**
   * Field f's bytes, to keep after the call without a copy: the scanner reads
   * on into a new piece. For a field that fills most of its piece (one huge
   * field is then in memory once, not twice).
   */
  keep(f: number): Buffer;
}

/**
 * Finds the records of UTF-8 CSV bytes and hands each complete, non-blank one
 * to `onRecord` as byte ranges: no string is made of a field.
 */
class RecordScanner {
  private readonly record: CsvRecord = {
    bytes: Buffer.alloc(0), starts: new Int32Array(16), ends: new Int32Array(16), count: 0, line: 0,
    keep: (f) => {
      this.kept = true;
      return this.record.bytes.subarray(this.record.starts[f], this.record.ends[f]);
    },
  };
  /** whether a field of the piece has been kept: the piece must not be read into again */
  kept = false;
  /** per field of the record: 1 when it holds doubled quotes to undo */
  private escaped = new Uint8Array(16);

  constructor(private readonly source: string, private readonly onRecord: (record: CsvRecord) => void) {}

  /**
   * Scans the records of b[from, to), whose first byte is on `firstLine`. Unless
   * `final`, a record that reaches `to` is left for the next call (it may go on
   * there): returns where it starts (the caller keeps b[consumed..] and appends)
   * and its line.
   */
  scan(b: Buffer, from: number, to: number, firstLine: number, final: boolean): { consumed: number; line: number } {
    const n = to;
    let line = firstLine; // current physical line
    let i = from;
    while (i < n) {
      // One record per iteration, starting at i on `line`.
      // where this record starts (returned when the piece ends inside it); two numbers, no object per record
      const recordStart = i;
      const recordLine = line;
      this.record.count = 0;
      let blank = true; // only spaces/tabs so far, no quotes, no commas
      let endOfRecord = false;
      while (!endOfRecord) {
        // One field.
        let j = i;
        let start: number;
        let end: number;
        let escaped = false;
        while (j < n && (b[j] === SPACE || b[j] === TAB)) j++;
        if (j < n && b[j] === QUOTE) {
          // Quoted field: leading spaces dropped.
          blank = false;
          const openLine = line;
          start = ++j;
          for (;;) {
            if (j >= n) {
              if (!final) return { consumed: recordStart, line: recordLine };
              throw new UserError(
                `${this.source} line ${openLine}: unterminated quoted field (a field opened with " is never closed; ` +
                `double a quote inside a quoted field as "")`);
            }
            const c = b[j];
            if (c === QUOTE) {
              if (j + 1 >= n && !final) return { consumed: recordStart, line: recordLine }; // a doubled quote may straddle pieces
              if (j + 1 < n && b[j + 1] === QUOTE) {
                escaped = true;
                j += 2;
                continue;
              }
              end = j++;
              break;
            }
            if (c === LF) line++;
            else if (c === CR) {
              line++;
              if (j + 1 < n && b[j + 1] === LF) j++;
            }
            j++;
          }
          // After the closing quote: optional spaces, then a comma, a line break or the end.
          while (j < n && (b[j] === SPACE || b[j] === TAB)) j++;
          if (j < n && b[j] !== COMMA && b[j] !== LF && b[j] !== CR) {
            throw new UserError(
              `${this.source} line ${line}: unexpected character ${JSON.stringify(charAt(b, j))} after a closing quote ` +
              `(expected a comma or the end of the line; write a quote inside a quoted field as "")`);
          }
        } else {
          // Unquoted field: up to the next comma or line break, kept as is.
          let k = i;
          while (k < n && b[k] !== COMMA && b[k] !== LF && b[k] !== CR) k++;
          start = i;
          end = k;
          if (k > j) blank = false;
          j = k;
        }
        this.addField(start, end, escaped);
        // j is at a comma, a line break, or the end.
        if (j >= n) {
          if (!final) return { consumed: recordStart, line: recordLine };
          endOfRecord = true;
          i = n;
        } else if (b[j] === COMMA) {
          blank = false;
          i = j + 1;
          if (i >= n) { // "a,b," at the end of the file
            if (!final) return { consumed: recordStart, line: recordLine };
            this.addField(i, i, false);
            endOfRecord = true;
          }
        } else {
          // line break
          const cr = b[j] === CR;
          i = j + 1;
          if (cr && i >= n && !final) return { consumed: recordStart, line: recordLine }; // its LF may start the next piece
          if (cr && i < n && b[i] === LF) i++;
          line++;
          endOfRecord = true;
        }
      }
      if (!blank) this.emit(b, recordLine);
    }
    return { consumed: i, line };
  }

  private addField(start: number, end: number, escaped: boolean): void {
    const rec = this.record;
    if (rec.count === rec.starts.length) {
      const grow = <T extends Int32Array | Uint8Array>(a: T): T => {
        const more = new (a.constructor as new (n: number) => T)(a.length * 2);
        more.set(a);
        return more;
      };
      rec.starts = grow(rec.starts);
      rec.ends = grow(rec.ends);
      this.escaped = grow(this.escaped);
    }
    rec.starts[rec.count] = start;
    rec.ends[rec.count] = end;
    this.escaped[rec.count++] = escaped ? 1 : 0;
  }

  /** Undoes doubled quotes in place (the record is complete: never scanned again) and hands the record over. */
  private emit(b: Buffer, line: number): void {
    const rec = this.record;
    for (let f = 0; f < rec.count; f++) {
      if (!this.escaped[f]) continue;
      let w = rec.starts[f];
      for (let r = w; r < rec.ends[f]; r++) {
        b[w++] = b[r];
        if (b[r] === QUOTE) r++; // inside quotes every quote is the first of a pair
      }
      rec.ends[f] = w;
    }
    rec.bytes = b;
    rec.line = line;
    this.onRecord(rec);
  }
}

/** The character at b[i] as a JS string's char at its index: its first UTF-16 unit. */
function charAt(b: Buffer, i: number): string {
  const c = b[i];
  const len = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
  return b.toString('utf8', i, Math.min(i + len, b.length))[0];
}

/** The end of the last whole UTF-8 character in b[from, to): `to`, or where a character cut at `to` starts. */
function charBoundary(b: Uint8Array, from: number, to: number): number {
  for (let k = to - 1; k >= from && k >= to - 4; k--) {
    const c = b[k];
    if ((c & 0xc0) === 0x80) continue; // a continuation byte
    const len = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
    return k + len <= to ? to : k;
  }
  return to; // no character starts there: not UTF-8, which the check says
}

const hasBom = (b: Uint8Array, end: number) => end >= 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf;
const notUtf8 = (path: string) => `${path}: not valid UTF-8 text (expected a UTF-8 CSV file; re-save it as UTF-8)`;

/** Decodes each record's fields: the records of a whole (small) file as strings. */
function collectRecords() {
  const records: string[][] = [];
  const lines: number[] = [];
  const onRecord = ({ bytes, starts, ends, count, line }: CsvRecord) => {
    const fields = new Array<string>(count);
    for (let f = 0; f < count; f++) fields[f] = bytes.toString('utf8', starts[f], ends[f]);
    records.push(fields);
    lines.push(line);
  };
  return { records, lines, onRecord };
}

/** Parses CSV text. `source` names the file in error messages. */
export function parseCsv(text: string, source: string): CsvData {
  const { records, lines, onRecord } = collectRecords();
  const bytes = Buffer.from(text, 'utf8');
  new RecordScanner(source, onRecord).scan(bytes, hasBom(bytes, bytes.length) ? 3 : 0, bytes.length, 1, true);
  return toCsvData(records, lines, source);
}

/** Reads a UTF-8 CSV file in pieces (scanCsvFile), every field as a string. */
export function readCsv(path: string, pieceBytes = 4 << 20): CsvData {
  const { records, lines, onRecord } = collectRecords();
  scanCsvFile(path, pieceBytes, onRecord);
  return toCsvData(records, lines, path);
}

/**
 * Reads a UTF-8 CSV file in pieces of bytes, so the file is never one string:
 * `onRecord` gets each complete record (the header first) as byte ranges of the
 * piece, to keep what it needs of during the call. A record cut by a piece's
 * end is scanned again with the next piece; the piece grows with a long record
 * (each byte scanned a few times, not once per piece), up to `maxRecordBytes`.
 */
export function scanCsvFile(path: string, pieceBytes: number, onRecord: (record: CsvRecord) => void, maxRecordBytes = MAX_RECORD_BYTES): void {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    readFileBytes(path, 'CSV'); // the same clear message as every other reader
    throw new UserError(`cannot read CSV file ${path}`);
  }
  const scanner = new RecordScanner(path, onRecord);
  let buffer = Buffer.allocUnsafe(pieceBytes);
  let filled = 0; // bytes kept from the last piece: the unfinished record
  let checked = 0; // buffer[0, checked) is valid UTF-8 of whole characters
  let from = -1; // where scanning starts: after a BOM; -1 until the first 3 bytes are read
  let line = 1;
  try {
    for (;;) {
      if (filled > buffer.length >> 1) {
        if (filled >= maxRecordBytes) {
          throw new UserError(
            `${path} line ${line}: a record of more than ${sizeText(maxRecordBytes)}, the most one CSV record may hold ` +
            '(is a quote left open?)');
        }
        const bigger = Buffer.allocUnsafe(Math.min(buffer.length * 2, maxRecordBytes));
        buffer.copy(bigger, 0, 0, filled);
        buffer = bigger;
      }
      const read = withPath(path, 'read', () => readSync(fd, buffer, filled, buffer.length - filled, null));
      const final = read === 0;
      const end = filled + read;
      const whole = final ? end : charBoundary(buffer, checked, end);
      if (!isUtf8(buffer.subarray(checked, whole))) throw new UserError(notUtf8(path));
      checked = whole;
      if (from < 0) {
        if (end < 3 && !final) {
          filled = end;
          continue;
        }
        from = hasBom(buffer, end) ? 3 : 0;
      }
      const scan = scanner.scan(buffer, from, whole, line, final);
      if (final) return;
      filled = end - scan.consumed;
      if (scanner.kept) {
        const fresh = Buffer.allocUnsafe(Math.max(pieceBytes, 2 * filled));
        buffer.copy(fresh, 0, scan.consumed, end);
        buffer = fresh;
        scanner.kept = false;
      } else {
        buffer.copyWithin(0, scan.consumed, end);
      }
      checked -= scan.consumed;
      line = scan.line;
      from = 0;
    }
  } finally {
    closeSync(fd);
  }
}

/** `1 GiB`, `64 KiB`, `100 bytes`. */
function sizeText(bytes: number): string {
  for (const [unit, size] of [['GiB', 2 ** 30], ['MiB', 2 ** 20], ['KiB', 2 ** 10]] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size} ${unit}`;
  }
  return `${bytes} bytes`;
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
