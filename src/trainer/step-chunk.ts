/**
 * The coordinator's side of steps run back to back on the worker threads
 * (src/protocol/step-loop.ts): lays a chunk of steps out in the loop's shared
 * buffers beforehand (batch rows, task scales, learning rates, shard rows) and
 * reads each finished step's losses and timing back afterwards, in the same
 * order the one-step-at-a-time path adds them, so the totals are the same bits.
 */
import { availableParallelism } from 'node:os';
import { LOSS_STATS_LENGTH } from '../kernels/types.js';
import { resolveOptimizerConfig, type Optimizer, type OptimizerConfig } from '../optim/index.js';
import type { StepLoopCombination, StepLoopHandle } from '../protocol/messages.js';
import {
  createStepLoop, shardWorker, StepLoopViews, TIMING_ARRIVED, TIMING_BEGAN, TIMING_COMPUTE, TIMING_REDUCE, TIMING_UPDATE,
} from '../protocol/step-loop-memory.js';
import type { LossTotals } from './metrics.js';
import { shardRows } from './plan.js';
import type { StepTiming } from './profile.js';

/** Most steps in one chunk, and the batch rows the chunk's row buffer may hold at most. */
export const MAX_CHUNK_STEPS = 64;
const MAX_CHUNK_ROWS = 1 << 20;
/**
 * A chunk aims at this much wall time: long enough that its dispatch (the
 * coordinator's turn, the workers' wake-ups: the profile's transport, and idle
 * at a chunk's first step) stays a small share of it, short enough for Ctrl-C
 * and progress output.
 */
const CHUNK_TARGET_MS = 50;
/** The first chunk, before any step was timed. */
const FIRST_CHUNK = 4;

/** The most steps a chunk of `batch`-row steps may hold. */
export function chunkCapacity(batch: number): number {
  return Math.max(1, Math.min(MAX_CHUNK_STEPS, Math.floor(MAX_CHUNK_ROWS / batch)));
}

/** What a per-task step loop combines with (see StepLoopCombination). */
type CombinationSettings = Omit<StepLoopCombination, 'update' | 'gramWeights'>;

/** The step loop's shared buffers for a run whose optimizers' state buffers are shared. */
export function stepLoopHandle(options: { workers: number; shards: number; tasks: number; batch: number; total: number;
  optimizerConfig: OptimizerConfig; optimizers: readonly Optimizer[]; combination?: CombinationSettings; sequential?: { fresh: boolean } }): StepLoopHandle {
  const optimizers = options.optimizers.map((optimizer) => {
    const buffers: Record<string, SharedArrayBuffer> = {};
    for (const [name, b] of Object.entries(optimizer.buffers)) {
      if (!(b.buffer instanceof SharedArrayBuffer) || b.byteOffset !== 0 || b.byteLength !== b.buffer.byteLength) {
        throw new Error(`step loop: optimizer buffer ${name} is not a whole SharedArrayBuffer`);
      }
      buffers[name] = b.buffer;
    }
    return { segments: [...optimizer.segments], buffers };
  });
  const maxSteps = chunkCapacity(options.batch);
  const T = options.tasks;
  const combination = options.combination && {
    ...options.combination,
    update: new SharedArrayBuffer(options.total * 4),
    gramWeights: new SharedArrayBuffer(maxSteps * T * (T + 1) * 8),
  };
  const sequential = options.sequential && { fresh: options.sequential.fresh, gram: new SharedArrayBuffer(maxSteps * T * T * 8) };
  return createStepLoop({
    maxSteps,
    shards: options.shards,
    workers: options.workers,
    tasks: T,
    // spinning at a barrier only pays when no worker waits for a core
    spin: availableParallelism() >= options.workers,
    optimizerConfig: resolveOptimizerConfig(options.optimizerConfig),
    optimizers,
    ...(combination ? { combination } : {}),
    ...(sequential ? { sequential } : {}),
  });
}

export class StepChunks {
  readonly views: StepLoopViews;
  /** steps the next chunk should hold (from the last chunk's time per step) */
  private size = FIRST_CHUNK;

  /** per-task plans: the Gramian and weights of every step of a chunk; sequential: the Gramian */
  private readonly gramAndWeights: Float64Array | undefined;
  private readonly gram: Float64Array | undefined;
  private readonly workerMs: Float64Array;

  constructor(handle: StepLoopHandle, private readonly batch: number) {
    this.views = new StepLoopViews(handle);
    this.workerMs = new Float64Array(handle.workers);
    this.gramAndWeights = handle.combination && new Float64Array(handle.combination.gramWeights);
    this.gram = handle.sequential && new Float64Array(handle.sequential.gram);
  }

  /** How many of `wanted` steps the next chunk takes. */
  nextSize(wanted: number): number {
    return Math.max(1, Math.min(wanted, this.size, this.views.handle.maxSteps));
  }

  /** Learns from a finished chunk how many steps fit in the target time. */
  timed(steps: number, ms: number): void {
    if (steps === 0) return;
    const perStep = ms / steps;
    this.size = Math.max(1, Math.min(this.views.handle.maxSteps, Math.round(CHUNK_TARGET_MS / Math.max(perStep, 1e-3))));
  }

  /** Where step k's batch rows go in the shared batch-rows buffer. */
  rowsStart(k: number): number {
    return k * this.batch;
  }

