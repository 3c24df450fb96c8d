import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tableFromCsv, tableRows } from '../../src/data/table.js';
import type { TaskSpec } from '../../src/data/task-spec.js';
import { Model, METADATA_KEY, MODEL_FORMAT } from '../../src/model/model.js';
import { readSafetensors, saveParameters, writeSafetensors } from '../../src/model/safetensors.js';
import type { Trainer } from '../../src/trainer/trainer.js';
import { createTrainer, sameBits } from '../helpers/trainers.js';
import { userErrorMessage as message } from '../helpers/user-error.js';

const fixture = new URL('../cli/fixtures/penguins.csv', import.meta.url).pathname;
const features = ['Island', 'Beak Length (mm)', 'Beak Depth (mm)', 'Flipper Length (mm)'];
const tasks: TaskSpec[] = [
  { name: 'species', column: 'Species', loss: 'cross_entropy' },
  { name: 'sex', column: 'Sex', loss: 'bce_with_logits' },
  { name: 'mass', column: 'Body Mass (g)', loss: 'mse' },
];
const table = tableFromCsv(fixture);
const featureCols = features.map((f) => table.columns.indexOf(f));
/** The fixture's rows with every feature, as raw records (every column, labels included). */
const records = tableRows(table).filter((row) => featureCols.every((c) => row[c] !== null))
  .map((row) => Object.fromEntries(table.columns.map((c, i) => [c, row[i]])));
const dir = mkdtempSync(join(tmpdir(), 'multitask-model-'));

