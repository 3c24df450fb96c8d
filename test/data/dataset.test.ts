import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { unstandardizeTarget } from '../../src/data/dataset.js';
import { buildDataset, loadCsvDataset } from '../../src/data/dataset-from-table.js';
import { MAX_FOUND_CLASSES } from '../../src/data/dataset-from-columns.js';
import { labelledIndices } from '../../src/data/split.js';
import { type Table, tableFromCsv, tableFromRecords, tableRows } from '../../src/data/table.js';
import type { TaskSpec } from '../../src/data/task-spec.js';
import { Rng } from '../../src/util/rng.js';
import { userErrorMessage as message } from '../helpers/user-error.js';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

const TASKS: TaskSpec[] = [
  { name: 'kind', column: 'kind', loss: 'cross_entropy' },
  { name: 'sex', column: 'sex', loss: 'bce_with_logits' },
  { name: 'mass', column: 'mass', loss: 'mse' },
];


/** The table rows buildDataset keeps (no missing feature), in order. */
function keptRows(t: Table, features: string[]): number[] {
  const cols = features.map((f) => t.columns.indexOf(f));
  return tableRows(t).map((_, r) => r).filter((r) => cols.every((c) => tableRows(t)[r][c] !== null));
}

function meanStd(xs: number[]): [number, number] {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  return [m, Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / xs.length)];
}

describe('buildDataset on animals.csv', () => {
  const path = fixture('animals.csv');
  const table = tableFromCsv(path);
  const ds = loadCsvDataset(path, { tasks: TASKS, seed: 7 });
  const kept = keptRows(table, ['island', 'length', 'depth']);
  const raw = (r: number, col: string) => tableRows(table)[kept[r]][table.columns.indexOf(col)];

  it('drops the rows with a missing feature and counts them', () => {
    expect(kept.length).toBe(10);
    expect(ds.rows).toBe(10);
    expect(ds.droppedRows).toBe(2);
    expect(ds.source).toBe(path);
  });

  it('uses every non-target column as a feature by default, one-hot for strings', () => {
    expect(ds.encoding.columns).toEqual([
      { name: 'island', kind: 'categorical', levels: ['Biscoe', 'Dream', 'Torgersen'] },
      { name: 'length', kind: 'numeric' },
      { name: 'depth', kind: 'numeric' },
    ]);
    expect(ds.encoding.names).toEqual(['island=Biscoe', 'island=Dream', 'island=Torgersen', 'length', 'depth']);
    expect(ds.inputWidth).toBe(5);
    expect(ds.features.length).toBe(50);
    expect(ds.features.buffer).toBeInstanceOf(SharedArrayBuffer);
    for (let r = 0; r < ds.rows; r++) {
      const oneHot = Array.from(ds.features.subarray(r * 5, r * 5 + 3));
      const levels = ['Biscoe', 'Dream', 'Torgersen'];
      expect(oneHot).toEqual(levels.map((l) => (l === raw(r, 'island') ? 1 : 0)));
    }
    expect(Array.from(ds.encoding.mean.subarray(0, 3))).toEqual([0, 0, 0]);
    expect(Array.from(ds.encoding.std.subarray(0, 3))).toEqual([1, 1, 1]);
  });

  it('standardizes numeric features with mean/std of the training rows only', () => {
    for (const [c, col] of [[3, 'length'], [4, 'depth']] as const) {
      const trainRaw = Array.from(ds.train, (r) => Number(raw(r, col)));
      const allRaw = Array.from({ length: ds.rows }, (_, r) => Number(raw(r, col)));
      const [m, s] = meanStd(trainRaw);
      expect(ds.encoding.mean[c]).toBeCloseTo(m, 4);
      expect(ds.encoding.std[c]).toBeCloseTo(s, 4);
      expect(Math.abs(meanStd(allRaw)[0] - m)).toBeGreaterThan(1e-3); // fitting on all rows would differ
      const z = Array.from(ds.train, (r) => ds.features[r * 5 + c]);
      const [zm, zs] = meanStd(z);
      expect(zm).toBeCloseTo(0, 5);
      expect(zs).toBeCloseTo(1, 5);
      // every row (validation too) is (x − mean) / std
      for (let r = 0; r < ds.rows; r++) {
        expect(ds.features[r * 5 + c] * ds.encoding.std[c] + ds.encoding.mean[c]).toBeCloseTo(Number(raw(r, col)), 3);
      }
    }
  });

  it('encodes cross_entropy targets as sorted class indices', () => {
    const kind = ds.tasks[0];
    expect(kind).toMatchObject({ name: 'kind', loss: 'cross_entropy', outputs: 3, classes: ['A', 'B', 'C'], labelled: 10 });
    expect(kind.targets.buffer).toBeInstanceOf(SharedArrayBuffer);
    for (let r = 0; r < ds.rows; r++) expect(kind.targets[r]).toBe(['A', 'B', 'C'].indexOf(raw(r, 'kind') as string));
  });

  it('keeps partial labels as NaN and counts the labelled rows', () => {
    const sex = ds.tasks[1];
    expect(sex).toMatchObject({ name: 'sex', loss: 'bce_with_logits', outputs: 1, classes: ['F', 'M'], labelled: 8 });
    for (let r = 0; r < ds.rows; r++) {
      const v = raw(r, 'sex');
      if (v === null) expect(sex.targets[r]).toBeNaN();
      else expect(sex.targets[r]).toBe(v === 'M' ? 1 : 0);
    }
    const mass = ds.tasks[2];
    expect(mass.labelled).toBe(9);
    expect(Array.from(mass.targets).filter(Number.isNaN).length).toBe(1);
    expect(labelledIndices(sex, ds.train).every((r) => raw(r, 'sex') !== null)).toBe(true);
    expect(labelledIndices(sex, Int32Array.from({ length: 10 }, (_, i) => i)).length).toBe(8);
  });

  it('standardizes regression targets on the labelled training rows', () => {
    const mass = ds.tasks[2];
    const rows = Array.from(ds.train).filter((r) => raw(r, 'mass') !== null);
    const [m, s] = meanStd(rows.map((r) => Number(raw(r, 'mass'))));
    expect(mass.outputs).toBe(1);
    expect(mass.classes).toBeUndefined();
    expect(mass.targetMean).toBeCloseTo(m, 6);
    expect(mass.targetStd).toBeCloseTo(s, 6);
    const [zm, zs] = meanStd(rows.map((r) => mass.targets[r]));
    expect(zm).toBeCloseTo(0, 5);
    expect(zs).toBeCloseTo(1, 5);
    for (const r of ds.validation) {
      if (raw(r, 'mass') !== null) expect(unstandardizeTarget(mass, mass.targets[r])).toBeCloseTo(Number(raw(r, 'mass')), 1);
    }
  });

  it('splits 20% to validation, sorted, disjoint, deterministic in the seed', () => {
    expect(ds.validation.length).toBe(2);
    expect(ds.train.length).toBe(8);
    const all = [...ds.train, ...ds.validation].sort((a, b) => a - b);
    expect(all).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(Array.from(ds.train)).toEqual(Array.from(ds.train).sort((a, b) => a - b));
    const again = loadCsvDataset(path, { tasks: TASKS, seed: 7 });
    expect(Array.from(again.validation)).toEqual(Array.from(ds.validation));
    expect(Array.from(again.features)).toEqual(Array.from(ds.features));
    // the documented algorithm: shuffle with new Rng(seed, 0x5917), first round(n·f) to validation
    const order = new Rng(7, 0x5917).shuffle(Int32Array.from({ length: 10 }, (_, i) => i));
    expect(Array.from(ds.validation)).toEqual(Array.from(order.slice(0, 2)).sort((a, b) => a - b));
    // another seed gives another split (for some seed among a few)
    const others = [1, 2, 3].map((seed) => Array.from(loadCsvDataset(path, { tasks: TASKS, seed }).validation).join());
    expect(others.some((v) => v !== Array.from(ds.validation).join())).toBe(true);
  });
});

