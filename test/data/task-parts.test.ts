import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { datasetFromColumns } from '../../src/data/dataset-from-columns.js';
import { buildDataset } from '../../src/data/dataset-from-table.js';
import { shareDataset } from '../../src/data/dataset-handle.js';
import { labelledIndices, splitRows } from '../../src/data/split.js';
import { concatTaskDatasets, loadTaskDatasets } from '../../src/data/task-parts.js';
import { EpochSampler } from '../../src/data/sampler.js';
import { type Table, tableFromRecords } from '../../src/data/table.js';
import type { TaskSpec } from '../../src/data/task-spec.js';
import { userErrorMessage as message } from '../helpers/user-error.js';


const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const std = (xs: number[]) => Math.sqrt(mean(xs.map((x) => (x - mean(xs)) ** 2)));

// part A: 10 rows labelled for "kind" (classification); part B: 6 rows for "size" (regression)
const A: Table = tableFromRecords('a.json', Array.from({ length: 10 }, (_, i) => ({
  x: i, place: i % 2 ? 'north' : 'south', kind: ['cat', 'dog'][i % 3 === 0 ? 1 : 0],
})));
const B: Table = tableFromRecords('b.json', Array.from({ length: 6 }, (_, i) => ({
  size: i === 2 ? null : 10 * i + 1, place: i < 3 ? 'east' : 'north', x: 100 + i,
})));
const KIND: TaskSpec = { name: 'kind', column: 'kind', loss: 'bce_with_logits' };
const SIZE: TaskSpec = { name: 'size', column: 'size', loss: 'mse' };

