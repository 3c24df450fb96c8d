import { afterEach, describe, expect, it } from 'vitest';
import type { TrainerConfig } from '../../src/trainer/config.js';
import type { Trainer } from '../../src/trainer/trainer.js';
import { NonFiniteError, RunError, UserError } from '../../src/util/errors.js';
import { createTrainer, sameBits } from '../helpers/trainers.js';

afterEach(() => {
  delete process.env.MULTITASK_FAULTS;
});

// 400 rows, 320 for training: with batchSize 319 each epoch ends on a batch of one row,
// which leaves every shard but the last empty (the first shard's slot must not be summed)
const data: TrainerConfig['data'] = { synthetic: { rows: 400, tasks: 3, seed: 9, kinds: ['regression', 'classification', 'regression'] } };
const base: TrainerConfig = { data, model: { trunk: [24, 16] }, batchSize: 40, seed: 3 };

async function trained(config: TrainerConfig, steps: number): Promise<Trainer> {
  const trainer = await createTrainer({ ...base, ...config });
  await trainer.step(steps);
  return trainer;
}

/**
 * Trains `steps` steps one at a time on the coordinator and back to back on two
 * threads, where some are not finite: both skip the same steps and end on the
 * same bits, and the threads' chunks stopped early at those steps.
 */
async function skipsAlike(config: TrainerConfig, steps: number): Promise<[Trainer, Trainer]> {
  const alone = await trained({ ...config, computeOn: 'coordinator' }, steps);
  const looped = await trained({ ...config, computeOn: 'workers', workers: 2 }, steps);
  expect(alone.skippedSteps).toBeGreaterThan(0);
  expect(looped.skippedSteps).toBe(alone.skippedSteps);
  expect(looped.loopStats.stoppedEarly).toBeGreaterThan(0);
  expect(sameBits(looped.params.data, alone.params.data)).toBe(true);
  return [alone, looped];
}

const optimizers = {
  adam: { name: 'adam', lr: 0.01 },
  adamw: { name: 'adamw', lr: 0.01, weightDecay: 0.05 },
  'sgd nesterov': { name: 'sgd', lr: 0.05, momentum: 0.9, nesterov: true },
  sgd: { name: 'sgd', lr: 0.05 },
} as const;

