/**
 * Final weights pinned before the renovation (issue 11): every strategy, plan,
 * optimizer, schedule and clipping mode at a fixed seed must end with exactly
 * the bits recorded in test/fixtures/pinned-weights.json for this machine's
 * kernel instruction set. A refactor that changes any of them changes what a
 * run computes.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { kernelInfo } from '../../src/kernels/index.js';
import type { TrainerConfig } from '../../src/trainer/config.js';
import { createTrainer } from '../helpers/trainers.js';

const fixture = JSON.parse(readFileSync(new URL('../fixtures/pinned-weights.json', import.meta.url), 'utf8')) as {
  steps: Record<string, number>;
  sha256: Record<string, Record<string, string>>;
};

const COMBINATIONS = ['mean', 'pcgrad', 'mgda', 'cagrad', 'imtlg', 'aligned_mtl', 'upgrad', 'dualproj', 'gradvac', 'graddrop',
  'nashmtl', 'fairgrad', 'fixed', 'uncertainty', 'dwa', 'rlw', 'gradnorm'];

const CASES: Record<string, TrainerConfig> = {
  'sum fused adam': {},
  'sum per-task adam': { plan: 'per-task' },
  'sequential fresh sgd momentum taskLr': {
    strategy: 'sequential', optimizer: { name: 'sgd', lr: 0.05, momentum: 0.9 }, taskLr: { species: 0.02, sex: 0.05, body_mass: 0.01 },
  },
  'sequential stale adamw': { strategy: 'sequential', sequentialMode: 'stale', optimizer: { name: 'adamw', lr: 0.01 } },
  'sequential fresh + dwa': { strategy: 'sequential', weighting: 'dwa' },
  'sequential stale + uncertainty': { strategy: 'sequential', sequentialMode: 'stale', weighting: 'uncertainty' },
  'sequential fresh + gradnorm': { strategy: 'sequential', weighting: 'gradnorm' },
  'sum clip global': { clipGradNorm: 0.5, clipPer: 'global' },
  'sum per-task clip task': { plan: 'per-task', clipGradNorm: 0.5, clipPer: 'task' },
  'pcgrad clip task': { strategy: 'pcgrad', clipGradNorm: 0.5, clipPer: 'task' },
  'sum cosine schedule': { schedule: { kind: 'cosine', warmupSteps: 3, totalSteps: 30 } },
  'sequential step schedules': {
    strategy: 'sequential', schedule: { kind: 'step', stepSize: 4, gamma: 0.5 }, taskSchedules: { sex: { kind: 'cosine', totalSteps: 20 } },
  },
  'sum trunk 32x3 head hidden, weights': {
    // a layer with its own activation: a {units, activation} entry among the widths
    model: { trunk: [32, { units: 32, activation: 'tanh' }, 32], activation: 'relu', heads: { species: { hidden: { units: 8, activation: 'relu' } } } },
    taskWeights: { sex: 0.5, body_mass: 2 },
  },
  ...Object.fromEntries(COMBINATIONS.map((s) => [s, { strategy: s }])),
  'cagrad c=0.2': { strategy: 'cagrad', strategyOptions: { c: 0.2 } },
  'fixed weights': { strategy: 'fixed', strategyOptions: { weights: [1, 0.5, 2] } },
};

const { isa } = kernelInfo();
const pinned = fixture.sha256[isa];

describe(`final weights pinned per case (kernels: ${isa})`, () => {
  it('the fixture covers this instruction set and every case', () => {
    expect(pinned, `no pinned weights for instruction set ${isa}`).toBeDefined();
    expect(Object.keys(pinned).sort()).toEqual(Object.keys(CASES).sort());
  });

  for (const [label, config] of Object.entries(CASES)) {
    it(label, async () => {
      const trainer = await createTrainer({ batchSize: 32, seed: 3, workers: 1, ...config });
      await trainer.fit({ epochs: 2 });
      expect(trainer.steps).toBe(fixture.steps[label]);
      const p = trainer.params.data;
      const hash = createHash('sha256').update(Buffer.from(p.buffer, p.byteOffset, p.byteLength)).digest('hex');
      expect(hash).toBe(pinned[label]);
    });
  }
});