describe('concatTaskDatasets', () => {
  const ds = concatTaskDatasets([{ table: A, tasks: [KIND] }, { table: B, tasks: [SIZE] }], { seed: 5, validationFraction: 0.2 });

  it('has the union of the rows, each labelled only for its own part\'s tasks', () => {
    expect(ds.rows).toBe(16);
    expect(ds.source).toBe('a.json + b.json');
    const [kind, size] = ds.tasks;
    expect(kind).toMatchObject({ name: 'kind', classes: ['cat', 'dog'], labelled: 10 });
    expect(size).toMatchObject({ name: 'size', labelled: 5 });
    for (let r = 0; r < 10; r++) {
      expect(kind.targets[r]).toBe(r % 3 === 0 ? 1 : 0);
      expect(size.targets[r]).toBeNaN();
    }
    for (let r = 10; r < 16; r++) expect(kind.targets[r]).toBeNaN();
    expect(size.targets[12]).toBeNaN(); // its own missing label stays missing
    expect(labelledIndices(kind, ds.train).every((r) => r < 10)).toBe(true);
    expect(labelledIndices(size, ds.train).every((r) => r >= 10 && r !== 12)).toBe(true);
  });

  it('matches feature columns by name (any order), with one-hot levels from every part', () => {
    expect(ds.encoding.columns).toEqual([
      { name: 'x', kind: 'numeric' },
      { name: 'place', kind: 'categorical', levels: ['east', 'north', 'south'] },
    ]);
    expect(ds.inputWidth).toBe(4);
    // row 10 is B's first row: place east
    expect(Array.from(ds.features.subarray(10 * 4 + 1, 10 * 4 + 4))).toEqual([1, 0, 0]);
  });

  it('standardizes on the training rows of the union', () => {
    const raw = [...Array.from({ length: 10 }, (_, i) => i), ...Array.from({ length: 6 }, (_, i) => 100 + i)];
    const trainRaw = Array.from(ds.train, (r) => raw[r]);
    expect(ds.encoding.mean[0]).toBeCloseTo(mean(trainRaw), 4);
    expect(ds.encoding.std[0]).toBeCloseTo(std(trainRaw), 4);
    const sizeRaw = Array.from(ds.train).filter((r) => r >= 10 && r !== 12).map((r) => 10 * (r - 10) + 1);
    expect(ds.tasks[1].targetMean).toBeCloseTo(mean(sizeRaw), 10);
    expect(ds.tasks[1].targetStd).toBeCloseTo(std(sizeRaw), 10);
  });

  it('splits each part on its own (part 0 exactly as buildDataset would)', () => {
    const ref = splitRows(10, 0.2, 5);
    expect(Array.from(ds.validation).filter((r) => r < 10)).toEqual(Array.from(ref.validation));
    expect(Array.from(ds.validation).filter((r) => r >= 10).length).toBe(1); // round(6 · 0.2)
    expect(ds.train.length + ds.validation.length).toBe(16);
    expect(new Set([...ds.train, ...ds.validation]).size).toBe(16);
    expect(Array.from(ds.train)).toEqual(Array.from(ds.train).sort((a, b) => a - b));
    // one part only: the same Dataset as buildDataset
    const one = concatTaskDatasets([{ table: A, tasks: [KIND] }], { seed: 5 });
    const single = buildDataset(A, { tasks: [KIND], seed: 5 });
    expect(Array.from(one.features)).toEqual(Array.from(single.features));
    expect(Array.from(one.train)).toEqual(Array.from(single.train));
    expect(Array.from(one.tasks[0].targets)).toEqual(Array.from(single.tasks[0].targets));
  });

  it('is deterministic and trains through the usual sampler and worker handle', () => {
    const again = concatTaskDatasets([{ table: A, tasks: [KIND] }, { table: B, tasks: [SIZE] }], { seed: 5, validationFraction: 0.2 });
    expect(Array.from(again.features)).toEqual(Array.from(ds.features));
    expect(shareDataset(ds).tasks.length).toBe(2);
    const sampler = new EpochSampler(labelledIndices(ds.tasks[1], ds.train), 2, 0);
    expect(sampler).toBeDefined();
  });

  it('pools the rows of a task given in several parts', () => {
    const A2 = tableFromRecords('a2.json', [{ x: 50, place: 'south', kind: 'dog' }, { x: 51, place: 'south', kind: 'cat' }]);
    const pooled = concatTaskDatasets([{ table: A, tasks: [KIND] }, { table: B, tasks: [SIZE] }, { table: A2, tasks: [KIND] }]);
    expect(pooled.rows).toBe(18);
    expect(pooled.tasks.map((t) => t.name)).toEqual(['kind', 'size']);
    expect(pooled.tasks[0].labelled).toBe(12);
    expect(Array.from(pooled.tasks[0].targets.subarray(16))).toEqual([1, 0]);
    expect(message(() => concatTaskDatasets([
      { table: A, tasks: [KIND] }, { table: A2, tasks: [{ ...KIND, loss: 'cross_entropy' }] },
    ]))).toBe('a2.json: task "kind" is given again with a different loss or class list (cross_entropy vs bce_with_logits)');
  });

  it('accepts an explicit feature list (extra columns ignored)', () => {
    const C = tableFromRecords('c.json', [{ x: 1, place: 'east', size: 3, note: 'hi' }, { x: 2, place: 'east', size: 4, note: 'yo' }]);
    const d = concatTaskDatasets([{ table: A, tasks: [KIND] }, { table: C, tasks: [SIZE] }], { features: ['x', 'place:category'] });
    expect(d.encoding.names).toEqual(['x', 'place=east', 'place=north', 'place=south']);
  });

  it('rejects parts whose feature columns differ, naming the file and the columns', () => {
    const C = tableFromRecords('c.json', [{ x: 1, where: 'east', size: 3, note: 'hi' }]);
    expect(message(() => concatTaskDatasets([{ table: A, tasks: [KIND] }, { table: C, tasks: [SIZE] }]))).toBe(
      'c.json: its feature columns differ from those of a.json (missing "place"; extra "where", "note"); ' +
      'every part needs the same feature columns (pass the feature list, or drop the extra columns)');
    expect(message(() => concatTaskDatasets([{ table: A, tasks: [KIND] }, { table: C, tasks: [SIZE] }], { features: ['x', 'place'] }))).toBe(
      'c.json: no column "place" (feature); available columns: "x", "where", "size", "note"');
  });

  it('names the file and line of a bad value in a later part', () => {
    const C = tableFromRecords('c.json', [{ x: 1, place: 'east', size: 3 }, { x: 'two', place: 'east', size: 4 }]);
    expect(message(() => concatTaskDatasets([{ table: A, tasks: [KIND] }, { table: C, tasks: [SIZE] }]))).toBe(
      'c.json record 2, column "x": "two" is not a number (the column is numeric)');
    const D = tableFromRecords('d.json', [{ x: 1, place: 'east', size: 3 }, { x: 2, place: 'east', size: 'big' }]);
    expect(message(() => concatTaskDatasets([{ table: A, tasks: [KIND] }, { table: D, tasks: [SIZE] }]))).toBe(
      'd.json record 2, column "size" of d.json (task "size", mse): "big" is not a number (a regression target must be numeric)');
  });

  it('rejects empty parts, missing tasks and a task column that is another part\'s feature', () => {
    expect(message(() => concatTaskDatasets([]))).toContain('no data parts given');
    expect(message(() => concatTaskDatasets([{ table: A, tasks: [] }]))).toContain('a.json: no tasks given for this file');
    const E = tableFromRecords('e.json', [{ x: null, place: 'east', size: 1 }]);
    expect(message(() => concatTaskDatasets([{ table: A, tasks: [KIND] }, { table: E, tasks: [SIZE] }]))).toBe(
      'e.json: every one of the 1 rows misses a feature value, so none is left');
  });

  it('never uses a task\'s target column as a feature, even in a part that does not label that task', () => {
    const F = tableFromRecords('f.json', [{ x: 1, place: 'east', kind: 'cat', size: 2 }, { x: 2, place: 'east', kind: 'dog', size: 3 }]);
    const d = concatTaskDatasets([{ table: A, tasks: [KIND] }, { table: F, tasks: [SIZE] }]);
    expect(d.encoding.columns.map((c) => c.name)).toEqual(['x', 'place']);
    expect(d.tasks[0].labelled).toBe(10); // F's "kind" column labels nothing: F's part labels only "size"
    expect(message(() => concatTaskDatasets([{ table: A, tasks: [KIND] }, { table: F, tasks: [SIZE] }], { features: ['x', 'kind'] }))).toBe(
      'a.json: column "kind" is both a feature and the target of task "kind" (a model must not see its own labels)');
  });
});

