import { describe, expect, it } from 'vitest';
import { AutoRunner, type AutoTiming } from '../../src/trainer/auto-runner.js';
import type { WorkerPool } from '../../src/trainer/pool.js';

/** A fake clock (milliseconds): the fake runners' rounds advance it instead of taking time, so the tests are exact. */
const clock = { now: 0 };
const spend = (ms: number) => {
  clock.now += ms;
};

/** A runner whose every round takes `ms` milliseconds (the first `slow.rounds` take `slow.ms`); counts rounds and closes. */
function fakeRunner(ms: number, slow = { rounds: 0, ms }) {
  const runner = {
    size: 1,
    finishedAt: new Float64Array(1),
    rounds: 0,
    closed: false,
    async warm() {},
    async runJobs() {
      runner.rounds++;
      spend(runner.rounds <= slow.rounds ? slow.ms : ms);
    },
    async close() {
      runner.closed = true;
    },
  };
  return runner;
}

// warm-ups counted in calls only, so the tests know which call goes where
const WARM_CALLS = 8;
const TIMED_TURNS = 16;
const COUNTED: AutoTiming = { warmCalls: WARM_CALLS, warmSteps: 0, warmMs: 0, timedTurns: TIMED_TURNS, turnMs: 0 };
/** Calls on each side until auto decides: its warm-up, then turns of a waking call and a sample. */
const CALLS_EACH = WARM_CALLS + 2 * TIMED_TURNS;
const CALLS_TO_DECIDE = 2 * CALLS_EACH;

/**
 * What the trainer does for `n` calls: a chunk of `chunk.steps` steps on the threads
 * when auto offers the step loop (reporting `chunk.ms`), else one step of `rounds`
 * rounds taken alone, timed as a whole.
 */
async function calls(auto: AutoRunner, n: number, rounds = 1, chunk = { steps: 4, ms: 1 }): Promise<{ chunks: number }> {
  let chunks = 0;
  for (let i = 0; i < n; i++) {
    if (auto.stepLoop()) {
      chunks++;
      await auto.stepsTimed(chunk.steps, chunk.ms);
      continue;
    }
    const started = clock.now;
    for (let r = 0; r < rounds; r++) await auto.runJobs([]);
    await auto.stepsTimed(1, clock.now - started);
  }
  return { chunks };
}