  /** Lays out step k: `rows` batch rows (already at rowsStart(k)), its scales and each optimizer's learning rate. */
  setStep(k: number, rows: number, scales: readonly number[], lrs: readonly number[]): void {
    const { views } = this;
    const shards = views.handle.shards;
    views.setStep(k, lrs, scales);
    for (let s = 0; s < shards; s++) {
      const { start, count } = shardRows(s, rows, shards);
      views.setShardRows(k, s, this.rowsStart(k) + start, count);
    }
  }

  /** Step k's Gramian of the task gradients and (per-task plans) the strategy's weights, as the workers left them. */
  gramWeights(k: number): { gram: Float64Array; weights: Float64Array | null } | undefined {
    const T = this.views.handle.tasks;
    if (this.gram) return { gram: this.gram.subarray(k * T * T, (k + 1) * T * T), weights: null };
    if (!this.gramAndWeights) return undefined;
    const at = k * T * (T + 1);
    return { gram: this.gramAndWeights.subarray(at, at + T * T), weights: this.gramAndWeights.subarray(at + T * T, at + T * (T + 1)) };
  }

  /**
   * Adds step k's losses of its first `tasks` tasks (default all) to `totals`:
   * shard by shard, in shard order, as the reduction of gradient frames does.
   */
  addLosses(k: number, totals: LossTotals, tasks = this.views.handle.tasks): void {
    const { views } = this;
    for (let s = 0; s < views.handle.shards; s++) {
      if (views.rowCount(k, s) === 0) continue;
      const losses = views.shardLosses(k, s);
      for (let t = 0; t < tasks; t++) totals.add(t, losses, t * LOSS_STATS_LENGTH);
    }
  }

  /**
   * Milliseconds of a `steps`-step chunk that took `chunkMs` spent outside the
   * workers' steps (dispatch, wake-ups, preparation): all but the span from the
   * first worker's start to the last step's end, which the steps divide among them.
   */
  outside(steps: number, chunkMs: number): number {
    if (steps === 0) return chunkMs;
    return Math.max(0, chunkMs - (this.each(steps - 1, TIMING_ARRIVED, Math.max) - this.each(0, TIMING_BEGAN, Math.min)));
  }

  /**
   * Step k's timing in a chunk of `steps` steps with `outsideMs` outside the
   * workers' steps: compute is the workers' busy time divided by those that
   * had shards; reduce and optimizer the mean worker's slice; idle the rest of
   * the step's time in the loop (waiting at barriers); transport its share of
   * `outsideMs`. The parts add up to the step's total, and the steps' totals to
   * the chunk's time.
   */
  timing(k: number, steps: number, outsideMs: number, out: StepTiming): void {
    const parts = this.stepParts(k);
    out.compute = parts.compute;
    out.reduce = parts.reduce;
    out.optimizer = parts.optimizer;
    out.idle = parts.inStep - parts.compute - parts.reduce - parts.optimizer;
    out.transport = outsideMs / steps;
    out.total = parts.inStep + out.transport;
  }

  /**
   * Step k's compute on each worker thread (ms), one element per worker, 0 for a
   * thread that had no rows to compute (its shards empty, or none: fewer shards
   * than threads); the array is reused by the next call.
   */
  workerCompute(k: number): Float64Array {
    const { views, workerMs } = this;
    workerMs.fill(0);
    for (let s = 0; s < views.handle.shards; s++) {
      const w = shardWorker(s, views.handle.workers);
      if (views.rowCount(k, s) > 0) workerMs[w] = views.timing(k, w, TIMING_COMPUTE);
    }
    return workerMs;
  }

  /**
   * Step k's busy parts on the workers, and its time in the loop: from the end
   * of step k − 1 (step 0: the first worker's start) to its end, when the last
   * worker arrived at its last barrier. So the steps of a chunk do not overlap,
   * though a worker woken late at a barrier begins its next step late.
   */
  private stepParts(k: number): { compute: number; reduce: number; optimizer: number; inStep: number } {
    const { views } = this;
    const { workers, shards } = views.handle;
    let compute = 0;
    let reduce = 0;
    let update = 0;
    for (let w = 0; w < workers; w++) {
      compute += views.timing(k, w, TIMING_COMPUTE);
      reduce += views.timing(k, w, TIMING_REDUCE);
      update += views.timing(k, w, TIMING_UPDATE);
    }
    let busy = 0;
    for (let s = 0; s < shards; s++) if (views.rowCount(k, s) > 0) busy++;
    const parts = { compute: compute / Math.max(1, Math.min(workers, busy)), reduce: reduce / workers, optimizer: update / workers, inStep: 0 };
    const began = k === 0 ? this.each(0, TIMING_BEGAN, Math.min) : this.each(k - 1, TIMING_ARRIVED, Math.max);
    // the busy parts if longer: the clock's resolution
    parts.inStep = Math.max(this.each(k, TIMING_ARRIVED, Math.max) - began, parts.compute + parts.reduce + parts.optimizer);
    return parts;
  }

  /** Timing field f of step k, folded over the workers (Math.min or Math.max). */
  private each(k: number, f: number, fold: (a: number, b: number) => number): number {
    let out = this.views.timing(k, 0, f);
    for (let w = 1; w < this.views.handle.workers; w++) out = fold(out, this.views.timing(k, w, f));
    return out;
  }
}