describe('loadTaskDatasets', () => {
  const dir = mkdtempSync(join(tmpdir(), 'multitask-parts-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads each file by extension', () => {
    const a = join(dir, 'a.csv'), b = join(dir, 'b.jsonl');
    writeFileSync(a, 'x,label\n1,yes\n2,no\n3,yes\n');
    writeFileSync(b, '{"x": 4, "y": 0.5}\n{"x": 5, "y": 1.5}\n');
    const ds = loadTaskDatasets([
      { path: a, tasks: [{ name: 'label', column: 'label', loss: 'bce_with_logits' }] },
      { path: b, tasks: [{ name: 'y', column: 'y', loss: 'mse' }] },
    ], { validationFraction: 0 });
    expect(ds.rows).toBe(5);
    expect(ds.source).toBe(`${a} + ${b}`);
    expect(ds.tasks.map((t) => t.labelled)).toEqual([3, 2]);
  });
});

describe('datasetFromColumns', () => {
  it('builds from numeric columns viewing one row-major matrix (offset/stride)', () => {
    const m = Float64Array.from([1, 10, 2, 20, 3, 30, 4, 40]);
    const ds = datasetFromColumns({
      source: 'mem',
      rows: 4,
      features: [{ name: 'a', kind: 'numeric', values: m, offset: 0, stride: 2 }, { name: 'b', kind: 'numeric', values: m, offset: 1, stride: 2 }],
      tasks: [{ spec: { name: 't', column: 't', loss: 'mse' }, label: (i) => i, where: (i) => `mem row ${i}` }],
    }, { validationFraction: 0 });
    expect(Array.from(ds.encoding.mean)).toEqual([2.5, 25]);
    expect(Array.from(ds.features.subarray(0, 2)).map((v) => +v.toFixed(4))).toEqual([-1.3416, -1.3416]);
    expect(message(() => datasetFromColumns({ source: 'mem', rows: 0, features: [], tasks: [] }))).toBe('mem: no tasks given (at least one task is needed)');
    expect(message(() => datasetFromColumns({
      source: 'mem', rows: 2, features: [{ name: 'a', kind: 'numeric', values: [1, 2] }],
      tasks: [{ spec: { name: 't', column: 't', loss: 'cross_entropy', classes: ['p', 'q'] }, label: (i) => ['p', 'z'][i], where: (i) => `mem row ${i}` }],
    }))).toBe('mem row 1, column "t" (task "t", cross_entropy): unknown class "z"; expected one of p, q');
  });
});
