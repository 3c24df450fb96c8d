/**
 * Raw values: what a cell of a table, or a value of a record, means — missing
 * or not, and as a number. Shared by the data loaders (training data) and a
 * model's preprocessing (records to predict on), so both read a value exactly
 * the same way. Lives in model/ because a Model must parse raw records without
 * the data loaders (model/ may not import data/); data/ imports it from here.
 */
import { UserError } from '../util/errors.js';

/** A raw cell: a trimmed string, a (JSON) number, or null for a missing value. */
export type Cell = string | number | null;

/** Tokens (after trimming) that mean "missing". */
export const MISSING_TOKENS: readonly string[] = ['', 'NA', 'N/A', 'NaN', 'nan', 'null', 'None', '.'];
const MISSING = new Set(MISSING_TOKENS);

/** True when a (trimmed) string is one of the missing-value tokens. */
export function isMissingToken(s: string): boolean {
  return MISSING.has(s);
}

/** A text field as a cell: trimmed; a missing token → null. */
export function stringCell(s: string): Cell {
  const t = s.trim();
  return MISSING.has(t) ? null : t;
}

/**
 * Normalises one record value to a Cell (also used for predict() inputs); `record`
 * is its record (or, with kind 'line', line) number for messages.
 */
export function valueCell(v: unknown, source: string, record: number, key: string, kind: 'line' | 'record' = 'record'): Cell {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return stringCell(v);
  if (typeof v === 'number') return Number.isNaN(v) ? null : v;
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'bigint') return Number(v);
  throw new UserError(
    `${source} ${kind} ${record}, column ${JSON.stringify(key)}: ${describe(v)} is not a value (expected a number, a string or null)`);
}

/** A value for a message: `null`, `an array`, `an object`, a quoted (shortened) string, `number 3`. */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v);
  return `${typeof v} ${String(v)}`;
}

/** A cell for a message: strings quoted (JSON-escaped, so one line), numbers as written. */
export function showCell(cell: Cell): string {
  return typeof cell === 'number' ? String(cell) : JSON.stringify(cell);
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** A cell as a finite number, or undefined. Strings must look like decimal numbers ("12", "-3.5", "1e-3"). */
export function parseNumber(cell: Cell): number | undefined {
  if (typeof cell === 'number') return Number.isFinite(cell) ? cell : undefined;
  if (cell === null || !NUMBER.test(cell)) return undefined;
  const v = Number(cell);
  return Number.isFinite(v) ? v : undefined;
}