describe('buildDataset options and records', () => {
  const records = [
    { Species: 'Adelie', Island: 'Dream', flipper: 181, Sex: 'MALE', code: 3 },
    { Species: 'Gentoo', Island: 'Biscoe', flipper: 217, Sex: 'FEMALE', code: 1 },
    { Species: 'Adelie', Island: 'Dream', flipper: 190, Sex: null, code: 10 },
    { Species: 'Chinstrap', Island: 'Dream', flipper: 195, Sex: '.', code: 3 },
  ];
  const table = tableFromRecords('birds.json', records);
  const species: TaskSpec = { name: 'species', column: 'Species', loss: 'cross_entropy' };

  it('supports friendly task names, JSON numbers and forced categorical features (sorted numerically)', () => {
    const ds = buildDataset(table, { tasks: [species], features: ['flipper', 'code:category'], validationFraction: 0 });
    expect(ds.tasks[0].name).toBe('species');
    expect(ds.encoding.columns[1]).toEqual({ name: 'code', kind: 'categorical', levels: ['1', '3', '10'] });
    expect(ds.encoding.names).toEqual(['flipper', 'code=1', 'code=3', 'code=10']);
    expect(ds.validation.length).toBe(0);
    expect(ds.train.length).toBe(4);
  });

  it('takes the class order from the spec; for bce the second class is 1', () => {
    const ds = buildDataset(table, {
      tasks: [
        { name: 'species', column: 'Species', loss: 'cross_entropy', classes: ['Gentoo', 'Chinstrap', 'Adelie'] },
        { name: 'sex', column: 'Sex', loss: 'bce', classes: ['MALE', 'FEMALE'] },
      ],
      features: ['flipper'],
    });
    expect(Array.from(ds.tasks[0].targets)).toEqual([2, 0, 2, 1]);
    expect(Array.from(ds.tasks[1].targets)).toEqual([0, 1, NaN, NaN]);
    expect(ds.tasks[1].labelled).toBe(2);
  });

  it('names the missing column and lists the available ones', () => {
    const m = message(() => buildDataset(table, { tasks: [{ name: 's', column: 'species', loss: 'cross_entropy' }] }));
    expect(m).toBe('birds.json: no column "species" (task "s"); available columns: "Species", "Island", "flipper", "Sex", "code"');
    const f = message(() => buildDataset(table, { tasks: [species], features: ['Flipper'] }));
    expect(f).toContain('no column "Flipper" (feature); available columns: "Species", "Island"');
  });

  it('names file, line, column and value of a non-number in a numeric column', () => {
    const path = fixture('bad-number.csv');
    const m = message(() => loadCsvDataset(path, { tasks: [{ name: 'kind', column: 'kind', loss: 'cross_entropy' }] }));
    expect(m).toBe(`${path} line 5, column "flipper": "abc" is not a number (the column is numeric)`);
    // forced categorical, it is fine
    const ds = loadCsvDataset(path, { tasks: [{ name: 'kind', column: 'kind', loss: 'cross_entropy' }], features: ['flipper:category'] });
    expect(ds.encoding.columns[0].levels).toEqual(['181', '190', '200', 'abc']);
    expect(ds.droppedRows).toBe(1);
  });

  it('rejects a class not in the spec list, naming the row', () => {
    const m = message(() => buildDataset(table, {
      tasks: [{ name: 'species', column: 'Species', loss: 'cross_entropy', classes: ['Adelie', 'Gentoo'] }],
      features: ['flipper'],
    }));
    expect(m).toBe('birds.json record 4, column "Species" (task "species", cross_entropy): unknown class "Chinstrap"; expected one of Adelie, Gentoo');
  });

  it('rejects a binary task whose column has 3 values, naming them', () => {
    const path = fixture('three-sexes.csv');
    const m = message(() => loadCsvDataset(path, { tasks: [{ name: 'sex', column: 'sex', loss: 'bce_with_logits' }] }));
    expect(m).toContain(`${path}, column "sex" (task "sex", bce_with_logits): bce_with_logits needs exactly 2 classes, found 3: F, M, U`);
  });

  it('rejects a non-numeric regression target, a target used as a feature, bad fractions', () => {
    expect(message(() => buildDataset(table, { tasks: [{ name: 'm', column: 'Island', loss: 'mse' }] })))
      .toBe('birds.json record 1, column "Island" (task "m", mse): "Dream" is not a number (a regression target must be numeric)');
    expect(message(() => buildDataset(table, { tasks: [species], features: ['Species', 'flipper'] })))
      .toContain('column "Species" is both a feature and the target of task "species"');
    expect(message(() => buildDataset(table, { tasks: [species], validationFraction: 1 }))).toContain('validation fraction 1 is not in [0, 1)');
    expect(message(() => buildDataset(table, { tasks: [species, species] }))).toContain('two tasks are named "species"');
  });

  it('rejects a categorical feature with too many levels', () => {
    const t = tableFromRecords('ids.json', Array.from({ length: 30 }, (_, i) => ({ id: `u${i}`, y: i % 2 })));
    expect(message(() => buildDataset(t, { tasks: [{ name: 'y', column: 'y', loss: 'bce' }], maxLevels: 20 })))
      .toContain('ids.json, column "id": 30 distinct values, too many for a categorical feature (at most 20)');
  });

  it('rejects a table where every row misses a feature', () => {
    const t = tableFromRecords('e.json', [{ x: null, y: 1 }, { x: 'NA', y: 2 }]);
    expect(message(() => buildDataset(t, { tasks: [{ name: 'y', column: 'y', loss: 'mse' }] }))).toContain('none is left');
  });
});