describe('Model', () => {
  let trainer: Trainer;
  let model: Model;
  let saved: string;

  beforeAll(async () => {
    trainer = await createTrainer({ data: { path: fixture, features }, tasks, workers: 1, seed: 4 });
    await trainer.fit({ epochs: 3 });
    model = trainer.model();
    saved = join(dir, 'trained.safetensors');
    model.save(saved, { note: 'test' });
    // the trainer's threads are not needed any more: everything below runs without them
    await trainer.close();
  });

  it('predicts class names, probabilities and values in the target\'s units', () => {
    const p = model.predict(records.slice(0, 5), { probabilities: true });
    expect(p.species.classes).toHaveLength(5);
    for (const c of p.species.classes!) expect(['Adelie', 'Chinstrap', 'Gentoo']).toContain(c);
    expect(p.species.classNames).toEqual(['Adelie', 'Chinstrap', 'Gentoo']);
    expect(p.species.probabilities).toHaveLength(15);
    expect(p.sex.probabilities).toHaveLength(10); // binary: [p(FEMALE), p(MALE)]
    for (let r = 0; r < 5; r++) expect(p.sex.probabilities![2 * r] + p.sex.probabilities![2 * r + 1]).toBeCloseTo(1, 12);
    for (const v of p.mass.outputs) expect(v).toBeGreaterThan(1000); // grams
    expect(p.mass.classes).toBeUndefined();
    expect(model.predict(records.slice(0, 5)).species.probabilities).toBeUndefined();
  });

  it('writes the preprocessing into the metadata (versioned JSON) and loads from the file alone', () => {
    const meta = readSafetensors(saved).metadata;
    expect(meta.note).toBe('test');
    expect(JSON.parse(meta['multitask.model'])).toEqual(model.spec);
    const m = JSON.parse(meta[METADATA_KEY]);
    expect(m.format).toBe(MODEL_FORMAT);
    expect(m.features.map((f: { name: string }) => f.name)).toEqual(features);
    expect(m.features[0]).toEqual({ name: 'Island', kind: 'categorical', levels: ['Biscoe', 'Dream', 'Torgersen'] });
    expect(m.inputs).toEqual(['Island=Biscoe', 'Island=Dream', 'Island=Torgersen', ...features.slice(1)]);
    expect(m.tasks[0]).toEqual({ name: 'species', column: 'Species', loss: 'cross_entropy', outputs: 3, classes: ['Adelie', 'Chinstrap', 'Gentoo'] });
    expect(m.tasks[2]).toMatchObject({ name: 'mass', loss: 'mse', outputs: 1 });
    expect(m.tasks[2].targetStd).toBeGreaterThan(100);
    expect(m.model).toEqual(model.spec);

    const alone = join(mkdtempSync(join(tmpdir(), 'multitask-alone-')), 'model.safetensors');
    copyFileSync(saved, alone);
    const loaded = Model.load(alone);
    expect(sameBits(loaded.data, model.data)).toBe(true);
    const a = loaded.predict(records, { probabilities: true });
    const b = model.predict(records, { probabilities: true });
    for (const task of ['species', 'sex', 'mass']) {
      expect(sameBits(a[task].outputs, b[task].outputs)).toBe(true);
      expect(a[task].classes).toEqual(b[task].classes);
    }
    // encoded rows give the same as the records they encode
    expect(sameBits(loaded.predict(loaded.encode(records)).mass.outputs, a.mass.outputs)).toBe(true);
  });

  it('evaluate: the same metrics from raw labelled records and from the dataset', () => {
    const fromDataset = model.evaluate({ dataset: trainer.dataset, split: 'all' });
    const fromRecords = model.evaluate(records);
    expect(fromRecords.species).toEqual(fromDataset.species);
    expect(fromRecords.sex).toEqual(fromDataset.sex);
    expect(fromRecords.mass.kind).toBe('regression');
    if (fromRecords.mass.kind !== 'regression' || fromDataset.mass.kind !== 'regression') return;
    // the dataset holds float32 standardized targets; records the raw grams
    expect(fromRecords.mass.rmse / fromDataset.mass.rmse).toBeCloseTo(1, 5);
    expect(fromRecords.mass.count).toBe(fromDataset.mass.count);
    const validation = model.evaluate({ dataset: trainer.dataset });
    expect(validation.species.count).toBe(trainer.dataset.validation.length);
    expect(message(() => model.evaluate([{ ...records[0], Species: 'Dodo' }])))
      .toBe('evaluate record 1, column "Species" (task species): unknown class "Dodo"; expected one of Adelie, Chinstrap, Gentoo');
  });

  it('a file written before the metadata: needs its preprocessing (given, or from its run directory)', () => {
    const old = join(dir, 'old.safetensors');
    saveParameters(old, model, { strategy: 'sum' }); // what train wrote before: the spec, no preprocessing
    expect(readSafetensors(old).metadata[METADATA_KEY]).toBeUndefined();
    Model.legacyPreprocessing = undefined; // as without the package entry
    expect(message(() => Model.load(old))).toMatch(/old\.safetensors: written before weights files carried their preprocessing/);
    const given = Model.load(old, { preprocessing: model.preprocessing });
    expect(sameBits(given.predict(records).mass.outputs, model.predict(records).mass.outputs)).toBe(true);
    let asked = '';
    Model.load(old, { preprocessing: (runDir) => ((asked = runDir), model.preprocessing) });
    expect(asked).toBe(dir);
  });

  it('rejects metadata it cannot use, naming the file and the field', () => {
    const tensors = model.layout.entries.map((e) => ({ name: e.name, shape: e.shape, data: model.data.subarray(e.offset, e.offset + e.size) }));
    const meta = JSON.parse(model.metadataJSON());
    const withMeta = (m: unknown) => {
      const path = join(dir, 'bad.safetensors');
      writeSafetensors(path, tensors, { [METADATA_KEY]: JSON.stringify(m) });
      return path;
    };
    expect(message(() => Model.load(withMeta({ ...meta, format: 2 })))).toContain('format 2 is newer than this multitask reads (1)');
    expect(message(() => Model.load(withMeta({ ...meta, mean: meta.mean.slice(1) })))).toContain('the preprocessing does not fit the model');
    expect(message(() => Model.load(withMeta({ ...meta, tasks: meta.tasks.slice(1) })))).toContain('tasks sex, mass, the model has species, sex, mass');
    expect(message(() => Model.load(withMeta({ ...meta, features: 'x' })))).toContain('metadata "multitask": "features" is not a list');
    expect(message(() => Model.load(join(dir, 'none.safetensors')))).toContain('none.safetensors: no such file');
    expect(message(() => model.predict(new Float32Array(7)))).toBe('predict: 7 feature values are not a whole number of rows of 6');
  });
});
