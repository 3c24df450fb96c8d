import { LOSS_STATS_LENGTH, type Kernels } from '../kernels/types.js';
import { segmentsFor, type ParameterLayout } from '../model/layout.js';
import type { FrameArena } from '../protocol/arena.js';
import { readFrame } from '../protocol/frame.js';
import type { GradientJob } from '../protocol/messages.js';
import type { LossTotals } from './metrics.js';
import { gradientJobs, setShardRows } from './plan.js';


/** What the frames of one round's shard jobs say about where the time went. */
export interface JobTiming {
  /** worker compute, summed over jobs */
  computeMs: number;
  /** smallest (round trip − compute) over the jobs */
  minOverheadMs: number;
  jobs: number;
}

interface ShardSlot {
  job: GradientJob;
  /** src[i] ↔ dst[i]: this shard's segments and where they are summed, in the first shard's frame */
  src: Float32Array[];
  dst: Float32Array[];
}

/**
 * One gradient computation split into shard jobs, and their reduction: the
 * gradients one set of shard jobs computes — the gradient of every task's
 * summed loss (fused), one task's, or (`separate`) each task's own from one
 * shared forward pass — reduced in shard order, in place, in the first shard's
 * frame. Each gradient in a frame spans the whole parameter vector (a task's
 * gradient is zero over the other tasks' heads, which no job ever writes), so
 * the first shard's payload is directly usable as the gradient(s): nothing is
 * copied. Jobs and views are built once and reused every step, so running a
 * phase allocates nothing proportional to the model.
 */
export class ShardJobs {
  private readonly slots: ShardSlot[];
  private readonly label: string;
  /** the reduced gradients, in the parameters' layout: one per task when `separate`, else one */
  readonly gradients: Float32Array[];

  constructor(private readonly kernels: Kernels, private readonly arena: FrameArena, names: string[],
    readonly tasks: number[], layout: ParameterLayout, separate: boolean, batch: number, shards: number, firstSlot: number) {
    this.label = tasks.map((t) => names[t]).join('+');
    const total = layout.total;
    // the segments each gradient's jobs write: the trunk and the heads of its tasks
    const written = separate ? tasks.map((t) => segmentsFor(layout, [t])) : [segmentsFor(layout, tasks)];
    const wholeVectors = (slot: number) => {
      const payload = arena.payload(slot, written.length * total);
      return written.map((_, i) => payload.subarray(i * total, (i + 1) * total));
    };
    this.gradients = wholeVectors(firstSlot);
    this.slots = gradientJobs(0, 0, tasks, tasks.map(() => 0), batch, shards, firstSlot, separate).map((job) => {
      const src: Float32Array[] = [];
      const dst: Float32Array[] = [];
      // the first shard's frame is the destination: nothing to add
      if (job.slot !== firstSlot) wholeVectors(job.slot).forEach((vector, i) => {
        for (const seg of written[i]) {
          src.push(vector.subarray(seg.offset, seg.offset + seg.length));
          dst.push(this.gradients[i].subarray(seg.offset, seg.offset + seg.length));
        }
      });
      return { job, src, dst };
    });
  }

  /**
   * Sets up every shard job for `rows` batch rows at parameter version `version`
   * and adds those with rows to `out` (for the pool to run).
   */
  prepare(step: number, version: number, rows: number, scales: readonly number[], out: GradientJob[]): void {
    const shards = this.slots.length;
    for (let s = 0; s < shards; s++) {
      const job = this.slots[s].job;
      setShardRows(job, rows, shards);
      job.step = step;
      job.version = version;
      for (let j = 0; j < this.tasks.length; j++) job.scales[j] = scales[this.tasks[j]];
      if (job.rowCount > 0) out.push(job);
    }
  }

  /**
   * Reduces the frames in shard order into the destination, adds their losses
   * to `totals` and returns the timing the frames carry, relative to `started`
   * (when the jobs were sent) and `finishedAt` (per slot, when each came back).
   */
  reduce(totals: LossTotals, started: number, finishedAt: Float64Array, out: JobTiming): void {
    // a short last batch can leave the first shard empty: its frame then holds an older gradient
    if (this.slots[0].job.rowCount === 0) for (const g of this.gradients) g.fill(0);
    for (let s = 0; s < this.slots.length; s++) {
      const slot = this.slots[s];
      if (slot.job.rowCount === 0) continue;
      const { header } = this.read(slot.job);
      const compute = header.computeMicros / 1000;
      out.computeMs += compute;
      out.jobs++;
      out.minOverheadMs = Math.min(out.minOverheadMs, Math.max(0, finishedAt[slot.job.slot] - started - compute));
      for (let i = 0; i < slot.src.length; i++) this.kernels.axpy(slot.src[i].length, 1, slot.src[i], slot.dst[i]);
      header.tasks.forEach((t, j) => totals.add(t, header.losses, j * LOSS_STATS_LENGTH));
    }
  }

  private read(job: GradientJob) {
    try {
      return readFrame(this.arena.frame(job.slot), { step: job.step, shard: job.shard, version: job.version });
    } catch (e) {
      throw new Error(`task ${this.label}, step ${job.step}, shard ${job.shard}: ${(e as Error).message}`);
    }
  }
}