describe('computeOn auto', () => {
  it('warms both sides, alternates, then keeps the coordinator when its steps are shorter and closes the threads', async () => {
    const pool = fakeRunner(4);
    const inline = fakeRunner(0);
    let heard: unknown;
    const auto = new AutoRunner(pool, inline, (c) => (heard = c), COUNTED);
    await calls(auto, CALLS_TO_DECIDE - 1);
    expect(auto.placement().placement).toBe('deciding');
    expect([pool.rounds, inline.rounds]).toEqual([CALLS_EACH, CALLS_EACH - 1]);
    await calls(auto, 1);
    expect(auto.placement().placement).toBe('coordinator');
    expect(heard).toEqual(auto.placement());
    expect(auto.placement()).toEqual({ placement: 'coordinator', workersMs: 4, coordinatorMs: 0 });
    expect(pool.closed).toBe(true);
    await calls(auto, 5);
    expect(inline.rounds).toBe(CALLS_EACH + 5);
  });

  it('keeps the worker threads when their steps are shorter', async () => {
    const pool = fakeRunner(0);
    const inline = fakeRunner(4);
    const auto = new AutoRunner(pool, inline, undefined, COUNTED);
    await calls(auto, CALLS_TO_DECIDE + 3);
    expect(auto.placement().placement).toBe('workers');
    expect(pool.rounds).toBe(CALLS_EACH + 3);
    expect(pool.closed).toBe(false);
    await auto.close();
    expect(pool.closed).toBe(true);
  });

  it('sends every round of a step to one side and compares whole steps (sequential: a round per task)', async () => {
    // a round costs 2 ms on either side; the threads run 3-round steps back to back at 3 ms a step,
    // the coordinator takes them one by one (6 ms): a round-by-round comparison would pick the coordinator
    const pool = Object.assign(fakeRunner(2), { stepLoop: () => pool as unknown as WorkerPool });
    const inline = fakeRunner(2);
    const auto = new AutoRunner(pool, inline, undefined, COUNTED);
    const { chunks } = await calls(auto, CALLS_TO_DECIDE + 3, 3, { steps: 8, ms: 24 });
    expect(auto.placement()).toEqual({ placement: 'workers', workersMs: 3, coordinatorMs: 6 });
    expect(chunks).toBe(CALLS_EACH + 3);
    // the coordinator's turns took every round of their step: none went to the threads
    expect(inline.rounds).toBe(3 * CALLS_EACH);
    expect(pool.rounds).toBe(0);
  });

  it('warms each side up for some steps or some time, so a side still being optimized is not timed', async () => {
    // the coordinator's first 40 rounds take 4 ms (V8 has not optimized its code yet), then none; the threads 2 ms
    const decide = async (warm: Partial<AutoTiming>) => {
      const auto = new AutoRunner(fakeRunner(2), fakeRunner(0, { rounds: 40, ms: 4 }), undefined, { ...COUNTED, ...warm });
      while (auto.placement().placement === 'deciding') await calls(auto, 1);
      return auto.placement().placement;
    };
    // 36 steps, or 150 ms, of warm-up take all but a few of the slow rounds; 8 calls alone would leave every sample slow
    expect(await decide({ warmSteps: 36, warmMs: Infinity })).toBe('coordinator');
    expect(await decide({ warmSteps: Infinity, warmMs: 150 })).toBe('coordinator');
    expect(await decide({})).toBe('workers');
  });

  it('does not time the call that wakes a side up after the other\'s turn', async () => {
    // the threads' first round after a coordinator step takes 12 ms (a sleeping thread woken), the next ones 1 ms;
    // the coordinator's steps 3 ms
    let wokenAfterInline = false;
    const inline = fakeRunner(3);
    const inlineRun = inline.runJobs;
    inline.runJobs = async () => {
      wokenAfterInline = true;
      await inlineRun();
    };
    const pool = fakeRunner(1);
    const poolRun = pool.runJobs;
    pool.runJobs = async () => {
      if (wokenAfterInline) {
        wokenAfterInline = false;
        spend(12);
      }
      await poolRun();
    };
    const auto = new AutoRunner(pool, inline, undefined, COUNTED);
    await calls(auto, CALLS_TO_DECIDE);
    expect(auto.placement()).toEqual({ placement: 'workers', workersMs: 1, coordinatorMs: 3 });
  });

  it('takes a turn\'s sample over its calls after the waking one until they add up to turnMs', async () => {
    // the coordinator's steps take 1 ms, the first two after the threads' turn 7 and 4; the threads' 2 ms
    let sinceThreads = 0;
    const pool = fakeRunner(2);
    const poolRun = pool.runJobs;
    pool.runJobs = async () => {
      sinceThreads = 0;
      await poolRun();
    };
    const inline = fakeRunner(1);
    const inlineRun = inline.runJobs;
    inline.runJobs = async () => {
      spend([6, 3][sinceThreads++] ?? 0);
      await inlineRun();
    };
    const decide = async (turnMs: number) => {
      const auto = new AutoRunner(pool, inline, undefined, { ...COUNTED, turnMs });
      while (auto.placement().placement === 'deciding') await calls(auto, 1);
      return auto.placement();
    };
    // one call after the waking one: the 4 ms step is the sample
    expect(await decide(0)).toEqual({ placement: 'workers', workersMs: 2, coordinatorMs: 4 });
    // 12 ms of calls: the slow step among eight quick ones
    expect(await decide(12)).toEqual({ placement: 'coordinator', workersMs: 2, coordinatorMs: 12 / 9 });
  });

  it('times the threads by chunks where they run steps back to back, and picks the coordinator when its steps are shorter', async () => {
    const pool = Object.assign(fakeRunner(0), { stepLoop: () => pool as unknown as WorkerPool });
    const inline = fakeRunner(0);
    const auto = new AutoRunner(pool, inline, undefined, COUNTED);
    await calls(auto, CALLS_TO_DECIDE, 1, { steps: 2, ms: 20 });
    expect(auto.placement()).toEqual({ placement: 'coordinator', workersMs: 10, coordinatorMs: 0 });
    expect(auto.stepLoop()).toBeUndefined();
    expect(pool.closed).toBe(true);
  });
});
