/*
 * The memory of a large CSV (issue 13). The file is scanned as bytes straight
 * into typed columns (numbers as float64s, texts as UTF-8 bytes, interned while
 * few), so a file's peak resident memory stays within
 *   4 × the file's size + the dataset's Float32 columns,
 * with nothing allowed on top: the growth is measured from the child's RSS
 * after it has read a tiny file of the same shape (Node, the loaded code and a
 * warmed heap), to its peak (scripts/csv-memory.ts). Before: rows kept as
 * string[][] took ~18 × the file; pieces parsed into per-column cells, 117 MiB
 * for this 20.8 MiB file (bound 95 MiB) and 923 MiB for one 100 MiB field.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { scanCsvFile } from '../../src/data/csv.js';
import { tableFromCsv } from '../../src/data/table.js';
import { isUserError } from '../../src/util/errors.js';

type Measure = (kind: 'table' | 'field', size: number) => {
  bytes: number; rows: number; fieldLength?: number; growth: number; float32: number; bound: number;
};
const { measureCsvMemory } = await import(new URL('../../dist/scripts/csv-memory.js', import.meta.url).href) as { measureCsvMemory: Measure };
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

describe('a large CSV in memory', () => {
  it('200,000 rows of numbers and categories: peak resident growth ≤ 4 × the file + the Float32 columns', () => {
    const m = measureCsvMemory('table', 200_000);
    expect(m.rows).toBe(200_000);
    expect(m.bytes).toBeGreaterThan(20e6);
    expect(m.float32).toBe(200_000 * (10 + 4 + 2) * 4); // ten numbers, four colors one-hot; two targets
    expect(m.growth, `${mib(m.growth)} for a ${mib(m.bytes)} file (bound ${mib(m.bound)})`).toBeLessThanOrEqual(m.bound);
  }, 300_000);

  it('one field of 100 MiB is read within the same bound, and read back whole', () => {
    const m = measureCsvMemory('field', 100);
    expect(m.fieldLength).toBe(100 * 2 ** 20 - 10 + 8); // `say "hi"` and the rest of the field
    expect(m.rows).toBe(1000);
    expect(m.growth, `${mib(m.growth)} for a ${mib(m.bytes)} file (bound ${mib(m.bound)})`).toBeLessThanOrEqual(m.bound);
  }, 300_000);

  it('a record longer than a piece is not scanned again with every piece (pieces grow with it)', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'mt-csv-long-')), 'long.csv');
    writeFileSync(file, `a,b\n"${'x'.repeat(20e6)}",1\n`);
    const started = Date.now();
    const t = tableFromCsv(file, 4096); // 5,000 pieces of the one field
    expect((t.cell(0, 0) as string).length).toBe(20e6);
    expect(t.cell(0, 1)).toBe('1');
    expect(Date.now() - started).toBeLessThan(10_000);
  }, 60_000);

  it('a record longer than the limit is refused in one line naming the file and the line it starts on', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'mt-csv-open-')), 'open.csv');
    writeFileSync(file, `a,b\n1,2\n"never closed,3\n${'x,4\n'.repeat(300_000)}`);
    let error: unknown;
    try {
      scanCsvFile(file, 4096, () => {}, 1 << 20);
    } catch (e) {
      error = e;
    }
    expect(isUserError(error)).toBe(true);
    expect((error as Error).message).toBe(
      `${file} line 3: a record of more than 1 MiB, the most one CSV record may hold (is a quote left open?)`);
  });
});
