import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Piscina } from 'piscina';
import { PROTOCOL_VERSION } from '../protocol/codec.js';
import { createMailboxBuffer, Mailbox } from '../protocol/mailbox.js';
import type { GradientJob, ServeJob, ServerJob, StepsJob, WorkerSetup } from '../protocol/messages.js';
import type { StepLoopViews } from '../protocol/step-loop-memory.js';
import { RunError } from '../util/errors.js';
import { packageRoot } from '../util/package-root.js';

/** How hard the pool tries before a failing job stops the run. */
export interface FaultPolicy {
  /** retries of one job after its first failure */
  retries: number;
  /** a job running longer than this is presumed hung: its thread is ended and the job retried */
  jobTimeoutMs: number;
}

export const DEFAULT_FAULT_POLICY: FaultPolicy = { retries: 2, jobTimeoutMs: 120_000 };

/**
 * How long the coordinator blocks on a mailbox before it waits through the
 * event loop instead: a blocked thread wakes right after the report, without a
 * task hop through the event loop. Long jobs fall through to the event loop
 * (ticks, thread exits and signals still get their turn).
 */
const SYNC_WAIT_MS = 5;

/** How often waits on the mailboxes are woken regardless of notifications (see the constructor). */
const POLL_MS = 50;

/** Workers always start from the compiled JavaScript, whether the caller runs from dist/ or from sources. */
export function workerFile(): string {
  const file = join(packageRoot(import.meta.url), 'dist', 'workers', 'task-worker.js');
  if (!existsSync(file)) throw new Error(`worker script ${file} is missing: run "npm run build" first`);
  return file;
}

/** One worker thread's serving loop, as the coordinator sees it. */
interface Server {
  mailbox: Mailbox;
  abort: AbortController;
  /** settles (never rejects) when the serving loop has ended */
  ended: Promise<void>;
  /** why it ended (a thread exit, an abort, an error); set before anyone waiting on the mailbox is woken */
  endReason: string | undefined;
}

/** What became of one job of a round. */
type Failure<J extends ServerJob = GradientJob> = { job: J; cause: string; ran: boolean };

/** How a chunk of steps shows life while its workers wait on each other (see runSteps). */
interface ChunkWatch {
  /** whether server i made progress since last asked, or waits at a barrier (so another holds the chunk up) */
  alive(i: number): boolean;
  /** a server is lost: bring the others out of the chunk */
  lost(): void;
}

/**
 * A worker thread's young generation, kept at V8's starting size: the step loop
 * allocates little a step, so scavenges stay rare and short. Left to grow, it
 * swelled early in a run and shrank back later, and the reference workload's
 * resident memory moved by several percent over 20,000 steps
 * (`node dist/scripts/memory.js 20000` shows it flat now).
 */
const WORKER_YOUNG_GENERATION_MB = 3;

/** Everything the pool needs to start, apart from the mailboxes it creates itself. */
export type PoolSetup = Omit<WorkerSetup, 'mailboxes'>;

/** Where a run's jobs are computed; `deciding` while computeOn auto still times both sides. */
export type Placement = 'workers' | 'coordinator' | 'deciding';

/** Where the jobs run and, when computeOn auto chose, the median step (milliseconds) each side took. */
export interface PlacementReport {
  placement: Placement;
  workersMs?: number;
  coordinatorMs?: number;
}

/** Runs `start` on a new runner; when it fails, closes the runner before rethrowing. */
export async function startedOrClosed<R extends { close(): Promise<void> }>(runner: R, start: (runner: R) => Promise<void>): Promise<R> {
  try {
    await start(runner);
  } catch (e) {
    await runner.close();
    throw e;
  }
  return runner;
}

/**
 * What runs a step's gradient jobs for the trainer: local threads (WorkerPool),
 * worker processes (ClusterPool), or both (HybridPool). Each job's frame ends up
 * in its arena slot; which worker computed it never changes a bit.
 */
