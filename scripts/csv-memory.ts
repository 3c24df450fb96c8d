/**
 * Peak resident memory of reading a large CSV (issue 13), measured in a child
 * process (resident memory is per process), against the bound the loader keeps:
 *
 *   peak growth ≤ 4 × the file's size + the dataset's Float32 columns
 *
 * The growth is the child's peak RSS (getrusage maxrss) less its RSS after it
 * has imported the loader and read a tiny file of the same shape: what Node and
 * the compiled code take whatever the file, measured, not allowed for.
 *
 *   node dist/scripts/csv-memory.js [table [rows=200000] | field [mib=100]]
 *
 * `table`: rows of an id, ten numbers, a color, a class and a target (~110
 * bytes a row, 22 MB at 200,000 rows), loaded as a dataset. `field`: one
 * quoted field of `mib` MiB among 1,000 small rows, read as a table, the big
 * cell read back, then a dataset built from the other columns. Prints one JSON
 * line: bytes, rows, growth, float32, bound (bytes) and growth/bound.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface CsvMemory {
  kind: 'table' | 'field';
  bytes: number;
  rows: number;
  /** the big field's length as read back (field only) */
  fieldLength?: number;
  growth: number;
  float32: number;
  bound: number;
}

/** Writes `text` lines in blocks (a 100 MB file is never one string). */
function writer(path: string) {
  const fd = openSync(path, 'w');
  let block: string[] = [];
  let size = 0;
  const flush = () => { writeSync(fd, block.join('')); block = []; size = 0; };
  return {
    write(s: string) { block.push(s); size += s.length; if (size > 1 << 20) flush(); },
    close() { flush(); closeSync(fd); },
  };
}

/** 200,000 rows: an id, ten numbers written with 4 decimals, a color, a class and a regression target. */
export function writeTableCsv(path: string, rows: number): void {
  let seed = 1;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const colors = ['red', 'green', 'blue', 'yellow'];
  const out = writer(path);
  out.write(`${['id', ...Array.from({ length: 10 }, (_, c) => `x${c}`), 'color', 'label', 'y'].join(',')}\n`);
  for (let r = 0; r < rows; r++) {
    const xs = Array.from({ length: 10 }, () => (rnd() * 200 - 100).toFixed(4));
    out.write(`${[`row-${r}`, ...xs, colors[r % 4], rnd() < 0.5 ? 'a' : 'b', (rnd() * 1000).toFixed(2)].join(',')}\n`);
  }
  out.close();
}

/** 1,000 rows of a note, a number and a target; row 2's note is one quoted field of `mib` MiB (with a doubled quote). */
export function writeFieldCsv(path: string, mib: number): void {
  const out = writer(path);
  out.write('note,x,y\n');
  for (let r = 0; r < 1000; r++) {
    if (r === 1) {
      out.write('"say ""hi""');
      const block = 'abcdefghijklmnopqrstuvwxyz0123456789 .,;\n'.repeat(1 << 10);
      for (let left = mib * 2 ** 20 - 10; left > 0; left -= block.length) out.write(block.slice(0, Math.min(left, block.length)));
      out.write('",');
    } else {
      out.write(`note ${r},`);
    }
    out.write(`${r % 7}.5,${r % 3}\n`);
  }
  out.close();
}

/** The child: the baseline after a tiny file, then the peak while the big one is read. */
async function child(kind: CsvMemory['kind'], file: string, tiny: string): Promise<void> {
  const { loadDataset, buildDataset } = await import('../src/data/dataset-from-table.js');
  const { tableFromCsv } = await import('../src/data/table.js');
  const tableOptions = {
    tasks: [{ name: 'label', column: 'label', loss: 'cross_entropy' as const }, { name: 'y', column: 'y', loss: 'mse' as const }],
    features: ['x0', 'x1', 'x2', 'x3', 'x4', 'x5', 'x6', 'x7', 'x8', 'x9', 'color'],
  };
  const fieldOptions = { tasks: [{ name: 'y', column: 'y', loss: 'mse' as const }], features: ['x'] };
  const load = (path: string) => {
    if (kind === 'table') return { ds: loadDataset(path, tableOptions), fieldLength: undefined };
    const table = tableFromCsv(path);
    const fieldLength = String(table.cell(1, 0)).length;
    return { ds: buildDataset(table, fieldOptions), fieldLength };
  };
  load(tiny);
  const base = process.memoryUsage().rss;
  const { ds, fieldLength } = load(file);
  const growth = process.resourceUsage().maxRSS * 1024 - base;
  const float32 = ds.features.byteLength + ds.tasks.reduce((a, t) => a + t.targets.byteLength, 0);
  console.log(JSON.stringify({ growth, float32, rows: ds.rows, fieldLength }));
}

/** Writes the files, measures in a child process, removes the files. */
export function measureCsvMemory(kind: CsvMemory['kind'], size: number): CsvMemory {
  const dir = mkdtempSync(join(tmpdir(), 'mt-csv-memory-'));
  try {
    const file = join(dir, 'big.csv');
    const tiny = join(dir, 'tiny.csv');
    if (kind === 'table') { writeTableCsv(file, size); writeTableCsv(tiny, 100); } else { writeFieldCsv(file, size); writeFieldCsv(tiny, 0.001); }
    const run = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', kind, file, tiny], { encoding: 'utf8', timeout: 300_000 });
    if (run.status !== 0) throw new Error(`csv-memory child failed (${run.status ?? run.signal}): ${run.stderr}`);
    const got = JSON.parse(run.stdout) as { growth: number; float32: number; rows: number; fieldLength?: number };
    const bytes = statSync(file).size;
    return { kind, bytes, ...got, bound: 4 * bytes + got.float32 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv[2] === '--child') {
    await child(process.argv[3] as CsvMemory['kind'], process.argv[4], process.argv[5]);
  } else {
    const kind = (process.argv[2] ?? 'table') as CsvMemory['kind'];
    const m = measureCsvMemory(kind, Number(process.argv[3] ?? (kind === 'table' ? 200_000 : 100)));
    const mib = (b: number) => Number((b / 2 ** 20).toFixed(1));
    console.log(JSON.stringify({
      ...m, fileMiB: mib(m.bytes), growthMiB: mib(m.growth), float32MiB: mib(m.float32), boundMiB: mib(m.bound),
      ofBound: Number((m.growth / m.bound).toFixed(3)),
    }));
  }
}
