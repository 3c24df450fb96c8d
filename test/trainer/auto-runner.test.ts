import { describe, expect, it } from 'vitest';
import { AutoRunner, TIMED_ROUNDS, WARM_ROUNDS } from '../../src/trainer/auto-runner.js';
import type { JobRunner, WorkerPool } from '../../src/trainer/pool.js';

/** A runner whose every round takes `ms` milliseconds; counts rounds and closes. */
function fakeRunner(ms: number) {
  const runner = {
    size: 1,
    finishedAt: new Float64Array(1),
    rounds: 0,
    closed: false,
    async warm() {},
    async runJobs() {
      runner.rounds++;
      await new Promise((resolve) => setTimeout(resolve, ms));
    },
    async close() {
      runner.closed = true;
    },
  };
  return runner;
}

const ROUNDS_TO_DECIDE = 2 * WARM_ROUNDS + 2 * TIMED_ROUNDS;

async function rounds(runner: JobRunner, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await runner.runJobs([]);
}

describe('computeOn auto', () => {
  it('warms both sides, alternates, then keeps the coordinator when its rounds are shorter and closes the threads', async () => {
    const pool = fakeRunner(4);
    const inline = fakeRunner(0);
    let heard: unknown;
    const auto = new AutoRunner(pool, inline, (c) => (heard = c));
    await rounds(auto, ROUNDS_TO_DECIDE);
    expect(auto.placement().placement).toBe('deciding');
    expect([pool.rounds, inline.rounds]).toEqual([WARM_ROUNDS + TIMED_ROUNDS, WARM_ROUNDS + TIMED_ROUNDS]);
    await rounds(auto, 5);
    expect(auto.placement().placement).toBe('coordinator');
    expect(heard).toEqual(auto.placement());
    expect(auto.placement().workersMs).toBeGreaterThan(auto.placement().coordinatorMs!);
    expect(inline.rounds).toBe(WARM_ROUNDS + TIMED_ROUNDS + 5);
    expect(pool.closed).toBe(true);
  });

  it('keeps the worker threads when their rounds are shorter', async () => {
    const pool = fakeRunner(0);
    const inline = fakeRunner(4);
    const auto = new AutoRunner(pool, inline);
    await rounds(auto, ROUNDS_TO_DECIDE + 3);
    expect(auto.placement().placement).toBe('workers');
    expect(pool.rounds).toBe(WARM_ROUNDS + TIMED_ROUNDS + 3);
    expect(pool.closed).toBe(false);
    await auto.close();
    expect(pool.closed).toBe(true);
  });

  it('times the threads by chunks of steps where they run fused steps back to back, against single steps inline', async () => {
    const pool = Object.assign(fakeRunner(0), { stepLoop: () => pool as unknown as WorkerPool });
    const inline = fakeRunner(2);
    const auto = new AutoRunner(pool, inline);
    // what the trainer does: a chunk on the threads when the loop is offered (reporting its time per step), else a step inline
    let chunks = 0;
    for (let i = 0; i < ROUNDS_TO_DECIDE + 3; i++) {
      if (auto.stepLoop()) {
        chunks++;
        await auto.chunkTimed(0.25);
      } else {
        await auto.runJobs([]);
      }
    }
    expect(auto.placement()).toEqual({ placement: 'workers', workersMs: 0.25, coordinatorMs: expect.any(Number) });
    expect(auto.placement().coordinatorMs).toBeGreaterThan(1);
    expect(chunks).toBe(WARM_ROUNDS + TIMED_ROUNDS + 3);
    expect(inline.rounds).toBe(WARM_ROUNDS + TIMED_ROUNDS);
    expect(pool.rounds).toBe(0);
  });
});
