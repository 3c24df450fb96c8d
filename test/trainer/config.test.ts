/**
 * The one config schema through the API: the same one-line errors as a config
 * file, in-memory arrays equal to the same data read from a file, bounded
 * messages for pathological values, the legacy hash of older checkpoints.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Dataset } from '../../src/data/dataset.js';
import { configHash } from '../../src/trainer/checkpoint.js';
import { resolveConfig, type TrainerConfig } from '../../src/trainer/config.js';
import { loadData } from '../../src/trainer/data-source.js';
import { legacyConfigHash, runConfig } from '../../src/trainer/legacy-config.js';
import { Trainer } from '../../src/trainer/trainer.js';
import { writeNpy } from '../helpers/npy.js';
import { createTrainer, sameBits } from '../helpers/trainers.js';

async function userError(config: unknown): Promise<Error> {
  const err = await Trainer.create(config as TrainerConfig).then(() => undefined, (e: Error) => e);
  expect(err?.name).toBe('UserError');
  expect(err!.message.includes('\n')).toBe(false);
  return err!;
}

describe('Trainer.create validates like a config file', () => {
  it('a misspelled key is a one-line UserError naming the field', async () => {
    expect((await userError({ optimizr: { lr: 0.1 } })).message).toMatch(/^Trainer\.create: unknown key "optimizr" \(did you mean "optimizer"\?\); known keys: \$schema, name, runsDir, data,/);
    expect((await userError({ optimizer: { learningRate: 0.1 } })).message).toMatch(/^Trainer\.create: optimizer: unknown key "learningRate"/);
    expect((await userError({ batchSize: '32' })).message).toBe('Trainer.create: batchSize: "32" is not a positive integer');
    expect((await userError({ optimizer: { name: 'adam', momentum: 0.9 } })).message).toMatch(/optimizer\.momentum: 0\.9 is not used by adam/);
    expect((await userError({ strategy: 'cagrad', strategyOptions: { c: -1 } })).message).toMatch(/^Trainer\.create: .*c/);
  });

  it('a value nested thousands deep gives a one-line error, not a stack overflow', async () => {
    let deep: unknown = 1;
    for (let i = 0; i < 5000; i++) deep = [deep];
    const err = await userError({ model: { trunk: deep } });
    expect(err.message).toMatch(/^Trainer\.create: model\.trunk\[0\]: \[+\.\.\.\]+ is not a positive integer$/);
    expect(err.message.length).toBeLessThan(200);
  });

  it('fills every default in the schema, the derived ones after parsing', () => {
    const c = resolveConfig({ epochs: 7, schedule: { kind: 'cosine' }, clipGradNorm: 1, optimizer: { name: 'adamw' } });
    expect(c).toMatchObject({ validation: 0.2, model: { trunk: [64, 64], activation: 'relu' }, strategy: 'sum', batchSize: 32, seed: 0, clipPer: 'global' });
    expect(c.schedule).toEqual({ kind: 'cosine', totalEpochs: 7 });
    expect(c.optimizer).toMatchObject({ name: 'adamw', lr: 0.01, weightDecay: 0.01, betas: [0.9, 0.999], eps: 1e-8 });
    expect(resolveConfig({}).clipPer).toBeUndefined();
    expect(c.data).toEqual({ kind: 'builtin', builtin: 'penguins' });
  });

  it('fit() trains the config\'s epochs by default', async () => {
    const t = await createTrainer({ epochs: 2, workers: 1, batchSize: 64, model: { trunk: [8] } });
    expect((await t.fit()).length).toBe(2);
  });
});

/** Every typed field of two datasets, bit for bit. */
function expectSameData(a: Dataset, b: Dataset): void {
  expect(a.rows).toBe(b.rows);
  expect(a.inputWidth).toBe(b.inputWidth);
  expect(a.encoding.names).toEqual(b.encoding.names);
  expect(sameBits(a.features, b.features)).toBe(true);
  expect(sameBits(a.encoding.mean, b.encoding.mean)).toBe(true);
  expect(sameBits(a.encoding.std, b.encoding.std)).toBe(true);
  expect([...a.train]).toEqual([...b.train]);
  expect([...a.validation]).toEqual([...b.validation]);
  a.tasks.forEach((t, i) => {
    expect(t.classes).toEqual(b.tasks[i].classes);
    expect(sameBits(t.targets, b.tasks[i].targets)).toBe(true);
  });
}

