import { describe, expect, it } from 'vitest';
import { Trainer } from '../../src/trainer/trainer.js';
import type { TrainerConfig } from '../../src/trainer/config.js';
import { expectClose, fixture, fixtureDataset, rows } from '../helpers/torch-fixture.js';
import { createTrainer } from '../helpers/trainers.js';


/** A trainer on the PyTorch fixture's rows, one batch of all rows per step, starting from the fixture's parameters. */
async function fixtureTrainer(config: TrainerConfig): Promise<Trainer> {
  // the fixture's rows as they are (not standardized, every row trains): a prebuilt Dataset (internal option)
  const trainer = await createTrainer({
    model: { trunk: fixture.model.trunk.map((l) => ({ units: l.out, activation: l.activation })), heads: { sex: { hidden: { units: 4, activation: 'gelu' } } } },
    batchSize: rows,
    workers: 2,
    ...config,
  }, { dataset: fixtureDataset() });
  trainer.loadParameters(fixture.parameters);
  return trainer;
}

const sgdPerTaskLr = { optimizer: { name: 'sgd' as const, lr: 1 }, taskLr: fixture.sequentialLr };

describe('sum over the worker pool', () => {
  for (const plan of ['fused', 'per-task'] as const) {
    for (const shards of [1, 3]) {
      it(`one Adam step on Σ w·L matches PyTorch (${plan} plan, ${shards} shard(s))`, async () => {
        const trainer = await fixtureTrainer({
          strategy: 'sum', plan, shards, taskWeights: fixture.lossWeights,
          optimizer: { name: 'adam', lr: fixture.adam.lr },
        });
        await trainer.step();
        // Adam's first step moves each weight by ≈ lr·sign(g): compare the update, not just the parameters
        expectClose(trainer.parameters(), fixture.float64.adamStep, 2e-4, 1e-6);
      });
    }
  }
});

describe('sequential', () => {
  it('fresh: each task steps at the parameters the previous task left (PyTorch, two rounds of SGD)', async () => {
    const trainer = await fixtureTrainer({ strategy: 'sequential', sequentialMode: 'fresh', ...sgdPerTaskLr });
    await trainer.step();
    expectClose(trainer.parameters(), fixture.float64.sequentialFresh[0], 1e-4, 1e-6);
    await trainer.step();
    expectClose(trainer.parameters(), fixture.float64.sequentialFresh[1], 1e-4, 1e-6);
  });

  it('stale: every gradient at the round\'s starting parameters, then the steps in order (PyTorch)', async () => {
    const trainer = await fixtureTrainer({ strategy: 'sequential', sequentialMode: 'stale', ...sgdPerTaskLr });
    await trainer.step();
    expectClose(trainer.parameters(), fixture.float64.sequentialStale[0], 1e-4, 1e-6);
    await trainer.step();
    expectClose(trainer.parameters(), fixture.float64.sequentialStale[1], 1e-4, 1e-6);
  });

  it('stale with plain SGD equals one summed step with per-task learning rates as weights', async () => {
    const stale = await fixtureTrainer({ strategy: 'sequential', sequentialMode: 'stale', ...sgdPerTaskLr });
    const summed = await fixtureTrainer({ strategy: 'sum', taskWeights: fixture.sequentialLr, optimizer: { name: 'sgd', lr: 1 } });
    await stale.step();
    await summed.step();
    const expected = Object.fromEntries(Object.entries(summed.parameters()).map(([k, v]) => [k, Array.from(v)]));
    expectClose(stale.parameters(), expected, 1e-5, 1e-7);
  });

  it('fresh differs from stale once the trunk is shared (task 2 sees task 1\'s step)', async () => {
    const fresh = await fixtureTrainer({ strategy: 'sequential', sequentialMode: 'fresh', ...sgdPerTaskLr });
    const stale = await fixtureTrainer({ strategy: 'sequential', sequentialMode: 'stale', ...sgdPerTaskLr });
    await fresh.step();
    await stale.step();
    const a = fresh.parameters()['trunk.0.weight'];
    const b = stale.parameters()['trunk.0.weight'];
    expect(Math.max(...a.map((x, i) => Math.abs(x - b[i])))).toBeGreaterThan(1e-5);
  });
});

describe('plans and shards', () => {
  const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);
  const trained = async (config: TrainerConfig) => {
    const trainer = await createTrainer({ workers: 2, seed: 5, batchSize: 64, optimizer: { name: 'sgd', lr: 0.05 }, ...config });
    await trainer.fit({ epochs: 2 });
    return trainer.params.data.slice();
  };

  it('fused and per-task plans train to the same parameters (SGD, fixed seed)', async () => {
    const fused = await trained({ plan: 'fused' });
    const perTask = await trained({ plan: 'per-task' });
    expect(maxDiff(fused, perTask)).toBeLessThan(1e-5);
  });

  it('sharding changes results only by float rounding', async () => {
    const one = await trained({ shards: 1 });
    const four = await trained({ shards: 4 });
    expect(maxDiff(one, four)).toBeLessThan(1e-5);
  });

  it('profiles every step: parts are non-negative and the step total covers them', async () => {
    const trainer = await createTrainer({ workers: 2, seed: 5 });
    const [report] = await trainer.fit({ epochs: 1 });
    const t = report.timing;
    for (const part of ['compute', 'transport', 'idle', 'reduce', 'combine', 'optimizer'] as const) expect(t[part]).toBeGreaterThanOrEqual(0);
    expect(t.compute).toBeGreaterThan(0);
    expect(t.total).toBeGreaterThan(0);
    expect(t.compute + t.reduce + t.optimizer).toBeLessThanOrEqual(t.total * 1.05);
    expect(trainer.profile.steps).toBe(report.steps);
  });
});

