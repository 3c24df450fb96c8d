import { describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION } from '../../src/protocol/codec.js';
import type { TrainerConfig } from '../../src/trainer/config.js';
import { InlineRunner } from '../../src/trainer/inline-runner.js';
import { createTrainer, sameBits } from '../helpers/trainers.js';

const SMALL: TrainerConfig = { seed: 3, batchSize: 48, shards: 3, epochs: 2, model: { trunk: [16, 8], activation: 'relu' } };

async function trainedWith(config: TrainerConfig): Promise<{ params: Float32Array; placement: string }> {
  const trainer = await createTrainer({ ...SMALL, ...config });
  await trainer.fit();
  return { params: trainer.params.data.slice(), placement: trainer.placement.placement };
}

describe('computeOn coordinator: the jobs on the coordinator thread', () => {
  for (const strategy of ['sum', 'pcgrad', 'sequential'] as const) {
    it(`${strategy}: the same bits as on the worker threads`, async () => {
      const threads = await trainedWith({ strategy, workers: 2, computeOn: 'workers' });
      const inline = await trainedWith({ strategy, workers: 2, computeOn: 'coordinator' });
      expect(threads.placement).toBe('workers');
      expect(inline.placement).toBe('coordinator');
      expect(sameBits(inline.params, threads.params)).toBe(true);
    });
  }

  it('auto chooses a side after the timed turns, with the same bits', async () => {
    const trainer = await createTrainer({ ...SMALL, workers: 2 });
    expect(trainer.config.computeOn).toBe('auto');
    await trainer.step();
    expect(trainer.placement).toEqual({ placement: 'deciding' });
    // an epoch (6 steps) a call, as fit() takes them, until auto has warmed both sides up and timed them
    let steps = 1;
    while (trainer.placement.placement === 'deciding' && steps < 50_000) {
      await trainer.step(6);
      steps += 6;
    }
    await trainer.step(6);
    steps += 6;
    const chosen = trainer.placement;
    expect(['workers', 'coordinator']).toContain(chosen.placement);
    expect(chosen.workersMs).toBeGreaterThan(0);
    expect(chosen.coordinatorMs).toBeGreaterThan(0);
    expect(chosen.placement).toBe(chosen.coordinatorMs! < chosen.workersMs! ? 'coordinator' : 'workers');
    // the reference takes the same steps on the worker threads only
    const reference = await createTrainer({ ...SMALL, workers: 2, computeOn: 'workers' });
    await reference.step(steps);
    expect(sameBits(trainer.params.data, reference.params.data)).toBe(true);
  });

  it('steps on the coordinator leave the event loop its turns (signals, output, timers)', async () => {
    const trainer = await createTrainer({ ...SMALL, epochs: 40, workers: 1, computeOn: 'coordinator' });
    let stepsWhenTimerFired: number | undefined;
    setTimeout(() => (stepsWhenTimerFired = trainer.steps), 5);
    await trainer.fit();
    expect(stepsWhenTimerFired).toBeDefined();
    expect(stepsWhenTimerFired!).toBeLessThan(trainer.steps);
  });

  it('a job that fails stops the run naming the task, the step and the shard', async () => {
    const trainer = await createTrainer({ ...SMALL, workers: 1, computeOn: 'coordinator' });
    await trainer.step();
    // a job expecting parameters the store does not hold: what a lost update would look like
    const runner = (trainer as unknown as { pool: InlineRunner }).pool;
    expect(runner).toBeInstanceOf(InlineRunner);
    const job = { kind: 'gradient' as const, v: PROTOCOL_VERSION, step: 7, version: 999, shard: 1, slot: 1, tasks: [0], scales: [1], rowStart: 0, rowCount: 4, separate: false, attempt: 0 };
    await expect(runner.runJobs([job])).rejects.toThrow(/^task \w+, step 7, shard 1: parameters are at version \d+, the job expected 999$/);
  });

  it('coordinator with a cluster is refused, naming the field', async () => {
    await expect(createTrainer({ computeOn: 'coordinator', cluster: { url: 'nats://127.0.0.1:1' } }))
      .rejects.toThrow('computeOn: "coordinator" computes on this process only; with cluster use "workers" or "auto"');
  });
});
