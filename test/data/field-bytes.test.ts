import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PLAIN, isMissingBytes, plain, plainNumber, trimEnd, trimStart } from '../../src/data/field-bytes.js';
import { MISSING_TOKENS } from '../../src/model/cells.js';

/** The text trimStart/trimEnd keep of `s`, as UTF-8 bytes inside a larger buffer. */
function trimmed(s: string): string {
  const b = Buffer.from(`,${s},`, 'utf8');
  const start = trimStart(b, 1, b.length - 1);
  return b.toString('utf8', start, trimEnd(b, start, b.length - 1));
}

describe('field bytes', () => {
  it('trim removes exactly what String.prototype.trim removes, for every UTF-16 code unit', () => {
    let spaces = 0;
    for (let c = 0; c <= 0xffff; c++) {
      if (c >= 0xd800 && c <= 0xdfff) continue; // not a character alone
      const ch = String.fromCharCode(c);
      const s = `${ch}${ch}a${ch}b${ch}`;
      expect(trimmed(s), `U+${c.toString(16)}`).toBe(s.trim());
      if (ch.trim() === '') spaces++;
    }
    expect(spaces).toBe(25); // 6 ASCII, U+00A0, U+1680, 11 in U+2000–U+200A, U+2028, U+2029, U+202F, U+205F, U+3000, U+FEFF
    expect(trimmed('😀 x 😀')).toBe('😀 x 😀');
    expect(trimmed(' \u3000 ')).toBe('');
  });

  it('a missing token is recognised from its bytes, nothing else is', () => {
    for (const t of [...MISSING_TOKENS, 'na', 'N/a', 'NULL', 'none', '..', ' ', 'NaN0']) {
      const b = Buffer.from(`x${t}y`, 'utf8');
      expect(isMissingBytes(b, 1, b.length - 1), JSON.stringify(t)).toBe(MISSING_TOKENS.includes(t));
    }
  });

  it('a number written as toFixed writes it is read as Number reads it, and written back the same', () => {
    const text = fc.oneof(
      fc.tuple(fc.double({ min: -1e9, max: 1e9, noNaN: true }), fc.integer({ min: 0, max: 12 })).map(([x, d]) => x.toFixed(d)),
      fc.double({ noNaN: true, noDefaultInfinity: true }).map(String),
      fc.stringMatching(/^-?[0-9]{0,10}(\.[0-9]{0,8})?$/));
    fc.assert(fc.property(text, (s) => {
      const b = Buffer.from(s, 'utf8');
      if (!plainNumber(b, 0, b.length)) {
        // refused only what is not exactly toFixed's form with at most 15 digits
        const form = /^-?(0|[1-9]\d*)(\.\d+)?$/.test(s) && s.replace(/^-?0?\.?/, '').replace('.', '').length <= 15 && !/^-0(\.0+)?$/.test(s);
        expect(form, s).toBe(false);
        return;
      }
      expect(plain.value).toBe(Number(s));
      expect(plain.written === PLAIN ? String(plain.value) : plain.value.toFixed(plain.written)).toBe(s);
    }), { numRuns: 5000 });
  });
});
