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
 *      own slice of the parameter vector into the first shard's slot (fused:
 *      the second worker into its own shard's slot, see `home`), and
 *      applies the optimizer's update rule to its slice of the parameters and
 *      of the optimizer state (fused, two shards with rows: both in one pass
 *      that writes no sum, the rule's `updateSummed`);
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
import { segmentsFor, type Segment } from '../model/layout.js';
import type { ParameterStore } from '../model/parameters.js';
import { updateRule, type UpdateRule } from '../optim/index.js';
import { intersect, sliceByTrunk, sliceSegments, statePieces } from '../optim/slices.js';
import type { FrameArena } from './arena.js';
import { PROTOCOL_VERSION } from './codec.js';
import type { GradientJob, StepLoopHandle, StepsJob } from './messages.js';
import { GramDots, SliceCombination } from './slice-combination.js';
import {
  clock, shardWorker, StepLoopViews, TIMING_ARRIVED, TIMING_BEGAN, TIMING_COMPUTE, TIMING_FIELDS, TIMING_REDUCE, TIMING_UPDATE,
} from './step-loop-memory.js';

const FLOAT32_MAX = 3.4028234663852886e38;


/** What the loop needs of a worker's job executor (src/protocol/job-executor.ts): a shard job's gradient, its losses. */
export interface ShardRunner {
  readonly arena: FrameArena;
  /** the last job's loss statistics, LOSS_STATS_LENGTH per task */
  readonly stats: Float64Array;
  /** runs the job into its arena slot, with no frame header (nothing reads one here) */
  gradient(job: GradientJob, before?: (job: GradientJob) => void): void;
}

/** A gradient the loop reduces: its vector in each shard's slot, the segments its jobs write, the round that computes it. */
interface Gradient {
  vectors: Float32Array[];
  written: Segment[];
  /** sequential fresh: its task (each task's gradient has its own compute round); else 0 */
  round: number;
}

/** Part of one gradient in a worker's slice: each shard's part, in shard order. */
interface SumPiece {
  shards: Float32Array[];
}

/** Part of a worker's slice of one optimizer: the parameters, the gradient the rule reads, the state buffers. */
interface UpdatePiece {
  param: Float32Array;
  grad: Float32Array;
  state: Record<string, Float32Array>;
  /** where the rule can sum and update in one pass (`summable`): the other shard's part beside `grad`, the home's */
  other?: Float32Array;
}

/**
 * A worker thread's side of the step loop: its shards, its slice of the
 * parameters and of the optimizer state(s), and the loop itself.
 */
export class StepLoopWorker {
  private readonly views: StepLoopViews;
  private readonly rule: UpdateRule;
  /** per compute round (one; sequential fresh: one per task), this worker's shard jobs */
  private readonly rounds: GradientJob[][];
  /** per round and shard: the parts of its gradient(s) the jobs write (the norm check reads them) */
  private readonly shardGradients: Float32Array[][][];
  /** a shard gradient whose norm is below this cannot make the shards' sum overflow float32 */
  private readonly safeNorm: number;
  /** per compute round, the parts of this worker's slice its reduction sums */
  private readonly sums: SumPiece[][];
  /** the shard whose slot receives this worker's sums: 0, or 1 (see the constructor) */
  private readonly home: 0 | 1;
  /** the step reduce() sums, for `hasRows` (one closure for the run, none a step) */
  private reduceStep = 0;
  private readonly hasRows = (s: number) => this.views.rowCount(this.reduceStep, s) > 0;
  /** per optimizer, in the order a step applies them */
  private readonly updates: UpdatePiece[][];
  /**
   * Fused plan, two shards, a rule with updateSummed (Adam, AdamW, SGD): a step whose
   * shards both have rows sums them and updates in one pass (the pieces' `other`)
   */
  private readonly summable: boolean;
  /** per-task plans only */
  private readonly combination: SliceCombination | undefined;
  /** sequential only: the Gramian of the task gradients (the diagnostics) and where it goes */
  private readonly sequentialGram: { dots: GramDots; out: Float64Array } | undefined;
  private readonly timing = new Array<number>(TIMING_FIELDS).fill(0);

  constructor(handle: StepLoopHandle, readonly worker: number, private readonly executor: ShardRunner,
    private readonly params: ParameterStore, private readonly kernels: Kernels) {
    this.views = new StepLoopViews(handle);
    const { shards: S, workers, combination, sequential, optimizers } = handle;
    const layout = params.layout;
    const T = handle.tasks;
    const tasks = Array.from({ length: T }, (_, t) => t);
    const fresh = sequential?.fresh === true;
    const separate = combination !== undefined || (sequential !== undefined && !fresh);
    this.rule = updateRule(handle.optimizerConfig, kernels);
    const total = params.layout.total;
    const view = (a: Float32Array, g: Segment) => a.subarray(g.offset, g.offset + g.length);
    const slot = (s: number, count: number) => {
      const payload = executor.arena.payload(s, count * total);
      return Array.from({ length: count }, (_, v) => payload.subarray(v * total, (v + 1) * total));
    };
    const shardsOf = Array.from({ length: S }, (_, s) => s);
    const written = (t: number) => segmentsFor(layout, [t]);
    // one gradient (fused), each task's from the shards' slots (per-task, stale), or each task's from its own round's slots (fresh)
    const gradients: Gradient[] = fresh
      ? tasks.map((t) => ({ vectors: shardsOf.map((s) => slot(t * S + s, 1)[0]), written: written(t), round: t }))
      : separate
        ? tasks.map((t) => ({ vectors: shardsOf.map((s) => slot(s, T)[t]), written: written(t), round: 0 }))
        : [{ vectors: shardsOf.map((s) => slot(s, 1)[0]), written: segmentsFor(layout, tasks), round: 0 }];
    const mine = shardsOf.filter((s) => shardWorker(s, workers) === worker);
    this.rounds = (fresh ? tasks : [0]).map((r) => mine.map((shard) => ({
      kind: 'gradient', v: PROTOCOL_VERSION, step: 0, version: 0, shard, slot: fresh ? r * S + shard : shard,
      tasks: fresh ? [r] : tasks, scales: fresh ? [0] : tasks.map(() => 0), rowStart: 0, rowCount: 0, separate, attempt: 0,
    } satisfies GradientJob)));
    this.shardGradients = this.rounds.map((_, r) => shardsOf.map((s) =>
      gradients.filter((g) => g.round === r).flatMap((g) => g.written.map((w) => view(g.vectors[s], w)))));
    this.safeNorm = FLOAT32_MAX / (2 * S);
    // one writer per element for every optimizer: several optimizers are cut inside the trunk only
    const ranges: Segment[] = optimizers.length > 1
      ? [sliceByTrunk(layout.trunk, total, workers)[worker]].filter((g) => g.length > 0)
      : sliceSegments(optimizers[0].segments, workers)[worker];
    // Fused: the second worker sums its slice into its own shard's slot, which it has just
    // written, rather than into the first worker's, whose lines sit in the other core's cache
    // (measured: its slice's reduction took 3× the first worker's). The same bits: g1 + g0 =
    // g0 + g1 exactly. Elsewhere the Gramian or the combination reads the sums across slices
    // from the first slot.
    const home: 0 | 1 = !separate && !fresh && worker === 1 && S > 1 ? 1 : 0;
    this.home = home;
    this.sums = this.rounds.map((_, r) => gradients.filter((g) => g.round === r).flatMap((g) => intersect(ranges, g.written)
      .map((part) => ({ shards: g.vectors.map((v) => view(v, part)) }))));
    const update = combination ? new Float32Array(combination.update) : undefined;
    // the fused sum is read by nothing but the update (the Gramians and combinations read it in the other plans)
    this.summable = !separate && !fresh && S === 2 && optimizers.length === 1 && this.rule.updateSummed !== undefined;
    this.updates = optimizers.map((optimizer, o) => {
      // what optimizer o's rule reads: the combined update, task o's gradient (sequential), or the fused one
      const grad = update ?? gradients[sequential ? o : 0].vectors[home];
      const state = Object.entries(optimizer.buffers).map(([name, b]) => [name, new Float32Array(b)] as const);
      return statePieces(ranges, optimizer.segments).map((p) => ({
        param: view(params.data, p),
        grad: view(grad, p),
        state: Object.fromEntries(state.map(([name, b]) => [name, b.subarray(p.stateOffset, p.stateOffset + p.length)])),
        other: this.summable ? view(gradients[0].vectors[1 - home], p) : undefined,
      }));
    });
    this.combination = combination && new SliceCombination(combination, layout, T, worker, workers, ranges,
      gradients.map((g) => g.vectors[0]), update!, kernels, new Float64Array(combination.gramWeights));
    this.sequentialGram = sequential && {
      dots: new GramDots(gradients.map((g) => view(g.vectors[0], layout.trunk)), worker, workers, kernels),
      out: new Float64Array(sequential.gram),
    };
  }

  /**
   * Runs a chunk; returns when it is done, halted or aborted. A failing shard
   * job aborts the chunk for every worker and its error (naming the task, step
   * and shard) is thrown. `before` and `beforeUpdate` are the tests' fault hooks.
   */
  run(chunk: StepsJob, before?: (job: GradientJob) => void, beforeUpdate?: (step: number) => void): void {
    if (chunk.v !== PROTOCOL_VERSION) throw new Error(`steps job protocol version ${chunk.v}, the worker speaks ${PROTOCOL_VERSION}`);
    const { views, worker: w, combination, sequentialGram } = this;
    const T = views.handle.tasks;
    const fresh = this.rounds.length > 1;
    // the last to arrive at the barrier before an update decides whether it is applied
    const decide = () => (views.anyFlag() ? views.markHalted() : views.markUpdating(true));
    const gramOf = (k: number) => sequentialGram!.out.subarray(k * T * T, (k + 1) * T * T);
    for (let k = 0; k < chunk.count; k++) {
      const t = this.timing;
      t[TIMING_COMPUTE] = t[TIMING_REDUCE] = t[TIMING_UPDATE] = 0;
      // only the chunk's first step is read for when it began (each later one begins where the one before ended)
      if (k === 0) t[TIMING_BEGAN] = clock();
      // a short last batch can leave a shard without rows: then the reduction takes it as zeros (sumShards)
      const summed = this.summable && views.rowCount(k, 0) > 0 && views.rowCount(k, 1) > 0;
      for (let r = 0; r < this.rounds.length; r++) {
        let at = performance.now();
        let safe: boolean;
        try {
          safe = this.computeAndCheck(chunk, k, r, before);
        } catch (e) {
          views.abort();
          throw e;
        }
        views.setFlag(w, !safe);
        t[TIMING_COMPUTE] += performance.now() - at;
        if (combination) {
          // every shard in, then this slice reduced, the Gramian, the weights, this slice of the update checked
          if (!views.arrive(w, () => (views.anyFlag() ? views.markHalted() : undefined))) return;
          if (views.anyFlag()) return;
          at = performance.now();
          this.reduce(k, r);
          t[TIMING_REDUCE] += performance.now() - at;
          if (!views.arrive(w)) return;
          at = performance.now();
          combination.dots.compute(combination.gram(k));
          t[TIMING_REDUCE] += performance.now() - at;
          const step = chunk.firstStep + k;
          if (!views.arrive(w, () => combination.weigh(k, step))) return;
          at = performance.now();
          views.setFlag(w, !combination.combine(k));
          t[TIMING_REDUCE] += performance.now() - at;
          if (!views.arrive(w, decide)) return;
        } else {
          if (!views.arrive(w, decide)) return;
          if (!summed) {
            at = performance.now();
            this.reduce(k, r);
            t[TIMING_REDUCE] += performance.now() - at;
          }
          if (sequentialGram && !fresh) {
            // stale: the diagnostics' Gramian needs every slice reduced
            if (!views.arrive(w)) return;
            at = performance.now();
            sequentialGram.dots.compute(gramOf(k));
            t[TIMING_REDUCE] += performance.now() - at;
          }
        }
        if (views.anyFlag()) return;
        at = performance.now();
        beforeUpdate?.(chunk.firstStep + k);
        // the optimizers this round applies: task r's (fresh), every one in task order (stale), or the one
        for (let o = fresh ? r : 0; o < (fresh ? r + 1 : this.updates.length); o++) {
          const step = chunk.optimizerSteps[o] + k + 1;
          const lr = views.lr(k, o);
          for (const p of this.updates[o]) {
            if (summed) this.rule.updateSummed!(p.param, p.grad, p.other!, p.state, step, lr);
            else this.rule.update(p.param, p.grad, p.state, step, lr);
          }
        }
        t[TIMING_UPDATE] += performance.now() - at;
        if (fresh && !views.arrive(w, () => {
          this.params.bumpVersion();
          views.markUpdating(false);
          views.markRounds(r + 1);
        })) return;
      }
      if (fresh) {
        // every task's gradient is reduced: the diagnostics' Gramian before the next step writes the slots again
        const at = performance.now();
        sequentialGram!.dots.compute(gramOf(k));
        t[TIMING_REDUCE] += performance.now() - at;
      }
      // the step ends when the last worker arrives here; the waits at the barriers are the profile's idle
      t[TIMING_ARRIVED] = clock();
      if (!views.arrive(w, () => {
        if (!fresh) for (let o = 0; o < this.updates.length; o++) this.params.bumpVersion();
        views.markUpdating(false);
        views.markRounds(0);
        views.markDone(k + 1);
      })) return;
      views.setTiming(k, w, t);
    }
  }

  /**
   * Runs this worker's shard jobs of step k's round r, each as a gradient job
   * would run it, and checks them: false when a loss or gradient is not
   * finite, or a gradient is so large that the shards' sum might overflow
   * (the coordinator then takes the step and decides). Otherwise the sum is
   * finite, as the check of the reduced gradient would find.
   */
  private computeAndCheck(chunk: StepsJob, k: number, r: number, before?: (job: GradientJob) => void): boolean {
    const { views, executor, kernels } = this;
    const S = views.handle.shards;
    // each optimizer update adds a parameter version (sequential fresh: one per round)
    const version = chunk.version + k * this.updates.length + (this.rounds.length > 1 ? r : 0);
    let safe = true;
    for (const job of this.rounds[r]) {
      const s = job.shard;
      job.rowStart = views.shardRows[2 * (k * S + s)];
      job.rowCount = views.shardRows[2 * (k * S + s) + 1];
      if (job.rowCount === 0) continue;
      job.step = chunk.firstStep + k;
      job.version = version;
      for (let j = 0; j < job.tasks.length; j++) job.scales[j] = views.scale(k, job.tasks[j]);
      executor.gradient(job, before);
      const n = job.tasks.length;
      const losses = executor.stats;
      views.putShardLosses(k, s, job.tasks[0], losses, n);
      for (let j = 0; j < n; j++) if (!Number.isFinite(losses[j * LOSS_STATS_LENGTH + LOSS_SUM])) safe = false;
      // every element is at most the norm: below the limit, no sum of the shards can overflow
      for (const g of this.shardGradients[r][s]) if (!(kernels.norm(g.length, g) < this.safeNorm)) safe = false;
    }
    return safe;
  }

  /** Sums this worker's slice of round r's gradient(s) over step k's shards (sumShards). */
  private reduce(k: number, r: number): void {
    this.reduceStep = k;
    for (const p of this.sums[r]) sumShards(p.shards, this.home, this.hasRows, this.kernels);
  }
}

/**
 * Sums the shards' parts in shard order, ((g0 + g1) + g2) + ..., into
 * `shards[home]`, where a shard without rows (`has` false: a short last batch)
 * counts as zeros and its part, an older gradient, is never read. At home 1
 * the first sum is taken as g1 + g0: addition commutes, so the bits are those
 * of home 0 (zeros included: 0 + g1 turns -0 into +0, and so does g1 + 0).
 */
export function sumShards(shards: readonly Float32Array[], home: 0 | 1, has: (shard: number) => boolean, kernels: Kernels): void {
  const sum = shards[home];
  if (home === 0) {
    if (!has(0)) sum.fill(0);
  } else if (!has(1)) {
    if (has(0)) sum.set(shards[0]);
    else sum.fill(0);
  } else if (has(0)) {
    kernels.axpy(sum.length, 1, shards[0], sum);
  } else {
    for (let i = 0; i < sum.length; i++) sum[i] += 0;
  }
  for (let s = home + 1; s < shards.length; s++) if (has(s)) kernels.axpy(sum.length, 1, shards[s], sum);
}