describe('fused steps back to back on the worker threads', () => {
  for (const [name, optimizer] of Object.entries(optimizers)) {
    it(`leave the same bits as one step at a time on the coordinator (${name}; 1–3 workers, 1–3 shards)`, async () => {
      for (const [workers, shards] of [[2, 2], [1, 3], [3, 2], [2, 1]]) {
        const config: TrainerConfig = { optimizer, shards };
        const alone = await trained({ ...config, computeOn: 'coordinator' }, 25);
        const looped = await trained({ ...config, computeOn: 'workers', workers }, 25);
        expect(looped.loopStats.steps, `${workers} workers`).toBe(25);
        expect(sameBits(looped.params.data, alone.params.data), `${workers} workers, ${shards} shards`).toBe(true);
        const [a, b] = [alone.snapshot(), looped.snapshot()];
        expect(b.optimizers[0].stepCount).toBe(a.optimizers[0].stepCount);
        for (const key of Object.keys(a.optimizers[0].buffers)) {
          expect(sameBits(b.optimizers[0].buffers[key], a.optimizers[0].buffers[key]), key).toBe(true);
        }
        expect(b.trainTotals).toEqual(a.trainTotals);
        expect(looped.lastStep.losses).toEqual(alone.lastStep.losses);
      }
    }, 60_000);
  }

  // two shards: Adam sums and steps in one pass, but not where a shard is empty
  it.each([3, 2])('an epoch that ends on a one-row batch (empty first shards) gives the same bits, through fit and through step(n) (%i shards)', async (shards) => {
    const config: TrainerConfig = { batchSize: 319, shards, optimizer: optimizers.adam };
    const alone = await createTrainer({ ...config, ...base, batchSize: 319, computeOn: 'coordinator' });
    expect(alone.dataset.train.length % 319).toBe(1);
    await alone.fit({ epochs: 3 });
    const fitted = await createTrainer({ ...base, ...config, computeOn: 'workers', workers: 2 });
    await fitted.fit({ epochs: 3 });
    const stepped = await trained({ ...config, computeOn: 'workers', workers: 2 }, 6);
    expect(fitted.loopStats.steps).toBe(6);
    expect(sameBits(fitted.params.data, alone.params.data)).toBe(true);
    expect(sameBits(stepped.params.data, alone.params.data)).toBe(true);
  }, 60_000);

  it('a chunk stops at a non-finite step, which is skipped as on the coordinator', async () => {
    // plain SGD at an absurd rate overflows within a few steps
    await skipsAlike({ optimizer: { name: 'sgd', lr: 1e18 }, onNonFinite: 'skip', maxSkips: 1000 }, 40);
  }, 60_000);

  it('onNonFinite stop ends the run with the same error as on the coordinator', async () => {
    const config: TrainerConfig = { optimizer: { name: 'sgd', lr: 1e18 }, onNonFinite: 'stop' };
    const failure = async (computeOn: 'coordinator' | 'workers') => {
      const trainer = await createTrainer({ ...base, ...config, computeOn });
      return trainer.step(40).then(() => undefined, (e: Error) => e);
    };
    const alone = await failure('coordinator');
    const looped = await failure('workers');
    expect(alone).toBeInstanceOf(NonFiniteError);
    expect(looped).toBeInstanceOf(NonFiniteError);
    expect(looped!.message).toBe(alone!.message);
  }, 60_000);

  it('a job failing on every retry stops the run naming the tasks, the step and the cause', async () => {
    process.env.MULTITASK_FAULTS = 'throw:7::99';
    const trainer = await createTrainer({ ...base, computeOn: 'workers', workers: 2, jobRetries: 1 });
    const error = await trainer.step(20).then(() => undefined, (e: Error) => e);
    expect(error).toBeInstanceOf(RunError);
    expect(error!.message).toMatch(/^task task_0\+task_1\+task_2, step 7: the job failed 2 times; last cause: task task_0\+task_1\+task_2, step 7, shard \d: injected fault \(attempt 2\)$/);
    expect(trainer.warnings.join('\n')).toMatch(/attempt 1 failed: task task_0\+task_1\+task_2, step 7, shard \d: injected fault \(attempt 1\); retrying/);
    // the steps before the failing one were applied, and nothing of it
    expect(trainer.steps).toBe(7);
  }, 60_000);

  it('a thread lost while the threads update their slices stops the run: that step cannot be retried', async () => {
    process.env.MULTITASK_FAULTS = 'exit-update:6';
    const trainer = await createTrainer({ ...base, computeOn: 'workers', workers: 2 });
    const error = await trainer.step(20).then(() => undefined, (e: Error) => e);
    expect(error).toBeInstanceOf(RunError);
    expect(error!.message).toMatch(/^step 6: a worker thread failed while the threads were updating their slices of the parameters, which cannot be undone; the run stops here \(a checkpoint written before stays intact\)\. Cause: the worker /);
    expect(trainer.steps).toBe(6);
  }, 60_000);

  it('the profile splits a chunk\'s time into its parts', async () => {
    const trainer = await createTrainer({ ...base, computeOn: 'workers', workers: 2 });
    const started = performance.now();
    await trainer.step(60);
    const wall = performance.now() - started;
    const t = trainer.profile.perStep();
    // the steps' totals are the chunks' own time (the steps of a chunk do not overlap, however late a thread wakes): most of the call's wall time
    expect(trainer.profile.steps).toBe(60);
    expect(t.total * 60).toBeLessThanOrEqual(wall * 1.01);
    expect(t.total * 60).toBeGreaterThan(wall * 0.3);
    expect(trainer.loopStats.chunks).toBeLessThan(60);
    expect(t.compute).toBeGreaterThan(0);
    expect(t.reduce).toBeGreaterThan(0);
    expect(t.optimizer).toBeGreaterThan(0);
    const parts = t.compute + t.transport + t.idle + t.reduce + t.optimizer;
    expect(parts).toBeLessThanOrEqual(t.total * 1.0001);
    expect(parts).toBeGreaterThanOrEqual(t.total * 0.9999);
    // one shard (40 rows) on two threads: the second has nothing to compute (the compute part adds its bookkeeping)
    const byWorker = trainer.profile.computeByWorker();
    expect(byWorker).toHaveLength(2);
    expect(byWorker[0]).toBeGreaterThan(0);
    expect(byWorker[0]).toBeLessThanOrEqual(t.compute);
    expect(byWorker[1]).toBe(0);
  }, 60_000);

  it('the profile gives each thread\'s own compute, whose mean is the compute part', async () => {
    const trainer = await createTrainer({ ...base, shards: 2, computeOn: 'workers', workers: 2 });
    await trainer.step(30);
    expect(trainer.loopStats.steps).toBe(30);
    const byWorker = trainer.profile.computeByWorker();
    expect(byWorker).toHaveLength(2);
    expect(byWorker.every((ms) => ms > 0)).toBe(true);
    expect((byWorker[0] + byWorker[1]) / 2).toBeCloseTo(trainer.profile.perStep().compute, 9);
    trainer.profile.reset();
    expect(trainer.profile.computeByWorker()).toEqual([]);
  }, 60_000);

  it('runs only where the threads can take the update slice by slice', async () => {
    const clipped = await trained({ computeOn: 'workers', workers: 2, clipGradNorm: 1 }, 5);
    // a strategy that keeps state (gradvac), one that reads the losses (uncertainty), sequential with a loss weighting
    const stateful = await trained({ computeOn: 'workers', workers: 2, strategy: 'gradvac' }, 5);
    const losses = await trained({ computeOn: 'workers', workers: 2, strategy: 'uncertainty' }, 5);
    const weighted = await trained({ computeOn: 'workers', workers: 2, strategy: 'sequential', weighting: 'dwa' }, 5);
    for (const trainer of [clipped, stateful, losses, weighted]) expect(trainer.loopStats.steps).toBe(0);
  }, 60_000);
});

