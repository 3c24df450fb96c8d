/**
 * Fused steps run back to back on the worker threads, without the coordinator
 * between them. The coordinator writes a chunk of steps ahead (each step's
 * batch rows, task scales and learning rate) and posts one `steps` job to every
 * worker; then, for each step, every worker
 *
 *   1. computes its shards' gradients (shard s on worker s mod W), as a
 *      gradient job would, into the shards' arena slots, and checks them and
 *      their losses: finite, and small enough that no sum of them overflows;
 *   2. waits for the others (barrier); if any shard failed the check the chunk
 *      halts there (the coordinator then takes that step alone and decides
 *      as it always did), else it sums the shards, in shard order, over its
 *      own slice of the parameter vector into the first shard's slot, and
 *      applies the optimizer's update rule to its slice of the parameters and
 *      of the optimizer state;
 *   3. waits for the others, and the next step starts.
 *
 * One writer per element and per step, in a fixed order, and every element
 * goes through the same arithmetic as in a whole-vector reduction and update
 * (slices cut on SIMD blocks, see optim/slices.ts): a chunk leaves the same
 * bits as the same steps taken one by one on the coordinator.
 *
 * A worker that fails sets the abort word, which brings the others out of
 * their barriers; the coordinator then learns from the control words how far
 * the chunk got (steps done, and whether the failing step had begun updating).
 */
import { LOSS_STATS_LENGTH, LOSS_SUM, type Kernels } from '../kernels/types.js';
import type { Segment } from '../model/layout.js';
import type { FrameArena } from './arena.js';
import type { ParameterStore } from '../model/parameters.js';
import { updateRule, type UpdateRule } from '../optim/index.js';
import { sliceSegments, type Piece } from '../optim/slices.js';
import { getStrategy, strategyRng } from '../strategies/index.js';
import { weightedSum } from '../strategies/gram.js';
import type { AnyStrategy } from '../strategies/types.js';
import { PROTOCOL_VERSION } from './codec.js';
import type { GradientJob, StepLoopCombination, StepLoopHandle, StepsJob } from './messages.js';

/** Control words (Int32): the barrier, the abort word and how far the chunk got. */
const C_COUNT = 0; // workers arrived at the barrier
const C_GEN = 1; // barrier passages (waiters sleep on it)
const C_ABORT = 2; // 1: a worker failed or the coordinator gave up on the chunk
const C_DONE = 3; // steps of the chunk completed (updates applied, or halted before any)
const C_UPDATING = 4; // the step whose updates began (−1: none yet)
const C_HALT = 5; // 1: the chunk halted at step C_DONE on a non-finite value, not applied
const C_WORKERS = 8; // per worker: its non-finite flag, then 1 while it waits at a barrier

/** Per (step, worker) timings the coordinator's profile reads (milliseconds). */
export const TIMING_FIELDS = 4; // compute, reduce (and check), update, wall of the whole step

export type { StepLoopHandle } from './messages.js';

/** What the loop needs of a worker's job executor (src/protocol/job-executor.ts): run a shard job, its losses. */
export interface ShardRunner {
  readonly arena: FrameArena;
  /** the last job's loss statistics, LOSS_STATS_LENGTH per task */
  readonly stats: Float64Array;
  run(job: GradientJob, before?: (job: GradientJob) => void): number;
}

/** Where a chunk stopped, as the control words say. */
export interface ChunkProgress {
  /** steps of the chunk whose updates were applied */
  done: number;
  /** the chunk halted at step `done` on a non-finite value (nothing of it applied) */
  halted: boolean;
  /** the step whose updates began, −1 if none (a failure with updating === done left it half applied) */
  updating: number;
}

/**
 * How long a worker spins at a barrier before it sleeps: waking a sleeping
 * thread costs tens of microseconds on these machines, and the workers of a
 * step usually arrive within a few hundred microseconds of each other.
 */
const SPIN_MS = 0.25;
const FLOAT32_MAX = 3.4028234663852886e38;
/** Backstop for a wake-up lost between the abort check and the wait. */
const WAIT_SLICE_MS = 5;