describe('determinism', () => {
  it('the same seed gives bit-identical parameters with 1, 2 and 4 workers', async () => {
    const results: Float32Array[] = [];
    for (const workers of [1, 2, 4]) {
      for (const strategy of ['sum', 'sequential'] as const) {
        const trainer = await createTrainer({ workers, strategy, seed: 3, batchSize: 64, shards: 2, model: { trunk: [16], activation: 'relu' } });
        await trainer.fit({ epochs: 2 });
        results.push(trainer.params.data.slice());
        await trainer.close();
      }
    }
    for (let i = 2; i < results.length; i++) expect(Buffer.from(results[i].buffer).equals(Buffer.from(results[i % 2].buffer))).toBe(true);
    expect(Buffer.from(results[0].buffer).equals(Buffer.from(results[1].buffer))).toBe(false);
  });
});

describe('API', () => {
  it('fit reports per-task metrics, evaluate and predict work, close ends the pool', async () => {
    const trainer = await createTrainer({ workers: 2, seed: 1 });
    const epochs: number[] = [];
    const reports = await trainer.fit({ epochs: 3, onEpoch: (r) => { epochs.push(r.epoch); } });
    expect(epochs).toEqual([0, 1, 2]);
    expect(Object.keys(reports[2].validation)).toEqual(['species', 'sex', 'body_mass']);
    expect(reports[2].train.species.metricName).toBe('accuracy');
    expect(reports[2].train.body_mass.metricName).toBe('rmse');
    expect(reports[2].train.species.loss).toBeLessThan(reports[0].train.species.loss);
    const prediction = trainer.predict([{ Island: 'Biscoe', 'Beak Length (mm)': 47.5, 'Beak Depth (mm)': 15, 'Flipper Length (mm)': 218 }]);
    expect(prediction.species.classes).toEqual(['Gentoo']);
    expect(prediction.body_mass.outputs[0]).toBeGreaterThan(2500);
    expect(prediction.body_mass.outputs[0]).toBeLessThan(7000);
    const named = trainer.parameters();
    expect(named['trunk.0.weight'].length).toBe(64 * trainer.dataset.inputWidth);
    await trainer.close();
    await expect(trainer.step()).rejects.toThrow(/closed/);
  });

  it('rejects bad configuration with the field named', async () => {
    await expect(Trainer.create({ strategy: 'both' as never })).rejects.toThrow(/strategy: "both" is not one of sum, sequential/);
    await expect(Trainer.create({ taskLr: { species: 0.1 } })).rejects.toThrow(/taskLr: per-task learning rates need the "sequential" strategy/);
    await expect(Trainer.create({ strategy: 'sequential', taskLr: { beak: 0.1 } })).rejects.toThrow(/taskLr: unknown task "beak"/);
    await expect(Trainer.create({ batchSize: 0 })).rejects.toThrow(/batchSize: 0 is not a positive integer/);
  });
});

describe('learning-rate schedules', () => {
  it('SGD with a step schedule (γ = 0.5 every step) equals steps at lr, then lr/2', async () => {
    const scheduled = await fixtureTrainer({ strategy: 'sum', optimizer: { name: 'sgd', lr: 0.2 }, schedule: { kind: 'step', stepSize: 1, gamma: 0.5 } });
    const first = await fixtureTrainer({ strategy: 'sum', optimizer: { name: 'sgd', lr: 0.2 } });
    await scheduled.step();
    await first.step();
    expect(Buffer.from(scheduled.params.data.buffer).equals(Buffer.from(first.params.data.buffer))).toBe(true);
    const before = scheduled.params.data.slice();
    await scheduled.step();
    await first.step();
    // same gradient point as `first`'s second step, half the step
    const a = scheduled.params.data;
    const fullStep = first.params.data;
    for (let i = 0; i < a.length; i += 7) expect(a[i] - before[i]).toBeCloseTo((fullStep[i] - before[i]) / 2, 6);
  });

  it('rejects a schedule that does not fit before any worker starts', async () => {
    await expect(Trainer.create({ optimizer: { name: 'adam', lr: 0.01 }, schedule: { kind: 'cosine', minLr: 0.1, totalSteps: 10 } }))
      .rejects.toThrow(/schedule.minLr: 0.1 is above the learning rate/);
    await expect(Trainer.create({ taskSchedules: { species: { kind: 'constant' } } })).rejects.toThrow(/need the "sequential" strategy/);
  });
});