describe('in-memory arrays (data.kind "arrays")', () => {
  const dir = mkdtempSync(join(tmpdir(), 'multitask-arrays-'));
  const n = 60;
  const bill = Array.from({ length: n }, (_, i) => 30 + ((i * 7) % 23) * 0.5);
  const island = Array.from({ length: n }, (_, i) => ['Dream', 'Biscoe', 'Torgersen'][i % 3]);
  const species = Array.from({ length: n }, (_, i) => (i % 5 === 0 ? null : ['Adelie', 'Gentoo'][(i * 3) % 2]));
  const mass = Array.from({ length: n }, (_, i) => 3000 + i * 17);
  const tasks = [{ name: 'species', loss: 'cross_entropy' as const }, { name: 'mass', loss: 'mse' as const }];

  it('columns equal the same table read from a CSV file, bit for bit', () => {
    const csv = join(dir, 'p.csv');
    writeFileSync(csv, `bill,island,species,mass\n${bill.map((b, i) => `${b},${island[i]},${species[i] ?? ''},${mass[i]}`).join('\n')}\n`);
    const fromFile = loadData(resolveConfig({ data: { path: csv }, tasks, seed: 5 }));
    const fromArrays = loadData(resolveConfig({ data: { kind: 'arrays', columns: { bill, island }, targets: { species, mass: Float64Array.from(mass) } }, tasks, seed: 5 }));
    expectSameData(fromArrays, fromFile);
    const selected = loadData(resolveConfig({ data: { kind: 'arrays', columns: { bill, island, species, mass }, features: ['bill'] }, tasks, seed: 5 }));
    expect(selected.encoding.names).toEqual(['bill']);
  });

  it('a matrix equals the same matrix and targets from .npy files, bit for bit', () => {
    const x = Array.from({ length: n * 2 }, (_, i) => Math.sin(i) * 3);
    const side = Array.from({ length: n }, (_, i) => (x[2 * i] > 0 ? 1 : 0));
    const value = Array.from({ length: n }, (_, i) => (i === 4 ? NaN : x[2 * i] - x[2 * i + 1]));
    writeNpy(join(dir, 'x.npy'), '<f8', [n, 2], x);
    writeNpy(join(dir, 'side.npy'), '<f8', [n], side);
    writeNpy(join(dir, 'value.npy'), '<f8', [n], value);
    const npyTasks = [{ name: 'side', loss: 'bce_with_logits' as const, classes: ['0', '1'] }, { name: 'value', loss: 'mse' as const }];
    const fromFile = loadData(resolveConfig({ data: { path: join(dir, 'x.npy') }, tasks: npyTasks.map((t) => ({ ...t, targets: join(dir, `${t.name}.npy`) })) }));
    const rows = Array.from({ length: n }, (_, r) => [x[2 * r], x[2 * r + 1]]);
    const fromRows = loadData(resolveConfig({ data: { kind: 'arrays', matrix: rows, targets: { side, value } }, tasks: npyTasks }));
    const fromTyped = loadData(resolveConfig({ data: { kind: 'arrays', matrix: Float64Array.from(x), width: 2, targets: { side, value } }, tasks: npyTasks }));
    expectSameData(fromRows, fromFile);
    expectSameData(fromTyped, fromFile);
  });

  it('lengths are checked with messages naming the field, the value and what was expected', () => {
    expect(() => loadData(resolveConfig({ data: { kind: 'arrays', columns: { bill, island: island.slice(1) }, targets: { species, mass } }, tasks })))
      .toThrow(/data\.columns\["island"\]: 59 values; expected 60 \(the length of data\.columns\["bill"\]\)/);
    expect(() => loadData(resolveConfig({ data: { kind: 'arrays', matrix: [[1, 2], [3]], targets: { y: [1, 2] } }, tasks: [{ name: 'y', loss: 'mse' }] })))
      .toThrow(/data\.matrix\[1\]: 1 values; expected 2/);
    expect(() => loadData(resolveConfig({ data: { kind: 'arrays', columns: { bill }, targets: { species } }, tasks })))
      .toThrow(/data\.targets: missing the labels of task "mass"/);
    expect(() => resolveConfig({ data: { kind: 'arrays', columns: { bill: [true] } }, tasks })).toThrow(/data\.columns\.bill/);
  });

  it('trains through Trainer.create', async () => {
    const t = await createTrainer({ data: { kind: 'arrays', columns: { bill, island }, targets: { species, mass } }, tasks, workers: 1, model: { trunk: [4] } });
    expect(t.dataset.tasks.map((d) => d.name)).toEqual(['species', 'mass']);
    await t.fit({ epochs: 1 });
  });

  it('a task\'s comment is free text: it does not change the run\'s config hash (a resume still matches)', async () => {
    const base = { data: { kind: 'arrays' as const, columns: { bill, island }, targets: { species, mass } }, workers: 1, model: { trunk: [4] } };
    const plain = await createTrainer({ ...base, tasks });
    const commented = await createTrainer({ ...base, tasks: tasks.map((t) => ({ ...t, comment: 'init guessed this task: is it a target?' })) });
    const other = await createTrainer({ ...base, tasks, seed: 1 });
    expect(commented.configHash).toBe(plain.configHash);
    expect(other.configHash).not.toBe(plain.configHash);
  });
});

