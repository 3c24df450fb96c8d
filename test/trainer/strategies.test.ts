import { describe, expect, it } from 'vitest';
import type { TrainerConfig } from '../../src/trainer/config.js';
import { Trainer } from '../../src/trainer/trainer.js';
import { decodeCheckpoint, encodeCheckpoint, type CheckpointData } from '../../src/trainer/checkpoint.js';
import { createTrainer, sameBits } from '../helpers/trainers.js';


async function trainer(config: TrainerConfig): Promise<Trainer> {
  const t = await createTrainer({ workers: 2, seed: 9, batchSize: 48, model: { trunk: [24], activation: 'relu' }, ...config });
  return t;
}


describe('gradient strategies in the trainer', () => {
  it('the "mean" combination with SGD equals sum with task weights 1/T', async () => {
    const mean = await trainer({ strategy: 'mean', optimizer: { name: 'sgd', lr: 0.1 } });
    const sum = await trainer({ strategy: 'sum', plan: 'per-task', taskWeights: { species: 1 / 3, sex: 1 / 3, body_mass: 1 / 3 }, optimizer: { name: 'sgd', lr: 0.1 } });
    // heads: mean gives each head its own (unscaled) gradient; so compare the trunk only
    await mean.step();
    await sum.step();
    const a = mean.parameters();
    const b = sum.parameters();
    for (const name of ['trunk.0.weight', 'trunk.0.bias']) {
      const d = a[name].reduce((m, x, i) => Math.max(m, Math.abs(x - b[name][i])), 0);
      expect(d, name).toBeLessThan(1e-6);
    }
  });

  it('records diagnostics every step and a conflict summary per epoch', async () => {
    const t = await trainer({ strategy: 'pcgrad' });
    const steps: NonNullable<Trainer['lastStep']['diagnostics']>[] = [];
    const [report] = await t.fit({ epochs: 1, onStep: (s) => { if (s.diagnostics) steps.push(s.diagnostics); } });
    expect(steps.length).toBe(report.steps);
    expect(steps[0].norms).toHaveLength(3);
    expect(steps[0].cosines).toHaveLength(9);
    expect(steps[0].updateCosine).not.toBeNull();
    expect(report.conflict).toMatch(/^conflict: \w+↔\w+ cos −?\d\.\d\d/);
  });

  for (const strategy of ['pcgrad', 'rlw', 'graddrop'] as const) {
    it(`${strategy} (seeded): identical with 1 and 2 workers, and resumes bit for bit`, async () => {
      const a = await trainer({ strategy, workers: 1 });
      const snaps: CheckpointData[] = [];
      await a.fit({ epochs: 2, checkpointEvery: 3, onCheckpoint: (d) => { snaps.push(d); } });
      const b = await trainer({ strategy, workers: 2 });
      await b.fit({ epochs: 2 });
      expect(sameBits(a.params.data, b.params.data)).toBe(true);
      const c = await trainer({ strategy });
      c.restore(decodeCheckpoint(encodeCheckpoint(snaps[2]), 'test'));
      await c.fit({ epochs: 2 - snaps[2].epoch });
      expect(sameBits(c.params.data, a.params.data)).toBe(true);
    });
  }

  it('uncertainty weighting composes with sequential (stale and fresh) and keeps its state across a resume', async () => {
    for (const mode of ['stale', 'fresh'] as const) {
      const a = await trainer({ strategy: 'sequential', sequentialMode: mode, weighting: 'uncertainty' });
      const snaps: CheckpointData[] = [];
      await a.fit({ epochs: 2, checkpointEvery: 4, onCheckpoint: (d) => { snaps.push(d); } });
      const c = await trainer({ strategy: 'sequential', sequentialMode: mode, weighting: 'uncertainty' });
      c.restore(decodeCheckpoint(encodeCheckpoint(snaps[1]), 'test'));
      await c.fit({ epochs: 2 - snaps[1].epoch });
      expect(sameBits(c.params.data, a.params.data)).toBe(true);
      const plain = await trainer({ strategy: 'sequential', sequentialMode: mode });
      await plain.fit({ epochs: 2 });
      expect(sameBits(plain.params.data, a.params.data)).toBe(false);
    }
  });

  it('rejects unknown strategies, bad options and impossible combinations', async () => {
    await expect(trainer({ strategy: 'pcgard' })).rejects.toThrow(/strategy: "pcgard" is not one of sum, sequential, mean, pcgrad/);
    await expect(trainer({ strategy: 'cagrad', strategyOptions: { c: -1 } })).rejects.toThrow(/c/);
    await expect(trainer({ strategy: 'pcgrad', plan: 'fused' })).rejects.toThrow(/plan: "fused" computes the gradient of the summed loss/);
    await expect(trainer({ strategy: 'sum', weighting: 'uncertainty' })).rejects.toThrow(/weighting: composes with strategy "sequential"/);
    await expect(trainer({ strategy: 'sequential', weighting: 'pcgrad' })).rejects.toThrow(/weighting: "pcgrad" is not one of/);
  });
});
