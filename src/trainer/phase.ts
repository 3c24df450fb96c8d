import type { Kernels } from '../kernels/types.js';
import { segmentsFor, type ParameterLayout } from '../model/layout.js';
import type { FrameArena } from '../protocol/arena.js';
import { readFrame } from '../protocol/frame.js';
import type { GradientJob } from '../protocol/messages.js';
import type { LossTotals } from './metrics.js';
import { gradientJobs, setShardRows } from './plan.js';


/** What a group of phases' frames say about where the time went. */
export interface PhaseTiming {
  /** worker compute, summed over jobs */
  computeMs: number;
  /** smallest (round trip − compute) over the jobs */
  minOverheadMs: number;
  jobs: number;
}

interface ShardSlot {
  job: GradientJob;
  /** payload[i] ↔ target[i]: the frame's segments and where they land in the gradient */
  payload: Float32Array[];
  target: Float32Array[];
}

/**
 * The gradients one set of shard jobs computes — the gradient of every task's
 * summed loss (fused), one task's, or (`separate`) each task's own from one
 * shared forward pass — reduced in shard order into fixed destinations.
 * Jobs, payload views and destination views are built once and reused every
 * step, so running a phase allocates nothing proportional to the model.
 */
export class GradientPhase {
  private readonly slots: ShardSlot[];
  private readonly taskNames: string;
  /** the reduced gradient, in the parameters' layout (the first one when `separate`) */
  readonly gradient: Float32Array;
  private readonly inPlace: boolean;

  /**
   * `into`: one destination per gradient (one per task when `separate`, else one),
   * or 'in-place' to reduce in the first shard's frame, whose payload is then
   * the gradient (possible when the payload is laid out like the parameters).
   */
  constructor(private readonly kernels: Kernels, private readonly arena: FrameArena, names: string[],
    readonly tasks: number[], layout: ParameterLayout, separate: boolean, batch: number, shards: number,
    firstSlot: number, into: Float32Array[] | 'in-place') {
    this.taskNames = tasks.map((t) => names[t]).join('+');
    const parts = separate ? tasks.map((t) => segmentsFor(layout, [t])) : [segmentsFor(layout, tasks)];
    const floats = parts.flat().reduce((n, s) => n + s.length, 0);
    this.inPlace = into === 'in-place';
    if (this.inPlace && (parts.length !== 1 || parts[0].length !== 1 || parts[0][0].offset !== 0)) {
      throw new Error('an in-place reduction needs a payload laid out like the parameters');
    }
    const destinations = into === 'in-place' ? [arena.payload(firstSlot, floats)] : into;
    if (destinations.length !== parts.length) throw new Error(`${parts.length} gradients need as many destinations, got ${destinations.length}`);
    this.gradient = destinations[0];
    this.slots = gradientJobs(0, 0, tasks, tasks.map(() => 0), batch, shards, firstSlot, separate).map((job) => {
      const payload: Float32Array[] = [];
      const target: Float32Array[] = [];
      let at = 0;
      const view = arena.payload(job.slot, floats);
      parts.forEach((segments, i) => {
        for (const s of segments) {
          payload.push(view.subarray(at, at + s.length));
          target.push(destinations[i].subarray(s.offset, s.offset + s.length));
          at += s.length;
        }
      });
      return { job, payload, target };
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
  reduce(totals: LossTotals, started: number, finishedAt: Float64Array, out: PhaseTiming): void {
    let first = true;
    if (this.inPlace && this.slots[0].job.rowCount === 0) {
      // a short last batch left the first shard empty: its slot holds an old gradient
      this.gradient.fill(0);
      first = false;
    }
    for (let s = 0; s < this.slots.length; s++) {
      const slot = this.slots[s];
      if (slot.job.rowCount === 0) continue;
      const { header } = this.read(slot.job);
      const compute = header.computeMicros / 1000;
      out.computeMs += compute;
      out.jobs++;
      out.minOverheadMs = Math.min(out.minOverheadMs, Math.max(0, finishedAt[slot.job.slot] - started - compute));
      for (let i = 0; i < slot.payload.length; i++) {
        if (first) {
          if (!this.inPlace) slot.target[i].set(slot.payload[i]);
        }
        else this.kernels.axpy(slot.payload[i].length, 1, slot.payload[i], slot.target[i]);
      }
      first = false;
      header.tasks.forEach((t, j) => totals.add(t, header.losses[3 * j], header.losses[3 * j + 1], header.losses[3 * j + 2]));
    }
  }

  private read(job: GradientJob) {
    try {
      return readFrame(this.arena.frame(job.slot), { step: job.step, shard: job.shard, version: job.version });
    } catch (e) {
      throw new Error(`task ${this.taskNames}, step ${job.step}, shard ${job.shard}: ${(e as Error).message}`);
    }
  }
}