describe('per-task steps back to back on the worker threads', () => {
  // every Gramian-only strategy without state or losses, a loss weighting among them (rlw, seeded), and sum on the per-task plan
  const strategies: TrainerConfig[] = [
    { strategy: 'pcgrad' }, { strategy: 'sum', plan: 'per-task' }, { strategy: 'mgda' }, { strategy: 'upgrad' },
    { strategy: 'cagrad', strategyOptions: { c: 0.4 } }, { strategy: 'rlw' }, { strategy: 'nashmtl' }, { strategy: 'imtlg' },
  ];
  for (const strategy of strategies) {
    it(`${JSON.stringify(strategy)}: the same bits and diagnostics as one step at a time on the coordinator`, async () => {
      for (const [workers, shards] of [[2, 2], [3, 3]]) {
        const config: TrainerConfig = { ...strategy, shards, optimizer: optimizers.adam };
        const alone = await trained({ ...config, computeOn: 'coordinator' }, 20);
        const looped = await trained({ ...config, computeOn: 'workers', workers }, 20);
        expect(looped.loopStats.steps, `${workers} workers`).toBe(20);
        expect(sameBits(looped.params.data, alone.params.data), `${workers} workers, ${shards} shards`).toBe(true);
        expect(looped.lastStep.diagnostics).toEqual(alone.lastStep.diagnostics);
        expect(looped.lastStep.diagnostics?.weights).toHaveLength(3);
        expect(looped.snapshot().trainTotals).toEqual(alone.snapshot().trainTotals);
      }
    }, 60_000);
  }

  it('a non-finite step ends the chunk and is skipped as on the coordinator', async () => {
    await skipsAlike({ strategy: 'pcgrad', optimizer: { name: 'sgd', lr: 1e18 }, onNonFinite: 'skip', maxSkips: 1000 }, 30);
  }, 60_000);

  it('step(count) refuses a count that is not a positive integer', async () => {
    const trainer = await createTrainer({ ...base, computeOn: 'coordinator' });
    for (const count of [0, -1, 1.5, Number.NaN]) await expect(trainer.step(count)).rejects.toThrow(UserError);
    await expect(trainer.step(0)).rejects.toThrow('step: count 0 is not a positive integer');
  });
});

