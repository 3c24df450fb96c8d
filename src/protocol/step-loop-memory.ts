/**
 * The shared memory of the step loop (src/protocol/step-loop.ts) and the
 * operations both sides do on it: the coordinator lays a chunk of steps out
 * and reads back how far it got, the losses and the timings; the worker
 * threads meet at its barrier, raise their flags and mark their progress.
 */
import { LOSS_STATS_LENGTH } from '../kernels/types.js';
import type { StepLoopHandle } from './messages.js';

/** Control words (Int32): the barrier, the abort word and how far the chunk got. */
const C_COUNT = 0; // workers arrived at the barrier
const C_GEN = 1; // barrier passages (waiters sleep on it)
const C_ABORT = 2; // 1: a worker failed or the coordinator gave up on the chunk
const C_DONE = 3; // steps of the chunk completed (updates applied, or halted before any)
const C_UPDATING = 4; // 1 while the workers apply an update (a failure then cannot be undone)
const C_HALT = 5; // 1: the chunk halted at step C_DONE on a non-finite value
const C_ROUNDS = 6; // sequential fresh: the tasks of step C_DONE whose updates are applied
const C_WORKERS = 8; // per worker: its non-finite flag, then 1 while it waits at a barrier

/**
 * Per (step, worker) timings the coordinator's profile reads (milliseconds):
 * compute, reduce (and check), update, then when the worker began the step and
 * when it arrived at the step's last barrier, on clock().
 */
export const TIMING_FIELDS = 5;
export const TIMING_COMPUTE = 0;
export const TIMING_REDUCE = 1;
export const TIMING_UPDATE = 2;
export const TIMING_BEGAN = 3;
export const TIMING_ARRIVED = 4;

/** The worker thread that computes shard s in the step loop: the shards are dealt out in turn. */
export function shardWorker(s: number, workers: number): number {
  return s % workers;
}

/**
 * Milliseconds on a clock every thread of the process reads alike (the
 * monotonic clock): performance.now() counts from each thread's own start.
 */
