import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadCsvDataset } from '../../src/data/dataset-from-table.js';
import { tableFromCsv, tableRows } from '../../src/data/table.js';
import type { TaskSpec } from '../../src/data/task-spec.js';
import {
  encodeFeatures, encodeRecords, encodingFromJSON, encodingToJSON, preprocessingOf,
} from '../../src/model/preprocessing.js';
import { userErrorMessage as message } from '../helpers/user-error.js';

const path = fileURLToPath(new URL('../data/fixtures/animals.csv', import.meta.url));
const TASKS: TaskSpec[] = [
  { name: 'kind', column: 'kind', loss: 'cross_entropy' },
  { name: 'sex', column: 'sex', loss: 'bce_with_logits' },
  { name: 'mass', column: 'mass', loss: 'mse' },
];

describe('encodeFeatures', () => {
  const ds = loadCsvDataset(path, { tasks: TASKS, seed: 3 });
  const table = tableFromCsv(path);
  const featureCols = ['island', 'length', 'depth'].map((f) => table.columns.indexOf(f));
  // the rows the dataset keeps: no feature missing
  const records = tableRows(table).filter((row) => featureCols.every((c) => row[c] !== null))
    .map((row) => Object.fromEntries(table.columns.map((c, i) => [c, row[i]])));

  it('encodes raw records exactly like the dataset rows (numbers or numeric strings)', () => {
    expect(Array.from(encodeFeatures(ds, records))).toEqual(Array.from(ds.features));
    const asNumbers = records.map((rec) => ({ ...rec, length: Number(rec.length), depth: Number(rec.depth) }));
    expect(Array.from(encodeRecords(encodingFromJSON(JSON.parse(JSON.stringify(encodingToJSON(ds.encoding)))), asNumbers)))
      .toEqual(Array.from(ds.features));
  });

  it('rejects unknown levels, missing and non-numeric values', () => {
    const base = { island: 'Dream', length: 44, depth: 17 };
    expect(message(() => encodeFeatures(ds, [base, { ...base, island: 'Atlantis' }])))
      .toBe('input record 2, column "island": "Atlantis" is not a known level; expected one of Biscoe, Dream, Torgersen');
    expect(message(() => encodeFeatures(ds, [{ island: 'Dream', length: 44 }], 'new.json')))
      .toContain('new.json record 1, column "depth": missing value');
    expect(message(() => encodeFeatures(ds, [{ ...base, length: 'long' }])))
      .toBe('input record 1, column "length": "long" is not a number (the column is numeric)');
    expect(message(() => encodeFeatures(ds, [{ ...base, depth: Infinity }])))
      .toBe('input record 1, column "depth": Infinity is not a number (the column is numeric)');
  });

  it('preprocessingOf: the encoding, classes and target scaling of a dataset, as copies', () => {
    const p = preprocessingOf(ds);
    expect(p.features.names).toEqual(ds.encoding.names);
    expect(p.features.mean).not.toBe(ds.encoding.mean);
    expect(Array.from(p.features.mean)).toEqual(Array.from(ds.encoding.mean));
    expect(p.tasks.map((t) => [t.name, t.column, t.loss])).toEqual(TASKS.map((t) => [t.name, t.column, t.loss]));
    expect(p.tasks[0].classes).toEqual(ds.tasks[0].classes);
    expect(p.tasks[2]).toMatchObject({ targetMean: ds.tasks[2].targetMean, targetStd: ds.tasks[2].targetStd });
    expect(p.tasks[0].targetStd).toBeUndefined();
  });
});
