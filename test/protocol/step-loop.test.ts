/**
 * The worker side of the step loop on one thread (one worker, two shards), with
 * a stand-in executor that writes chosen gradients and losses: the checks that
 * halt a chunk, the reduction and update, and the abort on a failing job.
 * (Several threads, against the coordinator's bits: test/trainer/step-chunk.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { jsKernels } from '../../src/kernels/js.js';
import { createNativeKernels, nativeIsas } from '../../src/kernels/native.js';
import { LOSS_STATS_LENGTH, type Kernels } from '../../src/kernels/types.js';
import type { ParameterStore } from '../../src/model/parameters.js';
import { resolveOptimizerConfig } from '../../src/optim/index.js';
import { FrameArena } from '../../src/protocol/arena.js';
import { PROTOCOL_VERSION } from '../../src/protocol/codec.js';
import type { GradientJob, StepsJob } from '../../src/protocol/messages.js';
import { createStepLoop, StepLoopViews } from '../../src/protocol/step-loop-memory.js';
import { StepLoopWorker, sumShards, type ShardRunner } from '../../src/protocol/step-loop.js';

const N = 200;
const TASKS = 1;

/** A loop of one worker over two shards of a 200-parameter model under plain SGD (lr 0.5). */
function setup(gradient: (shard: number, step: number) => number, loss: (shard: number) => number = () => 1) {
  const arena = FrameArena.create(2, N);
  const layout = { total: N, trunk: { offset: 0, length: N - 20 }, heads: [{ offset: N - 20, length: 20 }] };
  const params = { data: new Float32Array(N).fill(1), layout, version: 0, bumpVersion() { return ++this.version; } };
  const stats = new Float64Array(TASKS * LOSS_STATS_LENGTH);
  const ran: GradientJob[] = [];
  const executor: ShardRunner = {
    arena,
    stats,
    gradient(job: GradientJob, before?: (job: GradientJob) => void) {
      before?.(job);
      ran.push({ ...job });
      arena.payload(job.slot, N).fill(gradient(job.shard, job.step));
      stats[0] = loss(job.shard);
    },
  };
  const handle = createStepLoop({
    maxSteps: 4, shards: 2, workers: 1, tasks: TASKS, spin: false,
    optimizerConfig: resolveOptimizerConfig({ name: 'sgd', lr: 0.5 }), optimizers: [{ segments: [{ offset: 0, length: N }], buffers: {} }],
  });
  const views = new StepLoopViews(handle);
  views.reset();
  for (let k = 0; k < 4; k++) {
    views.setStep(k, [0.5], [1]);
    views.setShardRows(k, 0, k * 10, 5);
    views.setShardRows(k, 1, k * 10 + 5, 5);
  }
  const worker = new StepLoopWorker(handle, 0, executor, params as unknown as ParameterStore, jsKernels);
  const chunk: StepsJob = { kind: 'steps', v: PROTOCOL_VERSION, firstStep: 10, count: 4, version: 0, optimizerSteps: [0] };
  return { worker, views, params, chunk, ran };
}

describe('StepLoopWorker', () => {
  it('runs a chunk: each step sums the shards and applies the rule to the parameters', () => {
    const { worker, views, params, chunk, ran } = setup((shard) => 0.25 * (shard + 1));
    worker.run(chunk);
    // four steps of p −= 0.5 · (0.25 + 0.5)
    expect(Array.from(new Set(params.data))).toEqual([1 - 4 * 0.375]);
    expect(views.progress()).toEqual({ done: 4, halted: false, rounds: 0, updating: false });
    expect(params.version).toBe(4);
    expect(ran.map((j) => [j.step, j.shard, j.rowStart, j.version])).toEqual([
      [10, 0, 0, 0], [10, 1, 5, 0], [11, 0, 10, 1], [11, 1, 15, 1], [12, 0, 20, 2], [12, 1, 25, 2], [13, 0, 30, 3], [13, 1, 35, 3]]);
    expect(views.shardLosses(2, 1)[0]).toBe(1);
  });

  it('halts, applying nothing of that step, where the shards\' sum could overflow float32 though each is finite', () => {
    const { worker, views, params, chunk } = setup((_, step) => (step === 12 ? 2e38 : 0.25));
    worker.run(chunk);
    expect(views.progress()).toEqual({ done: 2, halted: true, rounds: 0, updating: false });
    expect(Array.from(new Set(params.data))).toEqual([1 - 2 * 0.25]);
  });

  it('halts on a loss that is not finite', () => {
    const { worker, views, chunk } = setup(() => 0.25, (shard) => (shard === 1 ? Number.NaN : 1));
    worker.run(chunk);
    expect(views.progress()).toEqual({ done: 0, halted: true, rounds: 0, updating: false });
  });

  it('a failing job aborts the chunk for every worker and its error is thrown', () => {
    const { worker, views, params, chunk } = setup(() => 0.25);
    const fail = (job: GradientJob) => {
      if (job.step === 11) throw new Error('task a, step 11, shard 0: broken');
    };
    expect(() => worker.run(chunk, fail)).toThrow('task a, step 11, shard 0: broken');
    expect(views.progress()).toEqual({ done: 1, halted: false, rounds: 0, updating: false });
    expect(views.arrive(0)).toBe(false);
    expect(params.version).toBe(1);
  });
});

describe('sumShards', () => {
  const kernelSets: [string, Kernels][] = [['js', jsKernels], ...nativeIsas().map((isa): [string, Kernels] => [`native ${isa}`, createNativeKernels(isa)])];
  /** Shard parts whose sums round differently by order, with zeros of both signs among them. */
  const parts = (count: number, n: number) => Array.from({ length: count }, (_, s) => Float32Array.from({ length: n }, (_, i) =>
    (i % 7 === 0 ? ((i / 7 + s) % 2 === 0 ? -0 : 0) : ((i * 7919 + s * 104729) % 2001 - 1000) * 10 ** ((i + s) % 9 - 4))));
  const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

  for (const [name, kernels] of kernelSets) {
    it(`into the second shard's part gives the bits of the sum into the first's, for every pattern of empty shards (${name})`, () => {
      const n = 131;
      for (const count of [2, 3, 4]) {
        for (let empty = 0; empty < 1 << count; empty++) {
          if (empty === (1 << count) - 1) continue; // a step has rows
          const has = (s: number) => (empty & (1 << s)) === 0;
          const atZero = parts(count, n);
          const atOne = parts(count, n);
          sumShards(atZero, 0, has, kernels);
          sumShards(atOne, 1, has, kernels);
          expect(bits(atOne[1]), `shards ${count}, empty mask ${empty}`).toEqual(bits(atZero[0]));
        }
      }
    });
  }

  it('adds in shard order, skipping empty shards, and leaves the other parts alone', () => {
    const shards = [Float32Array.of(1e8, 5), Float32Array.of(-1e8, 6), Float32Array.of(1, 7), Float32Array.of(100, 8)];
    sumShards(shards, 0, (s) => s !== 3, jsKernels);
    // (1e8 + -1e8) + 1 = 1, where 1e8 + (-1e8 + 1) would be 0 in float32
    expect(Array.from(shards[0])).toEqual([1, 18]);
    expect(Array.from(shards[3])).toEqual([100, 8]);
  });
});