describe('older run directories', () => {
  it('format 1 (the old API shape) and format 2 convert to the config-file shape', () => {
    const f1 = runConfig({ format: 1, trainer: { trunk: [{ units: 8, activation: 'tanh' }], validationFraction: 0.3, lrSchedule: { kind: 'step', stepSize: 2 }, clipGradNorm: { max: 1, per: 'task' }, plan: 'per-task', workers: 4 }, epochs: 3, checkpointEvery: 10, keepCheckpoints: 2 }, 'old.json');
    expect(f1).toEqual({ model: { trunk: [8], activation: 'tanh' }, validation: 0.3, schedule: { kind: 'step', stepSize: 2 }, clipGradNorm: 1, clipPer: 'task', plan: 'per-task', epochs: 3, checkpointEvery: 10, keepCheckpoints: 2 });
    expect(runConfig({ format: 2, config: { epochs: 4 } }, 'old.json')).toEqual({ epochs: 4 });
    expect(() => runConfig({ format: 9 }, 'old.json')).toThrow(/old\.json: run config format 9/);
  });

  it('the legacy hash is what the earlier version hashed (its resolved API config, workers left out)', () => {
    const old = {
      onNonFinite: 'stop', clipGradNorm: null, jobTimeoutMs: 120000, lrSchedule: null, taskLrSchedules: {}, jobRetries: 2,
      data: { kind: 'penguins' }, trunk: [{ units: 64, activation: 'relu' }, { units: 64, activation: 'relu' }], heads: {}, taskWeights: {},
      strategy: 'sum', strategyOptions: {}, weighting: null, sequentialMode: 'fresh', plan: 'auto', optimizer: { name: 'adam', lr: 0.01 },
      taskLr: {}, batchSize: 32, shards: 'auto', seed: 0, validationFraction: 0.2,
    };
    const dataset = { source: 'penguins', rows: 1, inputWidth: 1 } as Dataset;
    expect(legacyConfigHash(resolveConfig({}), dataset)).toBe(configHash(old));
  });
});