export interface JobRunner {
  /** Workers computing at once (for the profile: worker compute is divided by it). */
  readonly size: number;
  /** Per arena slot: when the job's frame was in (performance.now()). */
  readonly finishedAt: Float64Array;
  /** Milliseconds spent broadcasting parameters since the start (cluster only). */
  readonly broadcastMs?: number;
  onFault?: (message: string) => void;
  /** A cluster run's traffic since the start (undefined on local threads). */
  clusterStats?(): ClusterStats | undefined;
  /** Where the jobs run (default: on worker threads or processes). */
  placement?(): PlacementReport;
  /** The worker threads that can run steps back to back, when this runner has them now (see step-loop.ts). */
  stepLoop?(): WorkerPool | undefined;
  /**
   * Told how long each of the trainer's calls took: `steps` steps (a chunk on
   * the threads, or one step taken alone) in `ms`, from laying out their batches
   * to their updates applied (computeOn auto compares the two sides so while it decides).
   */
  stepsTimed?(steps: number, ms: number): Promise<void>;
  warm(): Promise<void>;
  /**
   * Runs the jobs; `failedOnce` is the cause of a first attempt that failed
   * elsewhere (a chunk of steps): the jobs are then its retries.
   */
  runJobs(jobs: readonly GradientJob[], failedOnce?: string): Promise<void>;
  close(): Promise<void>;
}

/** What a cluster run sent and received, since its start. */
export interface ClusterStats {
  /** the run's id in the NATS subjects */
  run: string;
  /** worker processes whose heartbeats were seen */
  workersSeen: number;
  /** bytes of parameter broadcasts and of gradient frames (chunk headers included) */
  paramBytes: number;
  frameBytes: number;
  broadcastMs: number;
  /** messages dropped: malformed, or for another step, slot or attempt */
  dropped: number;
  /** jobs sent again after a fault */
  resent: number;
}

/**
 * Local threads and worker processes together: each round's jobs are split in
 * proportion to their sizes (local threads first), then both run at once.
 */
export class HybridPool implements JobRunner {
  readonly finishedAt: Float64Array;

  constructor(private readonly local: JobRunner, private readonly remote: JobRunner, slots: number) {
    this.finishedAt = new Float64Array(slots);
  }

  get size(): number {
    return this.local.size + this.remote.size;
  }

  get broadcastMs(): number | undefined {
    return this.remote.broadcastMs;
  }

  set onFault(f: ((message: string) => void) | undefined) {
    this.local.onFault = f;
    this.remote.onFault = f;
  }

  clusterStats(): ClusterStats | undefined {
    return this.remote.clusterStats?.();
  }

  async warm(): Promise<void> {
    await Promise.all([this.local.warm(), this.remote.warm()]);
  }

  async runJobs(jobs: readonly GradientJob[]): Promise<void> {
    const mine = Math.min(jobs.length, Math.ceil((jobs.length * this.local.size) / this.size));
    const parts: [JobRunner, readonly GradientJob[]][] = [[this.local, jobs.slice(0, mine)], [this.remote, jobs.slice(mine)]];
    await Promise.all(parts.map(([runner, share]) => (share.length > 0 ? runner.runJobs(share) : undefined)));
    for (const [runner, share] of parts) for (const job of share) this.finishedAt[job.slot] = runner.finishedAt[job.slot];
  }

  async close(): Promise<void> {
    await Promise.all([this.local.close(), this.remote.close()]);
  }
}

/**
 * The worker pool, configured in one place: a fixed number of piscina threads,
 * each running one long `serve` task for the whole run. A step's jobs go to the
 * threads through shared-memory mailboxes (src/protocol/mailbox.ts) instead of a
 * message per job; piscina starts, replaces and ends the threads.
 *
 * Jobs are dealt to the servers by position (job i to server i mod size); results
 * land in arena slots named by the jobs, so which server ran a job never changes
 * a result.
 */
export class WorkerPool implements JobRunner {
  private readonly piscina: Piscina;
  private readonly servers: Server[] = [];
  private readonly buffer: SharedArrayBuffer;
  private readonly maxJobs: number;
  private readonly maxTasks: number;
  private readonly taskNames: string[];
  private poolError: Error | undefined;
  private closed = false;
  /** hands out a new token to every server started (see Mailbox.handOver) */
  private tokens = 0;
  private readonly tick: NodeJS.Timeout;
  /** per arena slot: when the coordinator saw that slot's job finish (performance.now()) */
  readonly finishedAt: Float64Array;

  private readonly hasLoop: boolean;