export function clock(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** Where a chunk stopped, as the control words say. */
export interface ChunkProgress {
  /** steps of the chunk whose updates were applied */
  done: number;
  /** the chunk halted at step `done` on a non-finite value (nothing of it applied beyond `rounds`) */
  halted: boolean;
  /** sequential fresh: step `done`'s tasks whose updates were applied (their own rounds); else 0 */
  rounds: number;
  /** the workers were applying an update when the chunk ended: a failure then left it half applied */
  updating: boolean;
}

/**
 * How long a worker spins at a barrier before it sleeps: waking a sleeping
 * thread costs tens of microseconds on these machines, and the workers of a
 * step usually arrive within a few hundred microseconds of each other.
 */
const SPIN_MS = 0.25;
/** Backstop for a wake-up lost between the abort check and the wait. */
const WAIT_SLICE_MS = 5;
/**
 * Barrier polls between two looks at the clock while spinning: every look
 * allocates a number (a worker's sampled heap profile put most of its garbage
 * there when the spin looked at every poll), and a thousand polls take a few
 * microseconds.
 */
const POLLS_PER_CLOCK = 1024;

/** Spins while the barrier is at generation `gen` and the chunk goes on, for at most SPIN_MS. */
function spinWhile(c: Int32Array, gen: number): void {
  const until = performance.now() + SPIN_MS;
  for (;;) {
    for (let i = 0; i < POLLS_PER_CLOCK; i++) {
      if (Atomics.load(c, C_GEN) !== gen || Atomics.load(c, C_ABORT) !== 0) return;
    }
    if (performance.now() >= until) return;
  }
}

/** The shared buffers of a step loop, sized for `maxSteps` steps. */
export function createStepLoop(options: Omit<StepLoopHandle, 'control' | 'stepData' | 'shardRows' | 'losses' | 'timings'>): StepLoopHandle {
  const { maxSteps, shards, workers, tasks } = options;
  return {
    ...options,
    control: new SharedArrayBuffer((C_WORKERS + 2 * workers) * 4),
    stepData: new SharedArrayBuffer(maxSteps * (options.optimizers.length + tasks) * 8),
    shardRows: new SharedArrayBuffer(maxSteps * shards * 2 * 4),
    losses: new SharedArrayBuffer(maxSteps * shards * tasks * LOSS_STATS_LENGTH * 8),
    timings: new SharedArrayBuffer(maxSteps * workers * TIMING_FIELDS * 8),
  };
}

/** Typed views of a step loop's buffers, for either side. */
export class StepLoopViews {
  readonly control: Int32Array;
  readonly stepData: Float64Array;
  readonly shardRows: Int32Array;
  readonly losses: Float64Array;
  readonly timings: Float64Array;

  constructor(readonly handle: StepLoopHandle) {
    this.control = new Int32Array(handle.control);
    this.stepData = new Float64Array(handle.stepData);
    this.shardRows = new Int32Array(handle.shardRows);
    this.losses = new Float64Array(handle.losses);
    this.timings = new Float64Array(handle.timings);
  }

  // --- coordinator side

  /** Clears the control words before a chunk is posted (no worker is in the loop). */
  reset(): void {
    this.control.fill(0);
  }

  /** Step k of the chunk: each optimizer's learning rate, the task scales. */
  setStep(k: number, lrs: readonly number[], scales: readonly number[]): void {
    const O = this.handle.optimizers.length;
    const at = k * (O + this.handle.tasks);
    for (let o = 0; o < O; o++) this.stepData[at + o] = lrs[o];
    for (let t = 0; t < this.handle.tasks; t++) this.stepData[at + O + t] = scales[t];
  }

  /** Optimizer o's learning rate at step k. */
  lr(k: number, o: number): number {
    return this.stepData[k * (this.handle.optimizers.length + this.handle.tasks) + o];
  }

  /** Task t's gradient scale at step k. */
  scale(k: number, t: number): number {
    const O = this.handle.optimizers.length;
    return this.stepData[k * (O + this.handle.tasks) + O + t];
  }

  setShardRows(k: number, shard: number, rowStart: number, rowCount: number): void {
    const at = 2 * (k * this.handle.shards + shard);
    this.shardRows[at] = rowStart;
    this.shardRows[at + 1] = rowCount;
  }

  rowCount(k: number, shard: number): number {
    return this.shardRows[2 * (k * this.handle.shards + shard) + 1];
  }

  /** Where shard `shard`'s loss statistics at step k begin (T × LOSS_STATS_LENGTH values). */
  private lossesAt(k: number, shard: number): number {
    return (k * this.handle.shards + shard) * this.handle.tasks * LOSS_STATS_LENGTH;
  }

  /** Shard `shard`'s loss statistics at step k (T × LOSS_STATS_LENGTH values). */
  shardLosses(k: number, shard: number): Float64Array {
    const at = this.lossesAt(k, shard);
    return this.losses.subarray(at, at + this.handle.tasks * LOSS_STATS_LENGTH);
  }

  /** Writes `count` tasks' loss statistics from `stats`, from task `first` on, as the shard's at step k (a copy: no view a step). */
  putShardLosses(k: number, shard: number, first: number, stats: Float64Array, count: number): void {
    const at = this.lossesAt(k, shard) + first * LOSS_STATS_LENGTH;
    for (let i = 0; i < count * LOSS_STATS_LENGTH; i++) this.losses[at + i] = stats[i];
  }

  /** Worker w's timing field f at step k (see TIMING_FIELDS). */
  timing(k: number, w: number, f: number): number {
    return this.timings[(k * this.handle.workers + w) * TIMING_FIELDS + f];
  }

  progress(): ChunkProgress {
    return {
      done: Atomics.load(this.control, C_DONE),
      halted: Atomics.load(this.control, C_HALT) === 1,
      rounds: Atomics.load(this.control, C_ROUNDS),
      updating: Atomics.load(this.control, C_UPDATING) === 1,
    };
  }

  /** Whether worker w is waiting for the others at a barrier (then it is not the one holding the chunk up). */
  waiting(w: number): boolean {
    return Atomics.load(this.control, C_WORKERS + this.handle.workers + w) === 1;
  }

  /** Brings every worker out of the chunk at its next barrier. */
  abort(): void {
    Atomics.store(this.control, C_ABORT, 1);
    Atomics.notify(this.control, C_GEN);
  }

  // --- worker side

  /**
   * Waits until every worker has arrived; the last to arrive runs `last` first.
   * False when the chunk was aborted before the barrier was passed.
   */
  arrive(w: number, last?: () => void): boolean {
    const c = this.control;
    const gen = Atomics.load(c, C_GEN);
    if (Atomics.load(c, C_ABORT) === 1) return false;
    if (Atomics.add(c, C_COUNT, 1) === this.handle.workers - 1) {
      Atomics.store(c, C_COUNT, 0);
      last?.();
      Atomics.add(c, C_GEN, 1);
      Atomics.notify(c, C_GEN);
      return true;
    }
    const waitingWord = C_WORKERS + this.handle.workers + w;
    Atomics.store(c, waitingWord, 1);
    try {
      if (this.handle.spin) spinWhile(c, gen);
      while (Atomics.load(c, C_GEN) === gen) {
        if (Atomics.load(c, C_ABORT) === 1) return false;
        Atomics.wait(c, C_GEN, gen, WAIT_SLICE_MS);
      }
      return true;
    } finally {
      Atomics.store(c, waitingWord, 0);
    }
  }

  setFlag(w: number, bad: boolean): void {
    Atomics.store(this.control, C_WORKERS + w, bad ? 1 : 0);
  }

  anyFlag(): boolean {
    for (let w = 0; w < this.handle.workers; w++) if (Atomics.load(this.control, C_WORKERS + w) === 1) return true;
    return false;
  }

  /** An update begins (true) or every worker has finished it (false). */
  markUpdating(on: boolean): void {
    Atomics.store(this.control, C_UPDATING, on ? 1 : 0);
  }

  /** Sequential fresh: `rounds` tasks of the current step have their updates applied. */
  markRounds(rounds: number): void {
    Atomics.store(this.control, C_ROUNDS, rounds);
  }

  markHalted(): void {
    Atomics.store(this.control, C_HALT, 1);
  }

  markDone(steps: number): void {
    Atomics.store(this.control, C_DONE, steps);
  }

  setTiming(k: number, w: number, values: readonly number[]): void {
    this.timings.set(values, (k * this.handle.workers + w) * TIMING_FIELDS);
  }
}