/** The shared buffers of a step loop, sized for `maxSteps` steps. */
export function createStepLoop(options: Omit<StepLoopHandle, 'control' | 'stepData' | 'shardRows' | 'losses' | 'timings'>): StepLoopHandle {
  const { maxSteps, shards, workers, tasks } = options;
  return {
    ...options,
    control: new SharedArrayBuffer((C_WORKERS + 2 * workers) * 4),
    stepData: new SharedArrayBuffer(maxSteps * (1 + tasks) * 8),
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
    Atomics.store(this.control, C_UPDATING, -1);
  }

  /** Step k of the chunk: its learning rate and task scales. */
  setStep(k: number, lr: number, scales: readonly number[]): void {
    const at = k * (1 + this.handle.tasks);
    this.stepData[at] = lr;
    for (let t = 0; t < this.handle.tasks; t++) this.stepData[at + 1 + t] = scales[t];
  }

  setShardRows(k: number, shard: number, rowStart: number, rowCount: number): void {
    const at = 2 * (k * this.handle.shards + shard);
    this.shardRows[at] = rowStart;
    this.shardRows[at + 1] = rowCount;
  }

  rowCount(k: number, shard: number): number {
    return this.shardRows[2 * (k * this.handle.shards + shard) + 1];
  }

  /** Shard `shard`'s loss statistics at step k (T × LOSS_STATS_LENGTH values). */
  shardLosses(k: number, shard: number): Float64Array {
    const n = this.handle.tasks * LOSS_STATS_LENGTH;
    const at = (k * this.handle.shards + shard) * n;
    return this.losses.subarray(at, at + n);
  }

  /** Worker w's timing field f at step k (see TIMING_FIELDS). */
  timing(k: number, w: number, f: number): number {
    return this.timings[(k * this.handle.workers + w) * TIMING_FIELDS + f];
  }

  progress(): ChunkProgress {
    return {
      done: Atomics.load(this.control, C_DONE),
      halted: Atomics.load(this.control, C_HALT) === 1,
      updating: Atomics.load(this.control, C_UPDATING),
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
      if (this.handle.spin) {
        const until = performance.now() + SPIN_MS;
        while (Atomics.load(c, C_GEN) === gen && Atomics.load(c, C_ABORT) === 0 && performance.now() < until);
      }
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

  markUpdating(k: number): void {
    Atomics.store(this.control, C_UPDATING, k);
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

/** Part of one gradient vector in a worker's slice: where the shards are summed, and the other shards' parts, in shard order. */
interface SumPiece {
  sum: Float32Array;
  addends: Float32Array[];
}

/** Part of a worker's optimizer slice: the parameters, the gradient the rule reads, the state buffers. */
interface UpdatePiece {
  param: Float32Array;
  grad: Float32Array;
  state: Record<string, Float32Array>;
}

/** A per-task plan's part of a worker's slice: the trunk parts (weighted sum) and head parts (each its task's gradient). */
interface CombinePiece {
  /** the update's part; the T reduced task gradients' parts (trunk), or one task's (head t) */
  out: Float32Array;
  grads: Float32Array[];
  /** -1 for the trunk, else the head's task */
  head: number;
}

/**
 * A worker thread's side of the step loop: its shards, its slice of the
 * parameters and of the optimizer state, and the loop itself.
 */
export class StepLoopWorker {
  private readonly views: StepLoopViews;
  private readonly rule: UpdateRule;
  private readonly shards: number[];
  private readonly jobs: GradientJob[];
  private readonly tasks: number[];
  private readonly timing = [0, 0, 0, 0];
  /** per shard: the parts of its gradient(s) its jobs write (the norm check reads them) */
  private readonly shardGradients: Float32Array[][];
  /** a shard gradient whose norm is below this cannot make the shards' sum overflow float32 */
  private readonly safeNorm: number;
  private readonly sums: SumPiece[];
  private readonly updates: UpdatePiece[];
  /** per-task plans only */
  private readonly combination: SliceCombination | undefined;

  constructor(handle: StepLoopHandle, readonly worker: number, private readonly executor: ShardRunner,
    private readonly params: ParameterStore, private readonly kernels: Kernels) {
    this.views = new StepLoopViews(handle);
    const { optimizer, shards, workers, combination } = handle;
    const T = handle.tasks;
    this.rule = updateRule(optimizer.config, kernels);
    this.tasks = Array.from({ length: T }, (_, t) => t);
    this.shards = Array.from({ length: shards }, (_, s) => s).filter((s) => s % workers === worker);
    this.jobs = this.shards.map((shard) => ({
      kind: 'gradient', v: PROTOCOL_VERSION, step: 0, version: 0, shard, slot: shard, tasks: this.tasks,
      scales: this.tasks.map(() => 0), rowStart: 0, rowCount: 0, separate: combination !== undefined, attempt: 0,
    }));
    const total = params.layout.total;
    // the gradient vectors each shard's slot holds (one, or each task's), and the segments each one's jobs write
    const written: Segment[][] = combination
      ? this.tasks.map((t) => [combination.trunk, combination.heads[t]].filter((g) => g.length > 0))
      : [handle.gradientSegments];
    const vectors = Array.from({ length: shards }, (_, s) => {
      const payload = executor.arena.payload(s, written.length * total);
      return written.map((_, v) => payload.subarray(v * total, (v + 1) * total));
    });
    this.shardGradients = vectors.map((vs) => vs.flatMap((vector, v) => written[v].map((g) => vector.subarray(g.offset, g.offset + g.length))));
    this.safeNorm = FLOAT32_MAX / (2 * shards);
    const mine = sliceSegments(optimizer.segments, workers)[worker];
    checkCovered(mine, handle.gradientSegments);
    this.sums = [];
    written.forEach((segments, v) => {
      for (const part of intersect(mine, segments)) {
        const view = (a: Float32Array) => a.subarray(part.offset, part.offset + part.length);
        this.sums.push({ sum: view(vectors[0][v]), addends: vectors.slice(1).map((vs) => view(vs[v])) });
      }
    });
    const update = combination ? new Float32Array(combination.update) : vectors[0][0];
    const state = Object.fromEntries(Object.entries(optimizer.buffers).map(([name, b]) => [name, new Float32Array(b)]));
    this.updates = mine.map((p) => ({
      param: params.data.subarray(p.offset, p.offset + p.length),
      grad: update.subarray(p.offset, p.offset + p.length),
      state: Object.fromEntries(Object.entries(state).map(([name, b]) => [name, b.subarray(p.stateOffset, p.stateOffset + p.length)])),
    }));
    this.combination = combination && new SliceCombination(combination, T, worker, workers, mine, vectors[0], update, kernels,
      new Float64Array(combination.gramWeights));
  }

  /**
   * Runs a chunk; returns when it is done, halted or aborted. A failing shard
   * job aborts the chunk for every worker and its error (naming the task, step
   * and shard) is thrown. `before` and `beforeUpdate` are the tests' fault hooks.
   */
  run(chunk: StepsJob, before?: (job: GradientJob) => void, beforeUpdate?: (step: number) => void): void {
    if (chunk.v !== PROTOCOL_VERSION) throw new Error(`steps job protocol version ${chunk.v}, the worker speaks ${PROTOCOL_VERSION}`);
    const { views, worker: w, combination } = this;
    // the last to arrive at the barrier before the update decides whether the step is applied
    const decide = (k: number) => () => (views.anyFlag() ? views.markHalted() : views.markUpdating(k));
    for (let k = 0; k < chunk.count; k++) {
      const started = performance.now();
      let safe: boolean;
      try {
        safe = this.computeAndCheck(chunk, k, before);
      } catch (e) {
        views.abort();
        throw e;
      }
      views.setFlag(w, !safe);
      const computed = performance.now();
      if (combination) {
        // every shard in, then this slice reduced, the Gramian, the weights, this slice of the update checked
        if (!views.arrive(w, () => (views.anyFlag() ? views.markHalted() : undefined))) return;
        if (views.anyFlag()) return;
        // busy time only (the waits at the barriers are idle): reduce, Gramian dots, combine
        let busy = performance.now();
        this.reduce(k);
        busy = performance.now() - busy;
        if (!views.arrive(w)) return;
        let gram = performance.now();
        combination.gramDots(k);
        busy += performance.now() - gram;
        const step = chunk.firstStep + k;
        if (!views.arrive(w, () => combination.weigh(k, step))) return;
        gram = performance.now();
        views.setFlag(w, !combination.combine(k));
        this.timing[1] = busy + performance.now() - gram;
        if (!views.arrive(w, decide(k))) return;
      } else {
        if (!views.arrive(w, decide(k))) return;
        const reducing = performance.now();
        this.reduce(k);
        this.timing[1] = performance.now() - reducing;
      }
      if (views.anyFlag()) return;
      const updating = performance.now();
      const lr = views.stepData[k * (1 + this.tasks.length)];
      beforeUpdate?.(chunk.firstStep + k);
      const step = chunk.optimizerSteps + k + 1;
      for (const p of this.updates) this.rule.update(p.param, p.grad, p.state, step, lr);
      const updated = performance.now();
      if (!views.arrive(w, () => {
        this.params.bumpVersion();
        views.markDone(k + 1);
      })) return;
      // the waits at the barriers are left out: the coordinator's profile counts them as idle
      const t = this.timing;
      t[0] = computed - started;
      t[2] = updated - updating;
      t[3] = performance.now() - started;
      views.setTiming(k, w, t);
    }
  }

  /**
   * Runs this worker's shard jobs of step k, each as a gradient job would run
   * it, and checks them: false when a loss or gradient is not finite, or a
   * gradient is so large that the shards' sum might overflow (the coordinator
   * then takes the step and decides). Otherwise the sum is finite, as the
   * check of the reduced gradient would find.
   */
  private computeAndCheck(chunk: StepsJob, k: number, before?: (job: GradientJob) => void): boolean {
    const { views, executor, kernels } = this;
    const T = this.tasks.length;
    const at = k * (1 + T);
    let safe = true;
    for (let i = 0; i < this.jobs.length; i++) {
      const job = this.jobs[i];
      const s = job.shard;
      job.rowStart = views.shardRows[2 * (k * views.handle.shards + s)];
      job.rowCount = views.shardRows[2 * (k * views.handle.shards + s) + 1];
      if (job.rowCount === 0) continue;
      job.step = chunk.firstStep + k;
      job.version = chunk.version + k;
      for (let t = 0; t < T; t++) job.scales[t] = views.stepData[at + 1 + t];
      executor.run(job, before);
      const losses = executor.stats.subarray(0, T * LOSS_STATS_LENGTH);
      views.shardLosses(k, s).set(losses);
      for (let t = 0; t < T; t++) if (!Number.isFinite(losses[t * LOSS_STATS_LENGTH + LOSS_SUM])) safe = false;
      // every element is at most the norm: below the limit, no sum of the shards can overflow
      for (const g of this.shardGradients[s]) if (!(kernels.norm(g.length, g) < this.safeNorm)) safe = false;
    }
    return safe;
  }

  /** Sums this worker's slice of the gradient(s) over the shards, in shard order, into the first shard's slot. */
  private reduce(k: number): void {
    const { views, kernels } = this;
    const shards = views.handle.shards;
    // a short last batch can leave the first shard empty: its slot then holds an older gradient
    const firstEmpty = views.rowCount(k, 0) === 0;
    for (const p of this.sums) {
      if (firstEmpty) p.sum.fill(0);
      for (let s = 1; s < shards; s++) {
        if (views.rowCount(k, s) > 0) kernels.axpy(p.sum.length, 1, p.addends[s - 1], p.sum);
      }
    }
  }
}

/**
 * A per-task plan's combination, slice by slice: the Gramian's dot products
 * shared out among the workers (each over the whole trunk, as computeGram
 * takes them), the strategy's weights from it (once, by the last worker to
 * arrive), then each worker's slice of the update: Σ w_t·g_t over the trunk,
 * each head its task's gradient (times its weight for a loss weighting) — the
 * arithmetic the coordinator's recipe does, element by element.
 */
class SliceCombination {
  private readonly strategy: AnyStrategy;
  private readonly pairs: [number, number][];
  private readonly trunks: Float32Array[];
  private readonly pieces: CombinePiece[];
  private readonly noGrads: Float32Array[];
  private readonly noOut = new Float32Array(0);

  constructor(private readonly setup: StepLoopCombination, private readonly T: number, worker: number, workers: number,
    mine: readonly Piece[], reduced: Float32Array[], update: Float32Array, private readonly kernels: Kernels,
    private readonly gramWeights: Float64Array) {
    this.strategy = getStrategy(setup.strategy);
    const { trunk, heads } = setup;
    this.trunks = reduced.map((g) => g.subarray(trunk.offset, trunk.offset + trunk.length));
    // the Gramian's pairs (i ≥ j), dealt out in turn
    const pairs: [number, number][] = [];
    for (let i = 0; i < T; i++) for (let j = 0; j <= i; j++) pairs.push([i, j]);
    this.pairs = pairs.filter((_, p) => p % workers === worker);
    this.noGrads = reduced.map(() => new Float32Array(0));
    const view = (a: Float32Array, g: Segment) => a.subarray(g.offset, g.offset + g.length);
    this.pieces = [
      ...intersect(mine, [trunk]).map((g) => ({ out: view(update, g), grads: reduced.map((r) => view(r, g)), head: -1 })),
      ...heads.flatMap((head, t) => intersect(mine, [head]).map((g) => ({ out: view(update, g), grads: [view(reduced[t], g)], head: t }))),
    ];
  }

  private gram(k: number): Float64Array {
    const n = this.T * (this.T + 1);
    return this.gramWeights.subarray(k * n, k * n + this.T * this.T);
  }

  weights(k: number): Float64Array {
    const n = this.T * (this.T + 1);
    return this.gramWeights.subarray(k * n + this.T * this.T, (k + 1) * n);
  }

  /** This worker's share of step k's Gramian entries. */
  gramDots(k: number): void {
    const G = this.gram(k);
    const n = this.setup.trunk.length;
    for (const [i, j] of this.pairs) {
      const d = this.kernels.dot(n, this.trunks[i], this.trunks[j]);
      G[i * this.T + j] = d;
      G[j * this.T + i] = d;
    }
  }

  /** Step k's weights from its Gramian (the strategy's arithmetic, on no gradient elements: the sums are each worker's). */
  weigh(k: number, step: number): void {
    const result = this.strategy.combine({
      grads: this.noGrads, gram: this.gram(k), step, rng: strategyRng(this.setup.seed, step), kernels: this.kernels,
    }, null, this.setup.options, this.noOut);
    if (result.weights === null || result.state !== null) throw new Error(`strategy ${this.setup.strategy} cannot run in the step loop: it keeps state or gives no weights`);
    this.weights(k).set(result.weights);
  }

  /** This worker's slice of step k's update; false when it is not finite. */
  combine(k: number): boolean {
    const w = this.weights(k);
    const { kernels } = this;
    let finite = true;
    for (const p of this.pieces) {
      if (p.head < 0) {
        weightedSum(kernels, p.grads, w, p.out);
      } else {
        p.out.set(p.grads[0]);
        if (this.setup.weighting) kernels.scale(p.out.length, w[p.head], p.out);
      }
      if (!Number.isFinite(kernels.norm(p.out.length, p.out))) finite = false;
    }
    return finite;
  }
}

/** The parts of `pieces` (parameter ranges) that lie inside `segments`. */
function intersect(pieces: readonly { offset: number; length: number }[], segments: readonly Segment[]): Segment[] {
  const out: Segment[] = [];
  for (const p of pieces) {
    for (const g of segments) {
      const a = Math.max(p.offset, g.offset);
      const b = Math.min(p.offset + p.length, g.offset + g.length);
      if (b > a) out.push({ offset: a, length: b - a });
    }
  }
  return out;
}

/** The optimizer's slice must lie within the segments the fused gradient covers (it is the same set: trunk and every head). */
function checkCovered(pieces: readonly { offset: number; length: number }[], segments: readonly Segment[]): void {
  for (const p of pieces) {
    if (!segments.some((s) => p.offset >= s.offset && p.offset + p.length <= s.offset + s.length)) {
      throw new Error(`step loop: parameters [${p.offset}, ${p.offset + p.length}) lie outside the fused gradient's segments`);
    }
  }
}