  constructor(readonly size: number, setup: PoolSetup, private readonly faults: FaultPolicy = DEFAULT_FAULT_POLICY) {
    if (setup.loop && setup.loop.workers !== size) throw new Error(`step loop for ${setup.loop.workers} workers given to a pool of ${size}`);
    this.hasLoop = setup.loop !== undefined;
    this.maxJobs = setup.arena.slots;
    this.maxTasks = setup.spec.tasks.length;
    this.taskNames = setup.spec.tasks.map((t) => t.name);
    this.buffer = createMailboxBuffer(size, this.maxJobs, this.maxTasks);
    this.finishedAt = new Float64Array(setup.arena.slots);
    this.piscina = new Piscina({
      filename: workerFile(),
      minThreads: size,
      maxThreads: size,
      idleTimeout: 60_000,
      concurrentTasksPerWorker: 1,
      resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB },
      workerData: { ...setup, mailboxes: { buffer: this.buffer, maxJobs: this.maxJobs, maxTasks: this.maxTasks } } satisfies WorkerSetup,
    });
    // a result that cannot be cloned surfaces here rather than as a rejection
    this.piscina.on('error', (e: Error) => {
      this.poolError = e;
    });
    for (let i = 0; i < size; i++) this.servers.push(this.startServer(i, 0));
    // A backstop, not the signal: wakes every wait now and then, so a lost notification costs at
    // most one tick and a hung job is noticed within a tick of its timeout. Never keeps the process up.
    this.tick = setInterval(() => {
      for (const server of this.servers) server.mailbox.wakeCoordinator();
    }, POLL_MS);
    this.tick.unref();
  }

  private startServer(index: number, seen: number): Server {
    const mailbox = new Mailbox({ buffer: this.buffer, index, maxJobs: this.maxJobs, maxTasks: this.maxTasks });
    const token = ++this.tokens;
    mailbox.handOver(token);
    const abort = new AbortController();
    const task: ServeJob = { kind: 'serve', v: PROTOCOL_VERSION, server: index, seen, token };
    const server: Server = { mailbox, abort, ended: Promise.resolve(), endReason: undefined };
    // The end wakes whoever waits on the mailbox, instead of being raced against every wait
    // (a Promise.race per step would pile reactions onto this never-settling promise).
    server.ended = this.piscina.run(task, { signal: abort.signal }).then(
      () => 'the worker stopped serving',
      (e: Error) => (abort.signal.aborted ? 'the worker was ended' : `the worker failed: ${e.message}`),
    ).then((reason) => {
      server.endReason = reason;
      mailbox.wakeCoordinator();
    });
    return server;
  }

  /** Replaces server i (after its thread ended, or to end a hung one). */
  private async restart(i: number, end: boolean): Promise<void> {
    const old = this.servers[i];
    if (end) old.abort.abort();
    await old.ended;
    this.servers[i] = this.startServer(i, old.mailbox.generation);
  }

  /** Waits until every thread has initialised (kernels, workspace), so the first step is not slower. */
  async warm(): Promise<void> {
    await Promise.all(this.servers.map(async (server) => {
      while (!server.mailbox.ready) {
        if (server.endReason !== undefined) throw new RunError(`a worker could not start: ${server.endReason}`);
        await server.mailbox.waitForReady();
      }
    }));
  }

  /**
   * Runs gradient jobs (at most one per arena slot) and resolves when every one
   * has written its frame. A job that throws, whose thread dies, or that runs
   * past the timeout (its thread is then ended and replaced) is run again on a
   * fresh attempt. Its slot is rewritten from scratch at unchanged parameters,
   * so the result is the same as without the fault. After `retries` retries the
   * run stops with a RunError naming the task, the step and the last cause.
   */
  async runJobs(jobs: readonly GradientJob[], failedOnce?: string): Promise<void> {
    for (const job of jobs) job.attempt = 0;
    if (failedOnce !== undefined) {
      this.retryOrThrow({ job: jobs[0], cause: failedOnce, ran: true });
      for (const job of jobs) job.attempt = jobs[0].attempt;
    }
    let pending = jobs;
    while (pending.length > 0) {
      const failures = await this.round(pending);
      for (const f of failures) if (f.ran) this.retryOrThrow(f);
      pending = failures.map((f) => f.job);
    }
  }

  /** Counts a failed attempt: tells onFault and moves the job to its next attempt, or stops the run after the last. */
  private retryOrThrow(f: Failure): void {
    const label = this.label(f.job);
    if (f.job.attempt >= this.faults.retries) {
      throw new RunError(`task ${label}, step ${f.job.step}: the job failed ${f.job.attempt + 1} times; last cause: ${f.cause}`);
    }
    this.onFault?.(`${label}: attempt ${f.job.attempt + 1} failed: ${f.cause}; retrying`);
    f.job.attempt++;
  }

  /** This pool, when its threads were given a step loop (src/protocol/step-loop.ts). */
  stepLoop(): WorkerPool | undefined {
    return this.hasLoop ? this : undefined;
  }

  /**
   * Runs a chunk of steps on every thread at once (src/protocol/step-loop.ts);
   * resolves when every thread has left it, with the cause of the failure
   * that ended it early (undefined when none did: it ran to its end or halted on
   * a non-finite value). A thread that ended or hung is replaced, and the
   * others are brought out of the chunk; `views` tells how far it got.
   */
  async runSteps(chunk: StepsJob, views: StepLoopViews): Promise<string | undefined> {
    this.checkOpen();
    views.reset();
    const generations = this.servers.map((server) => server.mailbox.post([chunk]));
    const failures: Failure<StepsJob>[] = [];
    const lastDone = this.servers.map(() => 0);
    const watch: ChunkWatch = {
      alive: (i) => {
        const { done } = views.progress();
        const moved = done !== lastDone[i];
        lastDone[i] = done;
        return moved || views.waiting(i);
      },
      lost: () => views.abort(),
    };
    await Promise.all(this.servers.map((_, i) => this.collect(i, [chunk], generations[i], failures, watch)));
    if (this.closed) throw new RunError('the worker pool was closed during a step');
    return failures.find((f) => f.ran)?.cause;
  }

  private checkOpen(): void {
    if (this.closed) throw new RunError('the worker pool is closed');
    if (this.poolError) throw this.poolError;
  }

  /** Told about every fault that is retried. */
  onFault?: (message: string) => void;

  private label(job: GradientJob): string {
    return job.tasks.map((t) => this.taskNames[t] ?? `#${t}`).join('+');
  }

  /** One round: job i to server i mod size, all servers at once; returns the jobs that did not finish. */
  private async round(jobs: readonly GradientJob[]): Promise<Failure[]> {
    this.checkOpen();
    const shares = this.servers.map((_, i) => jobs.filter((_, j) => j % this.size === i));
    // every share posted before any wait: a blocking wait on one server must not hold back another's start
    const generations = shares.map((share, i) => (share.length > 0 ? this.servers[i].mailbox.post(share) : 0));
    const failures: Failure[] = [];
    await Promise.all(shares.map((share, i) => share.length > 0 ? this.collect(i, share, generations[i], failures) : undefined));
    if (this.closed) throw new RunError('the worker pool was closed during a step');
    return failures;
  }

  /** Collects the outcomes of `share`, posted to server i as round `generation`, replacing the server if it dies or hangs. */
  private async collect<J extends ServerJob>(i: number, share: J[], generation: number, failures: Failure<J>[], watch?: ChunkWatch): Promise<void> {
    const server = this.servers[i];
    const { mailbox } = server;
    let seen = 0;
    let lastReport = performance.now();
    for (;;) {
      // read the wake word before the outcomes: a report landing in between then ends the wait at once
      const progress = mailbox.progress;
      const now = performance.now();
      // the server runs its share in order, so outcomes arrive in order
      for (let outcome = mailbox.outcome(generation, seen); outcome; outcome = mailbox.outcome(generation, ++seen)) {
        lastReport = now;
        const job: ServerJob = share[seen];
        if (outcome.ok && job.kind === 'gradient') this.finishedAt[job.slot] = now;
        else if (!outcome.ok) failures.push({ job: share[seen], cause: outcome.message, ran: true });
        if (seen + 1 === share.length) return;
      }
      if (watch?.alive(i)) lastReport = now;
      const timedOut = now - lastReport > this.faults.jobTimeoutMs;
      if (timedOut || server.endReason !== undefined) {
        watch?.lost();
        // the running job hung or its thread ended: it failed; the rest of the share never ran
        const cause = timedOut ? `no answer within ${this.faults.jobTimeoutMs} ms (worker ended)` : server.endReason!;
        if (this.closed) return;
        await this.restart(i, timedOut);
        failures.push({ job: share[seen], cause, ran: true });
        for (let j = seen + 1; j < share.length; j++) failures.push({ job: share[j], cause, ran: false });
        return;
      }
      if (!mailbox.waitForProgressSync(progress, SYNC_WAIT_MS)) await mailbox.waitForProgress(progress);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.tick);
    for (const server of this.servers) server.mailbox.stop();
    await this.piscina.destroy();
  }
}
