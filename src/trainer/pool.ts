import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Piscina } from 'piscina';
import { warmJob, type GradientJob, type WorkerJob, type WorkerSetup } from '../protocol/messages.js';
import { RunError } from '../util/errors.js';

/** How hard the pool tries before a failing job stops the run. */
export interface FaultPolicy {
  /** retries of one job after its first failure */
  retries: number;
  /** a job running longer than this is presumed hung: its thread is ended and the job retried */
  jobTimeoutMs: number;
}

export const DEFAULT_FAULT_POLICY: FaultPolicy = { retries: 2, jobTimeoutMs: 120_000 };
import { packageRoot } from '../util/package-root.js';

/** Workers always start from the compiled JavaScript, whether the caller runs from dist/ or from sources. */
export function workerFile(): string {
  const file = join(packageRoot(import.meta.url), 'dist', 'workers', 'task-worker.js');
  if (!existsSync(file)) throw new Error(`worker script ${file} is missing: run "npm run build" first`);
  return file;
}

/**
 * The worker pool, configured in one place: a fixed number of threads that stay
 * up for the whole run (piscina's defaults would size the pool from the core
 * count and let idle threads exit at once), one job per thread at a time.
 */
export class WorkerPool {
  private readonly piscina: Piscina;
  private poolError: Error | undefined;
  private closed = false;

  constructor(readonly size: number, setup: WorkerSetup, private readonly faults: FaultPolicy = DEFAULT_FAULT_POLICY) {
    this.piscina = new Piscina({
      filename: workerFile(),
      minThreads: size,
      maxThreads: size,
      idleTimeout: 60_000,
      concurrentTasksPerWorker: 1,
      workerData: setup,
    });
    // a result that cannot be cloned surfaces here rather than as a rejection
    this.piscina.on('error', (e: Error) => {
      this.poolError = e;
    });
  }

  /** Starts every thread and lets each initialise (kernels, workspace) before the first step. */
  async warm(): Promise<void> {
    await Promise.all(Array.from({ length: this.size * 2 }, () => this.piscina.run(warmJob())));
  }

  async run(job: WorkerJob): Promise<number> {
    if (this.poolError) throw this.poolError;
    return (await this.piscina.run(job)) as number;
  }

  /**
   * Runs a gradient job; a job that throws, whose thread dies, or that runs past
   * the timeout (its thread is then ended and replaced) is run again on a fresh
   * attempt. Its slot is rewritten from scratch at unchanged parameters, so the
   * result is the same as without the fault. After `retries` retries the run
   * stops with a RunError naming the task, the step and the last cause.
   */
  async runWithRetry(job: GradientJob, label: string): Promise<number> {
    let cause = '';
    for (let attempt = 0; attempt <= this.faults.retries; attempt++) {
      job.attempt = attempt;
      const abort = new AbortController();
      const timer = setTimeout(() => abort.abort(), this.faults.jobTimeoutMs);
      try {
        if (this.poolError) throw this.poolError;
        return (await this.piscina.run(job, { signal: abort.signal })) as number;
      } catch (e) {
        if (this.closed) throw e;
        cause = abort.signal.aborted ? `no answer within ${this.faults.jobTimeoutMs} ms (worker ended)` : (e as Error).message;
        this.poolError = undefined;
        this.onFault?.(`${label}: attempt ${attempt + 1} failed: ${cause}; retrying`);
      } finally {
        clearTimeout(timer);
      }
    }
    throw new RunError(`task ${label}, step ${job.step}: the job failed ${this.faults.retries + 1} times; last cause: ${cause}`);
  }

  /** Told about every fault that is retried. */
  onFault?: (message: string) => void;

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.piscina.destroy();
  }
}
