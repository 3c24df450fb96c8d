/**
 * The step loop's barrier with a helper (StepLoopViews.helper: a waiting worker
 * runs the others' shared matrix products between polls), on one thread: the
 * other worker arrives from inside the helper.
 */
import { Worker } from 'node:worker_threads';

import { describe, expect, it } from 'vitest';
import { resolveOptimizerConfig } from '../../src/optim/index.js';
import { createStepLoop, StepLoopViews } from '../../src/protocol/step-loop-memory.js';

function twoWorkers() {
  const handle = createStepLoop({
    maxSteps: 1, shards: 2, workers: 2, tasks: 1, spin: true,
    optimizerConfig: resolveOptimizerConfig({ name: 'sgd', lr: 0.5 }), optimizers: [{ segments: [{ offset: 0, length: 4 }], buffers: {} }],
  });
  return [new StepLoopViews(handle), new StepLoopViews(handle)] as const;
}

/**
 * Aborts the loop from another thread after `ms` unless stopped first: a worker
 * that went to sleep at the barrier (here nothing else would wake it) fails the
 * test instead of hanging it. Word 2 is the abort word, 1 the barrier generation.
 */
function abortAfter(views: StepLoopViews, ms: number): Worker {
  return new Worker(`
    const { workerData } = require('node:worker_threads');
    const c = new Int32Array(workerData.control);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, workerData.ms);
    Atomics.store(c, 2, 1);
    Atomics.notify(c, 1);`, { eval: true, workerData: { control: views.handle.control, ms } });
}

const busyFor = (ms: number) => {
  const until = performance.now() + ms;
  while (performance.now() < until);
};

describe('StepLoopViews.arrive with a helper', () => {
  it('runs the helper between polls until the barrier passes; the time it reports is taken once, in milliseconds', () => {
    const [w0, w1] = twoWorkers();
    let calls = 0;
    w0.helper = () => {
      calls++;
      if (calls === 3) {
        expect(w1.arrive(1)).toBe(true); // the last to arrive: the barrier passes
        return 0;
      }
      return 1_500_000;
    };
    expect(w0.arrive(0)).toBe(true);
    expect(calls).toBe(3);
    expect(w0.takeHelped()).toBe(3);
    expect(w0.takeHelped()).toBe(0);
  });

  it('keeps spinning, past the spin limit, while the helper finds work now and then', async () => {
    const [w0, w1] = twoWorkers();
    let calls = 0;
    // work every 1,000th call, 0.2 ms each: the barrier passes after 1 ms, four times
    // the spin limit; a worker gone to sleep would never call the helper again
    w0.helper = () => {
      calls++;
      if (calls === 5000) expect(w1.arrive(1)).toBe(true);
      if (calls % 1000 !== 0) return 0;
      busyFor(0.2);
      return 200_000;
    };
    const watchdog = abortAfter(w0, 2000);
    try {
      expect(w0.arrive(0)).toBe(true);
    } finally {
      await watchdog.terminate();
    }
    expect(calls).toBe(5000);
    expect(w0.takeHelped()).toBeCloseTo(1, 9);
  });

  it('an abort ends the wait, however much help is found', () => {
    const [w0, w1] = twoWorkers();
    let calls = 0;
    w0.helper = () => {
      if (++calls === 10) w1.abort();
      return 1000;
    };
    expect(w0.arrive(0)).toBe(false);
    expect(calls).toBe(10);
  });
});
