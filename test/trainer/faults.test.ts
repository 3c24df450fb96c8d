import { afterEach, describe, expect, it } from 'vitest';
import type { TrainerConfig } from '../../src/trainer/config.js';
import { createTrainer, sameBits } from '../helpers/trainers.js';

afterEach(() => {
  delete process.env.MULTITASK_FAULTS;
});

/** Trains 2 epochs with the given injected faults (workers read MULTITASK_FAULTS when they start). */
async function run(faults: string | undefined, config: TrainerConfig = {}) {
  if (faults) process.env.MULTITASK_FAULTS = faults;
  else delete process.env.MULTITASK_FAULTS;
  // faults are injected in the worker threads: the jobs must stay there (computeOn auto could move them)
  const trainer = await createTrainer({ workers: 2, computeOn: 'workers', seed: 4, batchSize: 64, jobTimeoutMs: 1500, ...config });
  await trainer.fit({ epochs: 2 });
  return { params: trainer.params.data.slice(), warnings: trainer.warnings.splice(0), loop: { ...trainer.loopStats }, placement: trainer.placement };
}


describe('worker faults', () => {
  for (const strategy of ['sum', 'sequential'] as const) {
    it(`a job that throws, a thread that exits and a job that hangs are retried with identical results (${strategy})`, async () => {
      const clean = await run(undefined, { strategy });
      const faulty = await run('throw:1,exit:3:0,hang:5:1', { strategy });
      expect(sameBits(faulty.params, clean.params)).toBe(true);
      expect(faulty.warnings.join('\n')).toMatch(/injected fault/);
      expect(faulty.warnings.join('\n')).toMatch(/no answer within 1500 ms/);
      expect(faulty.warnings.length).toBeGreaterThanOrEqual(3);
    }, 60_000);
  }

  it('under computeOn auto, a chunk a failing job stopped is retried with its cause, with identical results', async () => {
    // the run's first steps are the threads' warm-up: the stopped step is retried there, as a retry of the
    // failed attempt (the warning names the injected fault only when the cause reaches the pool's retry)
    const clean = await run(undefined);
    const faulty = await run('throw:1', { computeOn: 'auto' });
    expect(faulty.placement.placement).toBe('deciding');
    expect(faulty.loop.stoppedEarly).toBe(1);
    expect(sameBits(faulty.params, clean.params)).toBe(true);
    expect(faulty.warnings.join('\n')).toMatch(/injected fault/);
  }, 60_000);

  it('a job failing on every retry stops the run naming the task, the step and the cause', async () => {
    await expect(run('throw:2:1:99', { strategy: 'sequential', jobRetries: 2 })).rejects.toThrow(
      /task sex, step 2: the job failed 3 times; last cause: task sex, step 2, shard 0: injected fault \(attempt 3\)/);
  }, 60_000);
});
