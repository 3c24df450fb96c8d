import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mixtureOf, resolveConfig, type TrainerConfig } from '../../src/trainer/config.js';
import { decodeCheckpoint, encodeCheckpoint, type CheckpointData } from '../../src/trainer/checkpoint.js';
import { Model } from '../../src/model/model.js';
import { createTrainer, sameBits } from '../helpers/trainers.js';

// the built-in penguins: three tasks (classification and regression)
const MODELS: Record<string, TrainerConfig['model']> = {
  mmoe: { architecture: 'mmoe', experts: 3, expert: [12], tower: [6] },
  ple: { architecture: 'ple', experts: 2, taskExperts: 1, levels: 2, expert: [8, 6], tower: [] },
};

const trainer = (model: TrainerConfig['model'], config: TrainerConfig) =>
  createTrainer({ workers: 2, seed: 4, batchSize: 48, shards: 2, model, ...config });

describe.each(Object.keys(MODELS))('%s in the trainer', (name) => {
  const model = MODELS[name];

  const strategies: [string, TrainerConfig][] = [
    ['sum, fused plan', { strategy: 'sum', plan: 'fused' }],
    ['sum, per-task plan', { strategy: 'sum', plan: 'per-task' }],
    ['sequential fresh, per-task learning rates', { strategy: 'sequential', sequentialMode: 'fresh', taskLr: { species: 0.01, sex: 0.003 } }],
    ['sequential stale', { strategy: 'sequential', sequentialMode: 'stale' }],
    ['pcgrad', { strategy: 'pcgrad' }],
    ['gradnorm', { strategy: 'gradnorm' }],
  ];
  it.each(strategies)('%s: bit-identical with 1 and 2 workers, and resumes bit for bit', async (_, config) => {
    const a = await trainer(model, { ...config, workers: 1 });
    const snaps: CheckpointData[] = [];
    await a.fit({ epochs: 2, checkpointEvery: 4, onCheckpoint: (d) => { snaps.push(d); } });
    const b = await trainer(model, config);
    await b.fit({ epochs: 2 });
    expect(sameBits(a.params.data, b.params.data)).toBe(true);
    const c = await trainer(model, config);
    c.restore(decodeCheckpoint(encodeCheckpoint(snaps[1]), 'test'));
    await c.fit({ epochs: 2 - snaps[1].epoch });
    expect(sameBits(c.params.data, a.params.data)).toBe(true);
  });

  it('class weights weigh a tower\'s loss as a head\'s: the run changes, and stays identical with 1 and 2 workers', async () => {
    const plain = await trainer(model, { workers: 1 });
    await plain.fit({ epochs: 1 });
    const a = await trainer(model, { workers: 1, classWeights: { species: 'balanced' } });
    await a.fit({ epochs: 1 });
    const b = await trainer(model, { classWeights: { species: 'balanced' } });
    await b.fit({ epochs: 1 });
    expect(sameBits(a.params.data, b.params.data)).toBe(true);
    expect(sameBits(a.params.data, plain.params.data)).toBe(false);
  });

  it('the fused and the per-task plan take the same SGD steps (float32 rounding apart)', async () => {
    const sgd = { name: 'sgd' as const, lr: 0.05 };
    const fused = await trainer(model, { strategy: 'sum', plan: 'fused', optimizer: sgd });
    const perTask = await trainer(model, { strategy: 'sum', plan: 'per-task', optimizer: sgd });
    const start = fused.params.data.slice();
    for (let i = 0; i < 3; i++) {
      await fused.step();
      await perTask.step();
    }
    let moved = 0;
    for (let i = 0; i < start.length; i++) {
      expect(Math.abs(fused.params.data[i] - perTask.params.data[i])).toBeLessThan(1e-5);
      moved = Math.max(moved, Math.abs(fused.params.data[i] - start[i]));
    }
    expect(moved).toBeGreaterThan(1e-3);
  });

  it('reports each gate\'s mean expert weights per epoch; saves weights that load, predict and evaluate', async () => {
    const t = await trainer(model, {});
    const [report] = await t.fit({ epochs: 1 });
    const gates = Object.entries(report.gates!);
    expect(gates.length).toBe(name === 'mmoe' ? 3 : 3 * 2 + 1);
    for (const [, weights] of gates) {
      const values = Object.values(weights);
      expect(values.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 5);
      for (const v of values) expect(v).toBeGreaterThan(0);
    }
    const file = join(mkdtempSync(join(tmpdir(), 'mt-mixture-')), 'w.safetensors');
    t.model().save(file);
    const loaded = Model.load(file);
    expect(loaded.spec.mixture?.architecture).toBe(name);
    const x = t.dataset.features.subarray(0, 5 * t.dataset.inputWidth);
    expect(loaded.predict(x).species.outputs).toEqual(t.predict(x).species.outputs);
    const evaluated = loaded.evaluate({ dataset: t.dataset });
    expect((evaluated.species as { accuracy: number }).accuracy).toBeCloseTo(report.validation.species.metric, 6);
  });
});

describe('config', () => {
  it('fills in the defaults of each architecture; widths take model.activation unless a layer gives its own', () => {
    const relu = (units: number) => ({ units, activation: 'relu' });
    expect(mixtureOf(resolveConfig({}).model)).toBeUndefined();
    expect(mixtureOf(resolveConfig({ model: { architecture: 'mmoe' } }).model))
      .toEqual({ architecture: 'mmoe', experts: 4, taskExperts: 0, levels: 1, expert: [relu(32)], tower: [relu(16)] });
    expect(mixtureOf(resolveConfig({ model: { architecture: 'ple' } }).model))
      .toEqual({ architecture: 'ple', experts: 2, taskExperts: 1, levels: 2, expert: [relu(32)], tower: [relu(16)] });
    expect(mixtureOf(resolveConfig({ model: { architecture: 'ple', activation: 'tanh', expert: [8, { units: 4, activation: 'gelu' }], tower: [] } }).model))
      .toMatchObject({ expert: [{ units: 8, activation: 'tanh' }, { units: 4, activation: 'gelu' }], tower: [] });
  });

  it('rejects mixture fields that do not fit the architecture, naming the field', async () => {
    await expect(createTrainer({ model: { experts: 3 } })).rejects.toThrow(/model.experts: only for architecture mmoe or ple \(model.architecture is "shared"\)/);
    await expect(createTrainer({ model: { architecture: 'mmoe', levels: 2 } })).rejects.toThrow(/model.levels: only for architecture ple/);
    await expect(createTrainer({ model: { architecture: 'ple', heads: { species: { hidden: { units: 4 } } } } }))
      .rejects.toThrow(/model.heads.species.hidden: a ple model gives each task a tower/);
    await expect(createTrainer({ model: { architecture: 'moe' as never } })).rejects.toThrow(/model.architecture/);
  });
});
