/**
 * Where a step's wall time goes. Worker-side figures come from the frames
 * (each carries its compute time); the rest is measured on the coordinator.
 *
 * - compute: worker busy time, summed over jobs and divided by the worker count
 *   (so it is comparable with wall time)
 * - broadcast: a cluster run's parameter broadcasts (0 on local threads)
 * - transport: per round of jobs, the smallest (round trip − compute − broadcast)
 *   over its jobs: the unavoidable dispatch-and-return latency (for a cluster
 *   run, mostly moving the gradient frames)
 * - idle: the rest of the time the coordinator waited for workers (load
 *   imbalance, queueing behind other jobs)
 * - reduce, combine, optimizer: coordinator work, serial (optimizer includes the
 *   non-finite checks and gradient clipping that precede each optimizer step);
 *   for steps run back to back on the threads (src/protocol/step-loop.ts),
 *   the mean thread's slice of the reduction and of the update, and idle their
 *   waits at the barriers
 */
export const PROFILE_PARTS = ['compute', 'broadcast', 'transport', 'idle', 'reduce', 'combine', 'optimizer'] as const;
export type ProfilePart = (typeof PROFILE_PARTS)[number];

export type StepTiming = Record<ProfilePart | 'total', number>;

export function emptyTiming(): StepTiming {
  return { compute: 0, broadcast: 0, transport: 0, idle: 0, reduce: 0, combine: 0, optimizer: 0, total: 0 };
}

/** Sums step timings (milliseconds) to report averages per step. */
export class Profile {
  readonly sums = emptyTiming();
  steps = 0;
  /**
   * Each worker thread's own compute, summed over the steps run back to back on
   * the threads (`loopSteps` of them): with a shard each, the profile's compute is
   * their mean, and a thread slower than the others leaves them waiting at the
   * barriers (idle).
   */
  private readonly workerSums: number[] = [];
  private loopSteps = 0;

  reset(): void {
    Object.assign(this.sums, emptyTiming());
    this.steps = 0;
    this.workerSums.length = 0;
    this.loopSteps = 0;
  }

  /** A step run back to back on the threads: each worker thread's compute in it (ms). */
  addWorkerCompute(ms: ArrayLike<number>): void {
    for (let w = 0; w < ms.length; w++) this.workerSums[w] = (this.workerSums[w] ?? 0) + ms[w];
    this.loopSteps++;
  }

  /** Mean compute per step of each worker thread over the steps run back to back on the threads; empty when none ran so. */
  computeByWorker(): number[] {
    return this.workerSums.map((sum) => sum / this.loopSteps);
  }

  add(t: StepTiming): void {
    for (const k of Object.keys(this.sums) as (keyof StepTiming)[]) this.sums[k] += t[k];
    this.steps++;
  }

  /** Mean milliseconds per step for each part. */
  perStep(): StepTiming {
    const out = emptyTiming();
    for (const k of Object.keys(out) as (keyof StepTiming)[]) out[k] = this.steps ? this.sums[k] / this.steps : 0;
    return out;
  }

  /** Overhead (transport, reduce, combine, optimizer) as a fraction of the step. */
  overheadFraction(): number {
    const s = this.sums;
    return s.total > 0 ? (s.transport + s.reduce + s.combine + s.optimizer) / s.total : 0;
  }
}
