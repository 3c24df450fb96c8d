import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Piscina } from 'piscina';
import { warmJob, type WorkerJob, type WorkerSetup } from '../protocol/messages.js';
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

  constructor(readonly size: number, setup: WorkerSetup) {
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

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.piscina.destroy();
  }
}
