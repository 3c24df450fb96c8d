/**
 * A column of a table's cells, stored as it is read (CSV), straight from the
 * field's bytes, in the narrowest of three forms that gives every cell back:
 * - digits: while every cell is a number written as toFixed writes it, with
 *   digits that fit an int32 ("-12.3450": -123450 and 4 decimals), or missing:
 *   4 bytes a cell (and a byte for the decimals once one has any);
 * - numbers: while every cell is a number that reads back as the same text
 *   (String(n), or toFixed with the decimals written), or missing: a float64
 *   (and a byte for how it is written, where needed);
 * - texts, from the first other cell on: a text id a cell (4 bytes) over the
 *   column's texts as UTF-8 bytes (text-levels.ts).
 * `get` returns exactly the cell stringCell would have made of the text.
 */
import { type Cell, parseNumber } from '../model/cells.js';
import { LONGEST_NUMBER, PLAIN, POW10, isMissingBytes, plain, plainNumber, trimEnd, trimStart, writtenBack } from './field-bytes.js';
import { TextLevels } from './text-levels.js';

/** a missing cell: among text ids, and among digits (where it is no number's) */
const MISSING = -1;
const NO_DIGITS = -(2 ** 31);
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

/** Appends a chunk to `chunks` (and to `extra`, when there) when row r starts one. */
function chunkFor<T, U>(r: number, chunks: T[], make: () => T, extra: U[] | null, makeExtra: () => U): void {
  if ((r & LOW) !== 0) return;
  chunks.push(make());
  extra?.push(makeExtra());
}

const plainBytes = () => new Uint8Array(CHUNK).fill(PLAIN);
const zeroBytes = () => new Uint8Array(CHUNK);

export class CellColumn {
  /** digits form, per chunk: the digits, NO_DIGITS when missing */
  private digits: Int32Array[] | null = [];
  /** digits form, per chunk and cell: the count of decimals; null while every number is an integer */
  private scales: Uint8Array[] | null = null;
  /** numbers form, per chunk: the number, NaN when missing */
  private numbers: Float64Array[] | null = null;
  /** numbers form, per chunk and cell: PLAIN or toFixed's decimals ("3.50": 2); null while every number is PLAIN */
  private decimals: Uint8Array[] | null = null;
  /** texts form, per chunk and cell: the id of its text, or MISSING */
  private codes: Int32Array[] | null = null;
  private readonly texts = new TextLevels();
  length = 0;

  /**
   * Appends the raw field b[start, end) (UTF-8) as stringCell would read the
   * decoded text, without decoding it. `kept`: b is the caller's no longer (its
   * bytes may be kept without a copy).
   */
  pushBytes(b: Uint8Array, start: number, end: number, kept = false): void {
    start = trimStart(b, start, end);
    end = trimEnd(b, start, end);
    if (isMissingBytes(b, start, end)) return this.pushMissing();
    const simple = (this.digits || this.numbers) && plainNumber(b, start, end);
    if (this.digits) {
      if (simple && plain.digits > NO_DIGITS && plain.digits < -NO_DIGITS) return this.pushDigits(plain.digits, plain.decimals);
      this.toNumbers();
    }
    if (this.numbers) {
      if (simple) return this.pushNumber(plain.value, plain.written);
      // other ways of writing a number ("1e5", "+3") are rare: read them from the text
      if (end - start <= LONGEST_NUMBER && this.pushNumberText(Buffer.from(b.buffer, b.byteOffset + start, end - start).toString('utf8'))) return;
      this.toTexts();
    }
    this.pushCode(this.texts.add(b, start, end, kept));
  }

  /**
   * The cell of row r as parseNumber would read it: the number, undefined for
   * text that is not one, null when missing (no string made on the way).
   */
  number(r: number): number | null | undefined {
    const k = r >> CHUNK_BITS;
    const i = r & LOW;
    if (this.digits) {
      const m = this.digits[k][i];
      return m === NO_DIGITS ? null : m / POW10[this.scales ? this.scales[k][i] : 0];
    }
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
    let n: number;
    let written: number;
    if (this.digits) {
      const m = this.digits[k][i];
      if (m === NO_DIGITS) return null;
      const scale = this.scales ? this.scales[k][i] : 0;
      n = m / POW10[scale];
      written = writtenBack(m, scale, n);
    } else if (this.numbers) {
      n = this.numbers[k][i];
      if (Number.isNaN(n)) return null;
      written = this.decimals ? this.decimals[k][i] : PLAIN;
    } else {
      const code = this.codes![k][i];
      return code === MISSING ? null : this.texts.text(code);
    }
    return written === PLAIN ? String(n) : n.toFixed(written);
  }

  private pushMissing(): void {
    if (this.digits) this.pushDigits(NO_DIGITS, 0);
    else if (this.numbers) this.pushNumber(NaN, PLAIN);
    else this.pushCode(MISSING);
  }

  private pushDigits(m: number, scale: number): void {
    const r = this.length++;
    const digits = this.digits!;
    chunkFor(r, digits, () => new Int32Array(CHUNK), this.scales, zeroBytes);
    digits[r >> CHUNK_BITS][r & LOW] = m;
    if (scale !== 0) {
      this.scales ??= digits.map(zeroBytes);
      this.scales[r >> CHUNK_BITS][r & LOW] = scale;
    }
  }

  /** In numbers form: stores `cell` (trimmed, not missing) if it is a number written back as it is; false if not. */
  private pushNumberText(cell: string): boolean {
    const n = parseNumber(cell);
    const written = n === undefined ? undefined : writtenAs(n, cell);
    if (written === undefined) return false;
    this.pushNumber(n!, written);
    return true;
  }

  private pushNumber(n: number, written: number): void {
    const r = this.length++;
    const numbers = this.numbers!;
    chunkFor(r, numbers, () => new Float64Array(CHUNK), this.decimals, plainBytes);
    numbers[r >> CHUNK_BITS][r & LOW] = n;
    if (written !== PLAIN) {
      this.decimals ??= numbers.map(plainBytes);
      this.decimals[r >> CHUNK_BITS][r & LOW] = written;
    }
  }

  private pushCode(code: number): void {
    const r = this.length++;
    chunkFor(r, this.codes!, () => new Int32Array(CHUNK), null, zeroBytes);
    this.codes![r >> CHUNK_BITS][r & LOW] = code;
  }

  /** From digits to numbers: every cell so far as its float64 and how it is written. */
  private toNumbers(): void {
    const cells = this.length;
    const digits = this.digits!;
    const scales = this.scales;
    this.length = 0;
    this.numbers = [];
    this.digits = null;
    this.scales = null;
    for (let r = 0; r < cells; r++) {
      const m = digits[r >> CHUNK_BITS][r & LOW];
      const scale = scales ? scales[r >> CHUNK_BITS][r & LOW] : 0;
      const n = m / POW10[scale];
      if (m === NO_DIGITS) this.pushNumber(NaN, PLAIN);
      else this.pushNumber(n, writtenBack(m, scale, n));
    }
  }

  /** From numbers to text ids: every cell so far as its text. */
  private toTexts(): void {
    const codes: Int32Array[] = [];
    for (let r = 0; r < this.length; r++) {
      chunkFor(r, codes, () => new Int32Array(CHUNK), null, zeroBytes);
      const cell = this.get(r) as string | null;
      const bytes = cell === null ? null : Buffer.from(cell, 'utf8');
      codes[r >> CHUNK_BITS][r & LOW] = bytes === null ? MISSING : this.texts.add(bytes, 0, bytes.length);
    }
    this.codes = codes;
    this.numbers = null;
    this.decimals = null;
  }
}
