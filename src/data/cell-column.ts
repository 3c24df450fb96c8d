/**
 * A column of a table's cells, stored as it is read (CSV), straight from the
 * field's bytes. While every cell is a number that reads back as the same text
 * (String(n), or toFixed with the decimals written) or missing, the column is
 * float64s (and a byte for the decimals where needed): 8 bytes a cell instead
 * of a JS string. At its first other text it becomes a column of text ids
 * (4 bytes a cell) over the column's texts as UTF-8 bytes (text-levels.ts).
 * `get` returns exactly the cell stringCell would have made of the text.
 */
import { type Cell, parseNumber, stringCell } from '../model/cells.js';
import { LONGEST_NUMBER, PLAIN, isMissingBytes, plain, plainNumber, trimEnd, trimStart } from './field-bytes.js';
import { TextLevels } from './text-levels.js';

const MISSING = -1;
/** cells per chunk: columns grow by chunks, never by copying (no garbage arrays while a file is read) */
const CHUNK_BITS = 14;
const CHUNK = 1 << CHUNK_BITS;
const LOW = CHUNK - 1;

/** How `cell`, the text of the number n, is written: PLAIN, a count of decimals (as toFixed), or undefined (neither). */
function writtenAs(n: number, cell: string): number | undefined {
  if (String(n) === cell) return PLAIN;
  const dot = cell.indexOf('.');
  const decimals = dot < 0 ? 0 : cell.length - dot - 1;
  return decimals <= 100 && n.toFixed(decimals) === cell ? decimals : undefined;
}

export class CellColumn {
  /** numbers mode, per chunk: the number, NaN when missing */
  private numbers: Float64Array[] | null = [];
  /** numbers mode, per chunk and cell: PLAIN or toFixed's decimals ("3.50": 2); null while every number is PLAIN */
  private decimals: Uint8Array[] | null = null;
  /** text mode, per chunk and cell: the id of its text, or MISSING */
  private codes: Int32Array[] | null = null;
  private readonly texts = new TextLevels();
  length = 0;

  /** Appends a raw text field (trimmed; a missing token is a missing cell). */
  push(field: string): void {
    const cell = stringCell(field) as string | null; // a text field is never a number
    if (cell === null) this.pushMissing();
    else if (!this.numbers || !this.pushNumberText(cell)) this.pushText(Buffer.from(cell, 'utf8'));
  }

  /**
   * Appends the raw field b[start, end) (UTF-8), as push would the decoded text,
   * without decoding it. `kept`: b is the caller's no longer (its bytes may be
   * kept without a copy).
   */
  pushBytes(b: Uint8Array, start: number, end: number, kept = false): void {
    start = trimStart(b, start, end);
    end = trimEnd(b, start, end);
    if (isMissingBytes(b, start, end)) return this.pushMissing();
    if (this.numbers) {
      if (plainNumber(b, start, end)) return this.pushNumber(plain.value, plain.written);
      // other ways of writing a number ("1e5", "+3") are rare: read them as text
      if (end - start <= LONGEST_NUMBER && this.pushNumberText(Buffer.from(b.buffer, b.byteOffset + start, end - start).toString('utf8'))) return;
    }
    this.pushText(b, start, end, kept);
  }

  /**
   * The cell of row r as parseNumber would read it: the number, undefined for
   * text that is not one, null when missing (no string made on the way).
   */
  number(r: number): number | null | undefined {
    const k = r >> CHUNK_BITS;
    const i = r & LOW;
    if (this.numbers) {
      const n = this.numbers[k][i];
      return Number.isNaN(n) ? null : n;
    }
    const code = this.codes![k][i];
    return code === MISSING ? null : parseNumber(this.texts.text(code));
  }

  /** The cell of row r. */
  get(r: number): Cell {
    const k = r >> CHUNK_BITS;
    const i = r & LOW;
    if (this.numbers) {
      const n = this.numbers[k][i];
      if (Number.isNaN(n)) return null;
      const written = this.decimals ? this.decimals[k][i] : PLAIN;
      return written === PLAIN ? String(n) : n.toFixed(written);
    }
    const code = this.codes![k][i];
    return code === MISSING ? null : this.texts.text(code);
  }

  private pushMissing(): void {
    if (this.numbers) this.pushNumber(NaN, PLAIN);
    else this.pushCode(MISSING);
  }

  /** In numbers mode: stores `cell` (trimmed, not missing) if it is a number written back as it is; false if not. */
  private pushNumberText(cell: string): boolean {
    const n = parseNumber(cell);
    const written = n === undefined ? undefined : writtenAs(n, cell);
    if (written === undefined) return false;
    this.pushNumber(n!, written);
    return true;
  }

  private pushNumber(n: number, written: number): void {
    const r = this.length++;
    const k = r >> CHUNK_BITS;
    const i = r & LOW;
    const numbers = this.numbers!;
    if (i === 0) {
      numbers.push(new Float64Array(CHUNK));
      this.decimals?.push(new Uint8Array(CHUNK).fill(PLAIN));
    }
    numbers[k][i] = n;
    if (written !== PLAIN) {
      this.decimals ??= numbers.map(() => new Uint8Array(CHUNK).fill(PLAIN));
      this.decimals[k][i] = written;
    }
  }

  /** Appends the text b[start, end) (trimmed, not missing), leaving numbers mode first if the column is in it. */
  private pushText(b: Uint8Array, start = 0, end = b.length, kept = false): void {
    if (this.numbers) this.toText();
    this.pushCode(this.texts.add(b, start, end, kept));
  }

  private pushCode(code: number): void {
    const r = this.length++;
    if ((r & LOW) === 0) this.codes!.push(new Int32Array(CHUNK));
    this.codes![r >> CHUNK_BITS][r & LOW] = code;
  }

  /** From numbers to text ids: every cell so far as its text. */
  private toText(): void {
    const codes: Int32Array[] = [];
    for (let r = 0; r < this.length; r++) {
      if ((r & LOW) === 0) codes.push(new Int32Array(CHUNK));
      const cell = this.get(r) as string | null;
      const bytes = cell === null ? null : Buffer.from(cell, 'utf8');
      codes[r >> CHUNK_BITS][r & LOW] = bytes === null ? MISSING : this.texts.add(bytes, 0, bytes.length);
    }
    this.codes = codes;
    this.numbers = null;
    this.decimals = null;
  }
}
