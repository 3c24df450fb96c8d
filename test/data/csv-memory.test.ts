/*
 * The memory of a large CSV (issue 13): read into typed columns as the pieces
 * arrive, a file's peak resident memory stays within
 *   4 × the file's size + the dataset's Float32 columns + 64 MiB,
 * the 64 MiB being what any allocating Node process adds whatever the file (V8's
 * young generation and heap slack; about 50 MiB measured here). Measured in a
 * child process (resident memory is per process) on a generated 22 MB file of
 * 200,000 rows; before, rows kept as string[][] took about 290 MB over the
 * baseline, now about 125 MB.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tableFromCsv } from '../../src/data/table.js';

const dist = new URL('../../dist/src/', import.meta.url).href;

/** 200,000 rows: an id, ten numbers written with 4 decimals, a color, a class and a regression target. */
function writeCsv(path: string, rows: number): void {
  let seed = 1;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const colors = ['red', 'green', 'blue', 'yellow'];
  const lines = [['id', ...Array.from({ length: 10 }, (_, c) => `x${c}`), 'color', 'label', 'y'].join(',')];
  for (let r = 0; r < rows; r++) {
    const xs = Array.from({ length: 10 }, () => (rnd() * 200 - 100).toFixed(4));
    lines.push([`row-${r}`, ...xs, colors[r % 4], rnd() < 0.5 ? 'a' : 'b', (rnd() * 1000).toFixed(2)].join(','));
  }
  writeFileSync(path, `${lines.join('\n')}\n`);
}

describe('a large CSV in memory', () => {
  it('peak resident memory ≤ 4 × the file + the Float32 columns + 64 MiB', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'mt-csv-memory-')), 'big.csv');
    writeCsv(file, 200_000);
    const script = `
      const { loadDataset } = await import(${JSON.stringify(`${dist}data/dataset-from-table.js`)});
      const base = process.memoryUsage().rss;
      const ds = loadDataset(${JSON.stringify(file)}, {
        tasks: [{ name: 'label', column: 'label', loss: 'cross_entropy' }, { name: 'y', column: 'y', loss: 'mse' }],
        features: ['x0', 'x1', 'x2', 'x3', 'x4', 'x5', 'x6', 'x7', 'x8', 'x9', 'color'],
      });
      const growth = process.resourceUsage().maxRSS * 1024 - base;
      const float32 = ds.features.byteLength + ds.tasks.reduce((a, t) => a + t.targets.byteLength, 0);
      console.log(JSON.stringify({ growth, float32, rows: ds.rows }));`;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 120_000 });
    expect(run.status, run.stderr).toBe(0);
    const { growth, float32, rows } = JSON.parse(run.stdout) as { growth: number; float32: number; rows: number };
    const size = statSync(file).size;
    expect(rows).toBe(200_000);
    expect(size).toBeGreaterThan(20e6);
    expect(growth, `${(growth / 2 ** 20).toFixed(0)} MiB for a ${(size / 2 ** 20).toFixed(0)} MiB file`)
      .toBeLessThanOrEqual(4 * size + float32 + 64 * 2 ** 20);
  }, 120_000);

  it('a record longer than a piece is not scanned again with every piece (pieces grow with it)', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'mt-csv-long-')), 'long.csv');
    writeFileSync(file, `a,b\n"${'x'.repeat(20e6)}",1\n`);
    const started = Date.now();
    const t = tableFromCsv(file, 4096); // 5,000 pieces of the one field
    expect((t.cell(0, 0) as string).length).toBe(20e6);
    expect(t.cell(0, 1)).toBe('1');
    expect(Date.now() - started).toBeLessThan(10_000);
  }, 60_000);
});
