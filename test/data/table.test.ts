import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { loadTable } from '../../src/data/load-table.js';
import { MISSING_TOKENS, columnIndex, isMissingToken, rowLocation, tableFromCsv, tableFromRecords, tableRows } from '../../src/data/table.js';
import { UserError } from '../../src/util/errors.js';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

describe('tableFromCsv', () => {
  it('trims cells, maps missing tokens to null and keeps line numbers', () => {
    const t = tableFromCsv(fixture('animals.csv'));
    expect(t.columns).toEqual(['island', 'length', 'depth', 'kind', 'sex', 'mass']);
    expect(tableRows(t).length).toBe(12);
    expect(tableRows(t)[0]).toEqual(['Biscoe', '40.0', '18', 'A', 'F', '3000']);
    expect(tableRows(t)[2][1]).toBeNull(); // NA
    expect(tableRows(t)[3][4]).toBeNull(); // empty
    expect(tableRows(t)[4][5]).toBeNull(); // empty at end of line
    expect(tableRows(t)[7][2]).toBeNull(); // "."
    expect(Array.from(t.lines).slice(0, 7)).toEqual([2, 3, 4, 5, 6, 8, 9]); // the blank line 7 is skipped
    expect(t.lineKind).toBe('line');
    expect(rowLocation(t, 5)).toBe(`${fixture('animals.csv')} line 8`);
  });

  it('loadTable picks CSV for .csv', () => {
    expect(loadTable(fixture('animals.csv')).rowCount).toBe(12);
  });
});

describe('missing tokens', () => {
  it('knows exactly the documented tokens', () => {
    for (const t of ['', 'NA', 'N/A', 'NaN', 'nan', 'null', 'None', '.']) expect(isMissingToken(t)).toBe(true);
    for (const t of ['0', 'na', 'none', '-', 'NULLx', 'x']) expect(isMissingToken(t)).toBe(false);
    expect(MISSING_TOKENS.length).toBe(8);
  });

  it('applies after trimming in CSV and in records', () => {
    const t = tableFromRecords('r.json', [{ a: '  NA ', b: ' x ' }, { a: null, b: NaN }, { b: 'None' }]);
    expect(tableRows(t)).toEqual([[null, 'x'], [null, null], [null, null]]);
  });
});

describe('tableFromRecords', () => {
  it('takes the union of keys in order of first appearance; numbers stay numbers', () => {
    const t = tableFromRecords('p.json', [
      { Species: 'Adelie', 'Beak Length (mm)': 39.1 },
      { Species: 'Gentoo', Sex: 'MALE', flag: true },
    ]);
    expect(t.columns).toEqual(['Species', 'Beak Length (mm)', 'Sex', 'flag']);
    expect(tableRows(t)).toEqual([['Adelie', 39.1, null, null], ['Gentoo', null, 'MALE', 'true']]);
    expect(t.lines).toEqual([1, 2]);
    expect(rowLocation(t, 1)).toBe('p.json record 2');
  });

  it('rejects non-object records and nested values', () => {
    expect(() => tableFromRecords('p.json', [{ a: 1 }, [1, 2] as unknown as object])).toThrow(/p\.json record 2: expected an object/);
    expect(() => tableFromRecords('p.json', [{ a: { b: 1 } }])).toThrow(UserError);
    expect(() => tableFromRecords('p.json', [{ a: { b: 1 } }])).toThrow('p.json record 1, column "a": an object is not a value');
  });
});

describe('columnIndex', () => {
  it('lists the available columns when one is missing', () => {
    const t = tableFromRecords('p.json', [{ a: 1, 'b c': 2 }]);
    expect(columnIndex(t, 'b c', '')).toBe(1);
    expect(() => columnIndex(t, 'd', '(feature)')).toThrow('p.json: no column "d" (feature); available columns: "a", "b c"');
  });
});