describe('sequential steps back to back on the worker threads', () => {
  const cases: [string, TrainerConfig][] = [
    ['stale, Adam, a task rate', { sequentialMode: 'stale', optimizer: optimizers.adam, taskLr: { task_1: 0.003 } }],
    ['fresh, SGD with Nesterov momentum, a task rate', { sequentialMode: 'fresh', optimizer: optimizers['sgd nesterov'], taskLr: { task_0: 0.02 } }],
    ['fresh, AdamW, a task schedule', { sequentialMode: 'fresh', optimizer: optimizers.adamw, taskSchedules: { task_2: { kind: 'cosine', totalSteps: 20 } } }],
  ];
  for (const [label, config] of cases) {
    it(`${label}: the same bits, optimizer states and diagnostics as one step at a time on the coordinator`, async () => {
      for (const [workers, shards] of [[2, 2], [3, 3], [1, 2]]) {
        const run = { strategy: 'sequential', ...config, shards } as TrainerConfig;
        const alone = await trained({ ...run, computeOn: 'coordinator' }, 20);
        const looped = await trained({ ...run, computeOn: 'workers', workers }, 20);
        expect(looped.loopStats.steps, `${workers} workers`).toBe(20);
        expect(sameBits(looped.params.data, alone.params.data), `${workers} workers, ${shards} shards`).toBe(true);
        expect(looped.params.version).toBe(alone.params.version);
        const [a, b] = [alone.snapshot(), looped.snapshot()];
        a.optimizers.forEach((o, t) => {
          expect(b.optimizers[t].stepCount).toBe(o.stepCount);
          for (const key of Object.keys(o.buffers)) expect(sameBits(b.optimizers[t].buffers[key], o.buffers[key]), `task ${t} ${key}`).toBe(true);
        });
        expect(b.trainTotals).toEqual(a.trainTotals);
        expect(looped.lastStep.diagnostics).toEqual(alone.lastStep.diagnostics);
      }
    }, 60_000);
  }

  it('fresh: a task whose round is not finite ends the chunk there; the step goes on from that task, as on the coordinator', async () => {
    // the other tasks' updates of the step stay applied (what sequential fresh does)
    const [alone, looped] = await skipsAlike({
      strategy: 'sequential', optimizer: { name: 'sgd', lr: 1e18 }, taskLr: { task_0: 0.01 }, onNonFinite: 'skip', maxSkips: 1000,
    }, 30);
    expect(looped.snapshot().optimizers.map((o) => o.stepCount)).toEqual(alone.snapshot().optimizers.map((o) => o.stepCount));
  }, 60_000);

  it('fresh: a failed job of a later task is retried from that task, with the same bits', async () => {
    const config: TrainerConfig = { strategy: 'sequential', optimizer: optimizers.adam };
    const clean = await trained({ ...config, computeOn: 'workers', workers: 2 }, 12);
    process.env.MULTITASK_FAULTS = 'throw:5:2';
    const faulty = await trained({ ...config, computeOn: 'workers', workers: 2 }, 12);
    expect(faulty.warnings.join('\n')).toMatch(/^worker fault: task_2: attempt 1 failed: task task_2, step 5, shard \d: injected fault \(attempt 1\); retrying$/m);
    expect(faulty.loopStats.stoppedEarly).toBeGreaterThan(0);
    expect(sameBits(faulty.params.data, clean.params.data)).toBe(true);
  }, 60_000);
});


describe('mixture models back to back on the worker threads', () => {
  const models: TrainerConfig['model'][] = [
    { architecture: 'mmoe', experts: 3, expert: [16] },
    { architecture: 'ple', experts: 2, taskExperts: 1, expert: [16], levels: 2 },
  ];
  for (const model of models) {
    it(`${model!.architecture}: sum, pcgrad and sequential fresh give the same bits as on the coordinator`, async () => {
      for (const strategy of [{ strategy: 'sum' }, { strategy: 'pcgrad' }, { strategy: 'sequential' }] as TrainerConfig[]) {
        const config: TrainerConfig = { ...strategy, model, shards: 2 };
        const alone = await trained({ ...config, computeOn: 'coordinator' }, 15);
        const looped = await trained({ ...config, computeOn: 'workers', workers: 2 }, 15);
        expect(looped.loopStats.steps, strategy.strategy).toBe(15);
        expect(sameBits(looped.params.data, alone.params.data), strategy.strategy).toBe(true);
      }
    }, 60_000);
  }
});
