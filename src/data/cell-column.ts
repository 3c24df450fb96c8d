/**
 * A column of a table's cells, stored as it is read (CSV). While every cell is
 * a number that reads back as the same text (String(n), or toFixed with the
 * decimals written) or missing, the column is float64s (and a byte for the
 * decimals where needed): 8 bytes a cell instead of a JS string. At its first
 * other text it becomes a column of string ids (4 bytes a cell), the strings
 * interned while there are few distinct ones. `get` returns exactly the cell
 * stringCell would have made of the text.
 */
import { type Cell, parseNumber, stringCell } from '../model/cells.js';

const MISSING = -1;
/** cells per chunk: columns grow by chunks, never by copying (no garbage arrays while a file is read) */
const CHUNK_BITS = 14;
const CHUNK = 1 << CHUNK_BITS;
const LOW = CHUNK - 1;
/** a number written as String(n) writes it (else: the count of decimals toFixed writes it with) */
const PLAIN = 255;
/** distinct strings interned at most; past this (ids, free text) each cell keeps its own */
const MAX_INTERNED = 1 << 16;

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
  /** text mode, per chunk and cell: the index of its string, or MISSING */
  private codes: Int32Array[] | null = null;
  private readonly strings: string[] = [];
  private ids: Map<string, number> | null = new Map();
  length = 0;

  /** Appends a raw text field (trimmed; a missing token is a missing cell). */
  push(field: string): void {
    const cell = stringCell(field) as string | null; // a text field is never a number
    const r = this.length;
    const k = r >> CHUNK_BITS;
    const i = r & LOW;
    if (this.numbers) {
      const n = cell === null ? NaN : parseNumber(cell);
      const written = n === undefined ? undefined : cell === null ? PLAIN : writtenAs(n, cell);
      if (written !== undefined) {
        if (i === 0) {
          this.numbers.push(new Float64Array(CHUNK));
          this.decimals?.push(new Uint8Array(CHUNK).fill(PLAIN));
        }
        this.numbers[k][i] = n!;
        if (written !== PLAIN) {
          this.decimals ??= this.numbers.map(() => new Uint8Array(CHUNK).fill(PLAIN));
          this.decimals[k][i] = written;
        }
        this.length++;
        return;
      }
      this.toText();
    }
    if (i === 0) this.codes!.push(new Int32Array(CHUNK));
    this.codes![k][i] = cell === null ? MISSING : this.intern(cell);
    this.length++;
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
    return code === MISSING ? null : parseNumber(this.strings[code]);
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
    return code === MISSING ? null : this.strings[code];
  }

  /** From numbers to string ids: every cell so far as its text. */
  private toText(): void {
    const codes: Int32Array[] = [];
    for (let r = 0; r < this.length; r++) {
      if ((r & LOW) === 0) codes.push(new Int32Array(CHUNK));
      const cell = this.get(r);
      codes[r >> CHUNK_BITS][r & LOW] = cell === null ? MISSING : this.intern(cell as string);
    }
    this.codes = codes;
    this.numbers = null;
    this.decimals = null;
  }

  private intern(cell: string): number {
    const known = this.ids?.get(cell);
    if (known !== undefined) return known;
    // a copy: a slice would keep the whole piece of text it came from alive
    const own = cell.length > 12 ? Buffer.from(cell, 'utf8').toString('utf8') : cell;
    const id = this.strings.length;
    this.strings.push(own);
    if (this.ids) {
      this.ids.set(own, id);
      if (this.ids.size > MAX_INTERNED) this.ids = null;
    }
    return id;
  }
}
