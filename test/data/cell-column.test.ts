import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CellColumn } from '../../src/data/cell-column.js';
import { parseCsv } from '../../src/data/csv.js';
import { tableFromCsv, tableRows } from '../../src/data/table.js';
import { parseNumber, stringCell } from '../../src/model/cells.js';
import { outcome } from '../helpers/user-error.js';

/**
 * What the column gives back for each field: the cell, and parseNumber of it (null
 * when missing); the same whether each field's UTF-8 bytes fill their own buffer
 * or sit at an offset inside a larger one (as a CSV piece holds them).
 */
function roundTrip(fields: string[]) {
  const byText = new CellColumn();
  const byBytes = new CellColumn();
  for (const f of fields) {
    const own = Buffer.from(f, 'utf8');
    byText.pushBytes(own, 0, own.length);
    const bytes = Buffer.from(`,${f},`, 'utf8');
    byBytes.pushBytes(bytes, 1, bytes.length - 1);
  }
  const read = (col: CellColumn) => fields.map((_, r) => ({ cell: col.get(r), number: col.number(r) }));
  const got = read(byText);
  expect(read(byBytes)).toEqual(got);
  return got;
}
const expected = (fields: string[]) => fields.map((f) => {
  const cell = stringCell(f);
  return { cell, number: cell === null ? null : parseNumber(cell) };
});

describe('CellColumn: cells stored as numbers or string ids read back exactly', () => {
  const tricky = ['1', '1.0', '3.50', '-0', '0', '+3', '.5', '5.', '00.1', '1e5', '1E-3', '12345678901234567890', '1e21', '0.1000000000000000055',
    'NA', '', ' 7 ', 'nan', 'NaN', '.', 'abc', ' x ', 'Infinity', '-', 'é', '0x10', '1_000', '2.50000000000000000000',
    '-0.00', '0.0000001', '0.000001', '123456789012345', '1234567890123456', '0.123456789012345', '-12.3450', '1'.repeat(130),
    '\u00a0NA\u3000', '\ufeff4.5\u2028', ' \u200b ', '\u2000x\u200a', 'café', '\t\v\f7\r\n', `"${'q'.repeat(20_000)}"`];

  it('every tricky field, in numbers mode and after switching to text', () => {
    const numeric = tricky.filter((f) => { const c = stringCell(f); return c === null || parseNumber(c) !== undefined; });
    expect(roundTrip(numeric)).toEqual(expected(numeric));
    expect(roundTrip(tricky)).toEqual(expected(tricky));
  });

  it('any fields, across chunk boundaries and past the interning limit', () => {
    const field = fc.oneof(fc.constantFrom(...tricky), fc.double({ noNaN: true }).map(String), fc.integer().map(String),
      fc.tuple(fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.integer({ min: 0, max: 8 })).map(([x, d]) => x.toFixed(d)), fc.string({ maxLength: 4 }),
      fc.string({ unit: fc.constantFrom(' ', '\u00a0', '\u2000', '\ufeff', '\u3000', '\u1680', '\u205f', '\u202f', '\u2029', '\t', 'a', '1', '.', '-', 'é', '😀'), maxLength: 5 }));
    fc.assert(fc.property(fc.array(field, { maxLength: 60 }), (fields) => {
      expect(roundTrip(fields)).toEqual(expected(fields));
    }), { numRuns: 800 });
    const many = Array.from({ length: 140_000 }, (_, r) => (r === 20_000 ? 'text' : r % 3 ? `${r}.50` : r % 5 ? `id-${r}-long-enough-to-copy` : 'red'));
    expect(roundTrip(many)).toEqual(expected(many));
  });

  it('numbers across chunks, kept as digits, then as float64s, then as texts', () => {
    const number = (r: number) => (r % 7 === 0 ? 'NA' : r % 2 ? `${r}` : `-${r}.${r % 100}0`);
    for (const [other, text] of [[-1, -1], [35_000, -1], [35_000, 38_000], [-1, 38_000]]) {
      const fields = Array.from({ length: 40_000 }, (_, r) => (r === other ? '1e5' : r === text ? 'x' : number(r)));
      expect(roundTrip(fields)).toEqual(expected(fields));
    }
  });
});

describe('tableFromCsv: typed columns, read in pieces', () => {
  const cell = fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom('"', '""', ',', '\n', '\r\n', '1.50', '-2', 'NA', ' 3 ', 'é', '"a,\nb"', ' ', '', '\u00a0', '\u3000x', '😀'));

  it('gives the cells parseCsv and stringCell give on the whole text, and the same errors, whatever the piece size', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mt-csv-table-'));
    const file = join(dir, 'f.csv');
    fc.assert(fc.property(fc.array(cell, { maxLength: 30 }).map((c) => c.join('')), fc.integer({ min: 1, max: 17 }), (body, piece) => {
      writeFileSync(file, body);
      const whole = outcome(() => {
        const csv = parseCsv(body, file);
        return { columns: csv.header, rows: csv.rows.map((r) => r.map(stringCell)), lines: csv.lines };
      });
      const pieces = outcome(() => {
        const t = tableFromCsv(file, piece);
        return { columns: t.columns, rows: tableRows(t), lines: Array.from(t.lines) };
      });
      expect(pieces).toEqual(whole);
    }), { numRuns: 1500 });
  });
});
