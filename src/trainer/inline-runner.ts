/**
 * Runs a step's gradient jobs on the coordinator thread itself, one after the
 * other in job order: the same executor the worker threads run, on the same
 * shared memory, so every bit equals a pooled run's. Worth it when a round trip
 * to the threads costs more than the jobs (small models: a few hundred
 * microseconds of compute against a wake-up and a report per round).
 */
import { JobExecutor, type ComputeSetup } from '../protocol/job-executor.js';
import type { GradientJob } from '../protocol/messages.js';
import { RunError } from '../util/errors.js';
import type { JobRunner, PlacementReport } from './pool.js';

export class InlineRunner implements JobRunner {
  readonly size = 1;
  readonly finishedAt: Float64Array;
  private readonly executor: JobExecutor;

  constructor(setup: ComputeSetup) {
    this.executor = new JobExecutor(setup);
    this.finishedAt = new Float64Array(setup.arena.slots);
  }

  placement(): PlacementReport {
    return { placement: 'coordinator' };
  }

  async warm(): Promise<void> {}

  /** A job that throws stops the run (a retry on this thread would only repeat it). */
  async runJobs(jobs: readonly GradientJob[]): Promise<void> {
    for (const job of jobs) {
      try {
        this.executor.run(job);
      } catch (e) {
        throw new RunError((e as Error).message);
      }
      this.finishedAt[job.slot] = performance.now();
    }
  }

  async close(): Promise<void> {}
}