describe('classification targets', () => {
  const records = (n: number) => Array.from({ length: n }, (_, i) => ({ x: i, y: 1000 + i * 0.37 }));

  it('refuses a continuous column read as class labels (more than MAX_FOUND_CLASSES) unless the classes are listed', () => {
    const table = tableFromRecords('cars.json', records(MAX_FOUND_CLASSES + 29));
    expect(message(() => buildDataset(table, { tasks: [{ name: 'y', column: 'y', loss: 'cross_entropy' }] })))
      .toBe(`cars.json, column "y" (task "y", cross_entropy): ${MAX_FOUND_CLASSES + 29} distinct labels, more than the ${MAX_FOUND_CLASSES} classes a task may find by itself `
        + '(a numeric target? use a regression loss such as mse; or list the classes in the task spec)');
    const classes = records(MAX_FOUND_CLASSES + 29).map((r) => String(r.y));
    expect(buildDataset(table, { tasks: [{ name: 'y', column: 'y', loss: 'cross_entropy', classes }] }).tasks[0].outputs).toBe(MAX_FOUND_CLASSES + 29);
    expect(buildDataset(tableFromRecords('ok.json', records(MAX_FOUND_CLASSES)), { tasks: [{ name: 'y', column: 'y', loss: 'cross_entropy' }] }).tasks[0].outputs)
      .toBe(MAX_FOUND_CLASSES);
  });
});
