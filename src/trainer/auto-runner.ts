/**
 * computeOn `auto`: whether a run's gradient jobs go to the worker threads or
 * run on the coordinator thread, decided from what both cost on this machine.
 *
 * The rule: the first rounds warm both up (WARM_ROUNDS on the threads, then as
 * many on the coordinator); then the two alternate for TIMED_ROUNDS rounds each,
 * timing each round from dispatch to the last job's end, and the one whose
 * median round is shorter keeps the run (the threads are closed when the
 * coordinator wins). Alternating keeps both sides' samples moments apart on a
 * machine whose speed drifts. Where steps can run back to back on the
 * threads (src/protocol/step-loop.ts), a round on the threads' side is such a
 * chunk of steps and its sample the chunk's time per step, against single
 * steps on the coordinator: each side as it would run. Which side computes
 * never changes a bit: both run the same executor in the same job order
 * (src/protocol/job-executor.ts).
 */
import type { GradientJob } from '../protocol/messages.js';
import type { JobRunner, Placement, PlacementReport, WorkerPool } from './pool.js';

export const WARM_ROUNDS = 8;
export const TIMED_ROUNDS = 16;

/** What the choice was based on: median milliseconds per round on each side. */
export interface PlacementChoice extends Required<PlacementReport> {
  placement: Exclude<Placement, 'deciding'>;
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

export class AutoRunner implements JobRunner {
  private rounds = 0;
  private readonly timed = { workers: [] as number[], coordinator: [] as number[] };
  private current: JobRunner;
  /** set once the timed rounds are in */
  private choice: PlacementChoice | undefined;

  constructor(private readonly pool: JobRunner, private readonly inline: JobRunner,
    private readonly onChoice?: (choice: PlacementChoice) => void) {
    this.current = pool;
  }

  placement(): PlacementReport {
    return this.choice ?? { placement: 'deciding' };
  }

  get size(): number {
    return this.current.size;
  }

  get finishedAt(): Float64Array {
    return this.current.finishedAt;
  }

  set onFault(f: ((message: string) => void) | undefined) {
    this.pool.onFault = f;
  }

  warm(): Promise<void> {
    return this.pool.warm();
  }

  /**
   * The threads' step loop (steps back to back, src/protocol/step-loop.ts)
   * once the threads have won; while deciding, for each round on the threads'
   * side, so that the threads are timed as they would run: the caller then
   * reports the chunk's time per step through chunkTimed.
   */
  stepLoop(): WorkerPool | undefined {
    if (this.choice) return this.choice.placement === 'workers' ? this.pool.stepLoop?.() : undefined;
    return this.sideOf(this.rounds) === 'workers' ? this.pool.stepLoop?.() : undefined;
  }

  /** A chunk of steps on the threads while deciding: one round on their side, timed per step. */
  async chunkTimed(msPerStep: number): Promise<void> {
    if (this.choice) return;
    if (this.rounds++ >= 2 * WARM_ROUNDS) this.timed.workers.push(msPerStep);
    await this.decideWhenTimed();
  }

  private async decideWhenTimed(): Promise<void> {
    if (!this.choice && this.timed.workers.length >= TIMED_ROUNDS && this.timed.coordinator.length >= TIMED_ROUNDS) await this.decide();
  }

  async runJobs(jobs: readonly GradientJob[], failedOnce?: string): Promise<void> {
    await this.decideWhenTimed();
    if (this.choice) return this.current.runJobs(jobs, failedOnce);
    const side = this.sideOf(this.rounds++);
    this.current = side === 'coordinator' ? this.inline : this.pool;
    const started = performance.now();
    await this.current.runJobs(jobs);
    if (this.rounds > 2 * WARM_ROUNDS) this.timed[side].push(performance.now() - started);
  }

  /** Round r's side: the warm-ups in turn, then alternating. */
  private sideOf(r: number): 'workers' | 'coordinator' {
    if (r < WARM_ROUNDS) return 'workers';
    if (r < 2 * WARM_ROUNDS) return 'coordinator';
    return (r - 2 * WARM_ROUNDS) % 2 === 0 ? 'workers' : 'coordinator';
  }

  private async decide(): Promise<void> {
    const workersMs = median(this.timed.workers);
    const coordinatorMs = median(this.timed.coordinator);
    const placement = coordinatorMs < workersMs ? 'coordinator' : 'workers';
    this.choice = { placement, workersMs, coordinatorMs };
    this.current = placement === 'coordinator' ? this.inline : this.pool;
    if (placement === 'coordinator') await this.pool.close();
    this.onChoice?.(this.choice);
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}
