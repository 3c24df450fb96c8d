import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCsv, readCsv } from '../../src/data/csv.js';
import { UserError } from '../../src/util/errors.js';
import { outcome } from '../helpers/user-error.js';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

function userError(f: () => unknown): UserError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    expect((e as Error).message).not.toContain('\n');
    return e as UserError;
  }
  throw new Error('expected a UserError');
}

describe('parseCsv', () => {
  it('parses a header and rows with line numbers', () => {
    const csv = parseCsv('a,b\n1,2\n3,4\n', 'x.csv');
    expect(csv.header).toEqual(['a', 'b']);
    expect(csv.rows).toEqual([['1', '2'], ['3', '4']]);
    expect(csv.lines).toEqual([2, 3]);
    expect(csv.headerLine).toBe(1);
  });

  it('works without a trailing newline', () => {
    expect(parseCsv('a,b\n1,2', 'x').rows).toEqual([['1', '2']]);
  });

  it('handles quoted commas, doubled quotes and empty quoted fields', () => {
    const csv = parseCsv('a,b,c\n"x, y","say ""hi""",""\n', 'x');
    expect(csv.rows).toEqual([['x, y', 'say "hi"', '']]);
  });

  it('keeps newlines inside quotes and counts their lines', () => {
    const csv = parseCsv('a,b\n"line1\nline2",1\n"p\r\nq",2\n3,4\n', 'x');
    expect(csv.rows).toEqual([['line1\nline2', '1'], ['p\r\nq', '2'], ['3', '4']]);
    expect(csv.lines).toEqual([2, 4, 6]);
  });

  it('strips a BOM and accepts CRLF and lone CR', () => {
    const csv = parseCsv('\uFEFFa,b\r\n1,2\r\n3,4\r5,6', 'x');
    expect(csv.header).toEqual(['a', 'b']);
    expect(csv.rows).toEqual([['1', '2'], ['3', '4'], ['5', '6']]);
    expect(csv.lines).toEqual([2, 3, 4]);
  });

  it('skips blank lines (also whitespace-only ones) but keeps counting lines', () => {
    const csv = parseCsv('\na,b\n\n1,2\n   \n\n3,4\n\n', 'x');
    expect(csv.header).toEqual(['a', 'b']);
    expect(csv.headerLine).toBe(2);
    expect(csv.rows).toEqual([['1', '2'], ['3', '4']]);
    expect(csv.lines).toEqual([4, 7]);
  });

  it('keeps a row of empty fields (not blank: it has commas) and a quoted empty field', () => {
    expect(parseCsv('a,b\n,\n', 'x').rows).toEqual([['', '']]);
    expect(parseCsv('a\n""\n', 'x').rows).toEqual([['']]);
  });

  it('allows spaces around quoted fields and keeps a quote inside an unquoted field', () => {
    expect(parseCsv('a,b\n  "x" , 5\'11"\n', 'x').rows).toEqual([['x', ' 5\'11"']]);
  });

  it('trims header names', () => {
    expect(parseCsv(' a , b \n1,2', 'x').header).toEqual(['a', 'b']);
  });

  it('reports a row with the wrong number of fields with its line', () => {
    const e = userError(() => parseCsv('a,b,c\n1,2,3\n\n4,5\n', 'data.csv'));
    expect(e.message).toContain('data.csv line 4');
    expect(e.message).toContain('2 fields, expected 3');
  });

  it('reports too many fields (an unquoted comma)', () => {
    const e = userError(() => parseCsv('name,v\nSmith, J.,1\n', 'data.csv'));
    expect(e.message).toMatch(/^data\.csv line 2: 3 fields, expected 2/);
  });

  it('reports an unterminated quote at the line where it opened', () => {
    const e = userError(() => parseCsv('a,b\n1,2\n3,"oops\n4,5\n6,7\n', 'data.csv'));
    expect(e.message).toContain('data.csv line 3');
    expect(e.message).toContain('unterminated');
  });

  it('rejects text after a closing quote', () => {
    const e = userError(() => parseCsv('a,b\n"x"y,1\n', 'data.csv'));
    expect(e.message).toContain('data.csv line 2');
    expect(e.message).toContain('"y"');
  });

  it('rejects an empty file, an unnamed and a duplicate column', () => {
    expect(userError(() => parseCsv('\uFEFF\n\n', 'e.csv')).message).toContain('e.csv: the file is empty');
    expect(userError(() => parseCsv('a,,c\n1,2,3', 'e.csv')).message).toContain('column 2 of the header has no name');
    expect(userError(() => parseCsv('a,b,a\n1,2,3', 'e.csv')).message).toContain('"a" appears twice');
  });
});

describe('readCsv', () => {
  it('reads a file with a BOM, CRLF, quotes and an embedded CRLF', () => {
    const csv = readCsv(fixture('quirks.csv'));
    expect(csv.header).toEqual(['name', 'note', 'value']);
    expect(csv.rows).toEqual([
      ['Smith, J.', 'said "hi"', '1'],
      ['plain', 'two\r\nlines', '2'],
    ]);
    expect(csv.lines).toEqual([2, 4]);
  });

  it('names the file and line of a short row', () => {
    const path = fixture('bad-fields.csv');
    const e = userError(() => readCsv(path));
    expect(e.message).toContain(`${path} line 4: 2 fields, expected 3`);
  });

  it('names the file and line of an unterminated quote', () => {
    const path = fixture('unterminated.csv');
    expect(userError(() => readCsv(path)).message).toContain(`${path} line 3: unterminated quoted field`);
  });

  it('is a UserError for bytes that are not UTF-8, wherever the pieces cut them (a bad byte, a character cut by the end)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mt-csv-utf8-'));
    const bad = [Buffer.from('a,b\n1,\xff\n', 'latin1'), Buffer.from('a,b\n1,2\n3,\xe2\x82', 'latin1'), Buffer.from('a,b\n"\xed\xa0\x80",1\n', 'latin1')];
    bad.forEach((bytes, k) => {
      const path = join(dir, `bad${k}.csv`);
      writeFileSync(path, bytes);
      for (const piece of [1, 2, 3, 5, 64]) {
        expect(userError(() => readCsv(path, piece)).message).toBe(`${path}: not valid UTF-8 text (expected a UTF-8 CSV file; re-save it as UTF-8)`);
      }
    });
  });

  it('is a UserError for a missing file', () => {
    expect(userError(() => readCsv('/nonexistent/x.csv')).message).toContain('cannot read CSV file /nonexistent/x.csv: no such file');
  });
});

describe('readCsv reads the file in pieces', () => {
  const cell = fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom('"', '""', ',', '\n', '\r\n', '\r', 'é', '😀', '"a,\nb"', ' ', ''));

  it('gives what parseCsv gives on the whole text, whatever the piece size (records, quotes, CRLF and UTF-8 cut anywhere)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mt-csv-'));
    const file = join(dir, 'f.csv');
    fc.assert(fc.property(fc.array(cell, { maxLength: 30 }).map((c) => c.join('')), fc.integer({ min: 1, max: 17 }), fc.boolean(), (body, piece, bom) => {
      const text = (bom ? '\uFEFF' : '') + body;
      writeFileSync(file, text);
      const whole = outcome(() => parseCsv(text, file));
      const pieces = outcome(() => readCsv(file, piece));
      expect(pieces).toEqual(whole);
    }), { numRuns: 1500 });
  });
});
