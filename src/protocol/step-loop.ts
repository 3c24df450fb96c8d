/**
 * Steps run back to back on the worker threads, without the coordinator
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
 * A per-task plan (one optimizer, a strategy whose weights come from the
 * Gramian alone: src/protocol/slice-combination.ts) adds three barriers between
 * the reduction and the update: the Gramian's dot products shared out among
 * the workers, the strategy's weights computed once from it, each worker's
 * slice of the update (Σ w·g on the trunk, each head its task's gradient)
 * checked before any is applied.
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
import type { ParameterStore } from '../model/parameters.js';
import { updateRule, type UpdateRule } from '../optim/index.js';
import { intersect, sliceSegments } from '../optim/slices.js';
import type { FrameArena } from './arena.js';
import { PROTOCOL_VERSION } from './codec.js';
import type { GradientJob, StepLoopHandle, StepsJob } from './messages.js';
import { SliceCombination } from './slice-combination.js';
import { StepLoopViews } from './step-loop-memory.js';

const FLOAT32_MAX = 3.4028234663852886e38;


/** What the loop needs of a worker's job executor (src/protocol/job-executor.ts): run a shard job, its losses. */
export interface ShardRunner {
  readonly arena: FrameArena;
  /** the last job's loss statistics, LOSS_STATS_LENGTH per task */
  readonly stats: Float64Array;
  run(job: GradientJob, before?: (job: GradientJob) => void): number;
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

/** The optimizer's slice must lie within the segments the fused gradient covers (it is the same set: trunk and every head). */
function checkCovered(pieces: readonly { offset: number; length: number }[], segments: readonly Segment[]): void {
  for (const p of pieces) {
    if (!segments.some((s) => p.offset >= s.offset && p.offset + p.length <= s.offset + s.length)) {
      throw new Error(`step loop: parameters [${p.offset}, ${p.offset + p.length}) lie outside the fused gradient's segments`);
    }
  }
}
