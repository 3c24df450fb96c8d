/**
 * A CSV field read from its UTF-8 bytes, without making a JS string: trimmed
 * as String.prototype.trim trims, recognised as a missing token, or read as a
 * number written the way toFixed writes it. Each answers exactly what the
 * string functions of model/cells.ts answer on the decoded text.
 */
import { MISSING_TOKENS } from '../model/cells.js';

const MISSING_BYTES = MISSING_TOKENS.map((t) => Buffer.from(t, 'utf8'));

/**
 * The length of the whitespace character at b[i] (one String.prototype.trim
 * removes: ASCII \t \n \v \f \r and space, U+00A0, U+1680, U+2000–U+200A,
 * U+2028, U+2029, U+202F, U+205F, U+3000, U+FEFF), or 0.
 */
function spaceAt(b: Uint8Array, i: number, end: number): number {
  const c = b[i];
  if (c === 0x20 || (c >= 0x09 && c <= 0x0d)) return 1;
  if (c === 0xc2) return i + 1 < end && b[i + 1] === 0xa0 ? 2 : 0;
  if (c < 0xe1 || c > 0xef || i + 2 >= end) return 0;
  const d = b[i + 1], e = b[i + 2];
  const space = c === 0xe1 ? d === 0x9a && e === 0x80
    : c === 0xe2 ? (d === 0x80 && ((e >= 0x80 && e <= 0x8a) || e === 0xa8 || e === 0xa9 || e === 0xaf)) || (d === 0x81 && e === 0x9f)
      : c === 0xe3 ? d === 0x80 && e === 0x80
        : c === 0xef && d === 0xbb && e === 0xbf;
  return space ? 3 : 0;
}

/** The first byte of b[start, end) that trim keeps. */
export function trimStart(b: Uint8Array, start: number, end: number): number {
  for (let n; start < end && (n = spaceAt(b, start, end)) > 0;) start += n;
  return start;
}

/** One past the last byte of b[start, end) that trim keeps (the bytes are valid UTF-8). */
export function trimEnd(b: Uint8Array, start: number, end: number): number {
  while (end > start) {
    if (spaceAt(b, end - 1, end) === 1) end--;
    else if (end - 2 >= start && spaceAt(b, end - 2, end) === 2) end -= 2;
    else if (end - 3 >= start && spaceAt(b, end - 3, end) === 3) end -= 3;
    else break;
  }
  return end;
}

/** Whether the (trimmed) bytes are one of the missing-value tokens. */
export function isMissingBytes(b: Uint8Array, start: number, end: number): boolean {
  const len = end - start;
  for (const t of MISSING_BYTES) {
    if (t.length !== len) continue;
    let i = 0;
    while (i < len && b[start + i] === t[i]) i++;
    if (i === len) return true;
  }
  return false;
}

/** How get() writes a number back: PLAIN is String(n); anything else is toFixed's count of decimals. */
export const PLAIN = 255;
/** The longest text String(n) or n.toFixed(d ≤ 100) writes: a longer field is never stored as a number. */
export const LONGEST_NUMBER = 128;

/**
 * What plainNumber read (a reused object: no allocation per field): the value,
 * how it is written back, and the digits and decimals it was written with
 * (value = digits / 10^decimals).
 */
export const plain = { value: 0, written: PLAIN, digits: 0, decimals: 0 };

/** How get() writes back digits / 10^decimals read by plainNumber: the rule plainNumber states. */
export function writtenBack(digits: number, decimals: number, value: number): number {
  return decimals === 0 || (digits % 10 !== 0 && Math.abs(value) >= 1e-6) ? PLAIN : decimals;
}

/** 10^k for k = 0..15, exact. */
export const POW10 = Array.from({ length: 16 }, (_, k) => 10 ** k);

/**
 * Reads a number written as toFixed writes it, `-?(0|[1-9]\d*)(\.\d+)?` with at
 * most 15 digits besides a leading zero, into `plain`; false for anything else
 * (then the caller decides on the decoded text). The value is digits / 10^k, both
 * exact doubles, so one correctly rounded division: exactly Number(text). Below
 * 2^52 the nearest integer to value·10^k is the digits again, so toFixed(k) gives
 * the text back; an integer, or a fraction not ending in 0 and at least 1e-6, is
 * String(value) too (15 digits name one double; String writes the shortest).
 */
export function plainNumber(b: Uint8Array, start: number, end: number): boolean {
  let i = start;
  const negative = b[i] === 0x2d;
  if (negative) i++;
  if (i >= end) return false;
  let whole = 0; // digits before the point, a leading zero not counted
  let m = 0;
  if (b[i] === 0x30) {
    i++;
  } else {
    for (; i < end && b[i] >= 0x30 && b[i] <= 0x39; i++, whole++) m = m * 10 + (b[i] - 0x30);
    if (whole === 0) return false;
  }
  let k = 0;
  if (i < end && b[i] === 0x2e) {
    i++;
    for (; i < end && b[i] >= 0x30 && b[i] <= 0x39; i++, k++) m = m * 10 + (b[i] - 0x30);
    if (k === 0) return false; // "5."
  }
  if (i !== end || whole + k > 15 || (negative && m === 0)) return false; // "-0" is written "0" again
  plain.digits = negative ? -m : m;
  plain.decimals = k;
  plain.value = plain.digits / POW10[k];
  plain.written = writtenBack(m, k, plain.value);
  return true;
}
