/**
 * The coordinator's side of a cluster run: runs a step's shard jobs on worker
 * processes over NATS, with the same contract as the local pool — each job's
 * frame ends up in its arena slot, and the trainer reduces the slots in shard
 * order as always, so who computed which shard never changes a bit.
 *
 * - Parameters go out once per version, as a broadcast in chunks, before the
 *   first job that needs them; the dataset once per run, to the object store
 *   under its content hash.
 * - A job is a request to the queue group; one worker accepts it and later
 *   sends the frame back in chunks, which land straight in the job's slot. A
 *   frame of another step, slot or attempt (a late answer to a job already
 *   re-sent) is dropped and counted.
 * - Faults: a job whose frame does not come within jobTimeoutMs, or whose
 *   worker stops sending heartbeats, or that its worker reports failed, is
 *   sent again (a new attempt) to whichever worker takes it; after `retries`
 *   the run stops naming task, step and cause. No worker at all for waitMs is
 *   a ClusterUnavailableError (the CLI checkpoints and stops).
 */
import { randomBytes } from 'node:crypto';
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { Objm } from '@nats-io/obj';
import { supportedKernels, type KernelChoice } from '../kernels/index.js';
import {
  ChunkAssembly, chunk, CHUNK_HEADER, chunkBytesFor, DATA_BUCKET, decodeAnswer, decodeHeartbeat, decodeInfo, encodeDataset, encodeMessage,
  HEARTBEAT, HEARTBEAT_MS, readChunk, runSubjects, WORKER_INFO, type ClusterJob, type WorkerInfo,
} from '../protocol/cluster.js';
import { PROTOCOL_VERSION } from '../protocol/codec.js';
import { readFrame } from '../protocol/frame.js';
import type { GradientJob } from '../protocol/messages.js';
import { FrameArena } from '../protocol/arena.js';
import { RunError } from '../util/errors.js';
import { DEFAULT_FAULT_POLICY, startedOrClosed, type ClusterStats, type FaultPolicy, type JobRunner, type PoolSetup } from './pool.js';
import { redactUrl } from './cluster-connection.js';

/** No worker process answered for cluster.waitMs. */
export class ClusterUnavailableError extends RunError {
  override name = 'ClusterUnavailableError';
}

/**
 * How long a job request waits for a worker's answer (accepted or refused, sent at once; a worker that joins
 * the run first answers after fetching its setup and data). An unanswered request is sent again.
 */
const ANSWER_MS = 5000;

/** Instruction sets from the fastest to the most portable: the common choice is the first every process has. */
const KERNEL_ORDER = ['avx512', 'avx2', 'scalar', 'js'];

/**
 * The kernels every party can run: the fastest that each worker (and the
 * coordinator, when it computes too) offers. Undefined when they share none.
 */
export function commonKernels(offers: readonly (readonly KernelChoice[])[]): KernelChoice | undefined {
  const isa = KERNEL_ORDER.find((i) => offers.every((o) => o.some((k) => k.isa === i)));
  return isa === undefined ? undefined : { backend: isa === 'js' ? 'js' : 'native', isa };
}

export interface ClusterOptions {
  url: string;
  /** ms without any worker before the run stops */
  waitMs: number;
  /** The kernels to compute with; default: the common choice of the workers present at the start (and this process when `alsoLocal`). */
  kernels?: KernelChoice;
  /** The coordinator's own threads compute too: its kernels must be in the choice. */
  alsoLocal: boolean;
}

interface Pending {
  job: GradientJob;
  /** attempts start at 0; a frame must carry the current one */
  attempt: number;
  worker: string | undefined;
  sentAt: number;
  assembly: ChunkAssembly | undefined;
  done: boolean;
  failed: string | undefined;
}

/** Traffic and time of the last runJobs (for the profile) and since the start. */
export interface ClusterCounters {
  paramBytes: number;
  frameBytes: number;
  broadcastMs: number;
  dropped: number;
  resent: number;
}

export class ClusterPool implements JobRunner {
  readonly run = randomBytes(6).toString('hex');
  readonly finishedAt: Float64Array;
  onFault?: (message: string) => void;
  /** worker id → when its last heartbeat came */
  private readonly lastSeen = new Map<string, number>();
  private readonly subjects: ReturnType<typeof runSubjects>;
  private readonly subs: Subscription[] = [];
  private readonly arena: FrameArena;
  private readonly params: Float32Array;
  private readonly paramVersion: Int32Array;
  private readonly batchRows: Int32Array;
  private readonly pending = new Map<number, Pending>();
  private readonly chunkBytes: number;
  private broadcastVersion = -1;
  private wake: (() => void) | undefined;
  private closed = false;
  readonly counters: ClusterCounters = { paramBytes: 0, frameBytes: 0, broadcastMs: 0, dropped: 0, resent: 0 };

  get broadcastMs(): number {
    return this.counters.broadcastMs;
  }

  clusterStats(): ClusterStats {
    return { run: this.run, workersSeen: this.workersSeen, ...this.counters };
  }
  kernels: KernelChoice | undefined;

  private constructor(private readonly nc: NatsConnection, private readonly setup: PoolSetup, private readonly options: ClusterOptions,
    private readonly faults: FaultPolicy) {
    this.subjects = runSubjects(this.run);
    this.arena = new FrameArena(setup.arena);
    this.finishedAt = new Float64Array(setup.arena.slots);
    this.params = new Float32Array(setup.params.buffer);
    this.paramVersion = new Int32Array(setup.params.versionBuffer);
    this.batchRows = new Int32Array(setup.batchRows);
    this.chunkBytes = chunkBytesFor(nc.info?.max_payload ?? 1024 * 1024);
  }

  /** Worker processes seen (their heartbeats) during the run. */
  get workersSeen(): number {
    return this.lastSeen.size;
  }

  /** Worker processes whose heartbeat is recent (at least 1, for the profile). */
  get size(): number {
    return Math.max(1, this.liveWorkers());
  }

  private liveWorkers(): number {
    const now = performance.now();
    let n = 0;
    for (const t of this.lastSeen.values()) if (now - t < 3 * HEARTBEAT_MS) n++;
    return n;
  }

  /**
   * Publishes the dataset, answers setup requests, follows heartbeats and
   * frames, and settles the kernels (waiting up to waitMs for a first worker
   * when they must be chosen from the workers').
   */
  static async start(nc: NatsConnection, setup: PoolSetup, options: ClusterOptions, faults: FaultPolicy = DEFAULT_FAULT_POLICY): Promise<ClusterPool> {
    return startedOrClosed(new ClusterPool(nc, setup, options, faults), (pool) => pool.init());
  }

  private async init(): Promise<void> {
    const { bytes, hash } = encodeDataset(this.setup.dataset);
    const store = await new Objm(this.nc).create(DATA_BUCKET);
    if ((await store.info(hash)) === null) await store.putBlob({ name: hash }, bytes);
    this.subs.push(this.nc.subscribe(HEARTBEAT, { callback: (err, msg) => { if (!err) this.onHeartbeat(msg); } }));
    this.subs.push(this.nc.subscribe(this.subjects.frames, { callback: (err, msg) => { if (!err) this.onFrameChunk(msg.data); } }));
    this.subs.push(this.nc.subscribe(this.subjects.want, { callback: (err) => { if (!err) this.rebroadcast(); } }));
    void this.followStatus();
    this.kernels = this.options.kernels ?? await this.chooseKernels();
    const setupMessage = encodeMessage({
      v: PROTOCOL_VERSION, run: this.run, spec: this.setup.spec, dataset: hash, maxRows: this.setup.maxRows,
      kernels: this.kernels, chunkBytes: this.chunkBytes,
    });
    this.subs.push(this.nc.subscribe(this.subjects.setup, { callback: (err, msg) => { if (!err) msg.respond(setupMessage); } }));
  }

  /** What the workers present support: their answers to the info request (waiting up to waitMs for a first). */
  async workerInfo(): Promise<WorkerInfo[]> {
    const deadline = performance.now() + this.options.waitMs;
    for (;;) {
      const infos: WorkerInfo[] = [];
      try {
        for await (const reply of await this.nc.requestMany(WORKER_INFO, new Uint8Array(0), { maxWait: 300 })) {
          try {
            infos.push(decodeInfo(reply.data));
          } catch {
            this.counters.dropped++;
          }
        }
      } catch {
        // no responders yet
      }
      if (infos.length > 0) return infos;
      if (performance.now() > deadline) throw this.unavailable();
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  private async chooseKernels(): Promise<KernelChoice> {
    const offers = (await this.workerInfo()).map((i) => i.kernels);
    if (this.options.alsoLocal) offers.push(supportedKernels());
    const choice = commonKernels(offers);
    if (!choice) throw new RunError(`cluster ${redactUrl(this.options.url)}: the workers share no kernels (${offers.map((o) => o.map((k) => k.isa).join('/')).join('; ')})`);
    return choice;
  }

  private unavailable(): ClusterUnavailableError {
    return new ClusterUnavailableError(`cluster ${redactUrl(this.options.url)}: no multitask worker answered for ${this.options.waitMs} ms (start one with: multitask worker --connect ${redactUrl(this.options.url)})`);
  }

  /**
   * The server went away and the client reconnected: frames sent meanwhile are gone (nobody was subscribed),
   * so the jobs in flight are sent again at once rather than after jobTimeoutMs.
   */
  private async followStatus(): Promise<void> {
    for await (const status of this.nc.status()) {
      if (status.type !== 'reconnect') continue;
      for (const p of this.pending.values()) {
        if (!p.done && p.worker !== undefined && p.failed === undefined) p.failed = `the connection to the NATS server was lost (reconnected to ${status.server})`;
      }
      this.wake?.();
    }
  }

  private onHeartbeat(msg: Msg): void {
    try {
      this.lastSeen.set(decodeHeartbeat(msg.data).worker, performance.now());
    } catch {
      this.counters.dropped++;
    }
  }

  async warm(): Promise<void> {
    // the workers warm their own threads when they join a run
  }

  /** Broadcasts the parameters at their current version, unless that version went out already. */
  private broadcast(force = false): void {
    const version = Atomics.load(this.paramVersion, 0);
    if (!force && version === this.broadcastVersion) return;
    const started = performance.now();
    const bytes = new Uint8Array(this.params.buffer, this.params.byteOffset, this.params.byteLength);
    for (const part of chunk('params', version, 0, 0, bytes, this.chunkBytes)) {
      this.nc.publish(this.subjects.params, part);
      this.counters.paramBytes += part.length;
    }
    this.broadcastVersion = version;
    this.counters.broadcastMs += performance.now() - started;
  }

  /** A worker missed a version: the current one goes out again (the parameters only change between steps). */
  private rebroadcast(): void {
    if (this.broadcastVersion >= 0) this.broadcast(true);
  }

  /**
   * Runs the jobs on the cluster; resolves when every frame is in its slot.
   * Rejects with a RunError after `retries` failed attempts of one job, and
   * with a ClusterUnavailableError when no worker takes a job for waitMs.
   */
  async runJobs(jobs: readonly GradientJob[]): Promise<void> {
    if (this.closed) throw new RunError('the cluster connection is closed');
    this.broadcast();
    for (const job of jobs) {
      this.pending.set(job.slot, { job, attempt: 0, worker: undefined, sentAt: performance.now(), assembly: undefined, done: false, failed: undefined });
    }
    try {
      await Promise.all(jobs.map((job) => this.dispatch(this.pending.get(job.slot)!)));
      await this.collect();
    } finally {
      this.pending.clear();
    }
  }

  /** Sends a job until a worker accepts it; waits up to waitMs while no worker is there. */
  private async dispatch(p: Pending): Promise<void> {
    const { job } = p;
    const rows = this.batchRows.slice(job.rowStart, job.rowStart + job.rowCount);
    const message: ClusterJob = {
      v: PROTOCOL_VERSION, run: this.run, step: job.step, version: job.version, shard: job.shard, slot: job.slot,
      tasks: job.tasks, scales: job.scales, separate: job.separate, attempt: p.attempt, rows,
    };
    const data = encodeMessage(message);
    let since = performance.now();
    for (;;) {
      if (this.closed) throw new RunError('the cluster connection was closed during a step');
      try {
        const timeout = Math.min(ANSWER_MS, this.faults.jobTimeoutMs, this.options.waitMs);
        const answer = decodeAnswer((await this.nc.request(this.subjects.jobs, data, { timeout })).data);
        if (answer.accepted) {
          p.worker = answer.worker;
          p.sentAt = performance.now();
          // an answer is a sign of life too: a worker that dies before its first heartbeat came is still missed
          this.lastSeen.set(answer.worker, p.sentAt);
          return;
        }
        this.onFault?.(`${this.label(job)}, step ${job.step}: worker ${answer.worker} refused the job: ${answer.reason}`);
        since = Math.min(since, performance.now());
      } catch (e) {
        const why = `${(e as Error).name} ${(e as Error).message}`;
        // anything but our own close is the server or the workers being away for now (no responders,
        // a timeout, a request cut by a disconnect): retried until waitMs
        if (this.closed || this.nc.isClosed()) throw e;
        // A request that went unanswered while workers are alive was lost with a worker that died before
        // answering (or one still joining the run, whose late answer and frame are harmless repeats): not "no worker".
        if (/timeout/i.test(why) && this.liveWorkers() > 0) since = performance.now();
      }
      if (performance.now() - since > this.options.waitMs) throw this.unavailable();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  private label(job: GradientJob): string {
    return `task ${job.tasks.map((t) => this.setup.spec.tasks[t]?.name ?? `#${t}`).join('+')}`;
  }

  /** Waits for every pending frame, re-sending the jobs that fail, hang, or lose their worker. */
  private async collect(): Promise<void> {
    for (;;) {
      let open = 0;
      const now = performance.now();
      for (const p of this.pending.values()) {
        if (p.done) continue;
        open++;
        const lastBeat = p.worker === undefined ? undefined : this.lastSeen.get(p.worker);
        const cause = p.failed
          ?? (now - p.sentAt > this.faults.jobTimeoutMs ? `no frame within ${this.faults.jobTimeoutMs} ms`
            : lastBeat !== undefined && now - lastBeat > 3 * HEARTBEAT_MS ? `worker ${p.worker} stopped answering` : undefined);
        if (cause !== undefined) await this.resend(p, cause);
      }
      if (open === 0) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 50);
        this.wake = () => { clearTimeout(timer); resolve(); };
      });
      this.wake = undefined;
    }
  }

  private async resend(p: Pending, cause: string): Promise<void> {
    const label = `${this.label(p.job)}, step ${p.job.step}`;
    if (p.attempt >= this.faults.retries) {
      throw new RunError(`${label}: the job failed ${p.attempt + 1} times on the cluster; last cause: ${cause}`);
    }
    this.onFault?.(`${label}: attempt ${p.attempt + 1} failed: ${cause}; re-sending`);
    this.counters.resent++;
    p.attempt++;
    p.failed = undefined;
    p.assembly = undefined;
    p.worker = undefined;
    await this.dispatch(p);
  }

  /** A chunk of a frame (or of a job's error) on the run's frame subject. */
  private onFrameChunk(msg: Uint8Array): void {
    let h;
    try {
      h = readChunk(msg);
    } catch (e) {
      this.counters.dropped++;
      this.onFault?.(`dropped a malformed message on ${this.subjects.frames}: ${(e as Error).message}`);
      return;
    }
    const p = this.pending.get(h.b);
    if (h.kind === 'params' || !p || p.done || p.job.step !== h.a || p.attempt !== h.c) {
      this.counters.dropped++;
      // said once per message (its first chunk): a late answer to a job sent again, or a foreign message;
      // not a repeat of a frame already in (a job whose answer was lost and was taken twice)
      const repeat = p?.done === true && p.job.step === h.a && p.attempt === h.c;
      if (h.index === 0 && !repeat) {
        this.onFault?.(`dropped a ${h.kind} message on ${this.subjects.frames} for step ${h.a}, slot ${h.b}, attempt ${h.c}: no such job in flight`);
      }
      return;
    }
    this.counters.frameBytes += msg.length;
    if (h.kind === 'error') {
      p.failed = new TextDecoder().decode(msg.subarray(CHUNK_HEADER));
    } else {
      try {
        if (!p.assembly || !p.assembly.add(h, msg)) {
          p.assembly = new ChunkAssembly(h, this.arena.frame(h.b));
          p.assembly.add(h, msg);
        }
      } catch (e) {
        p.failed = `a malformed frame: ${(e as Error).message}`;
      }
      if (p.assembly?.complete) {
        try {
          // checked as in process (and again when reduced): a foreign or corrupt frame is re-sent, never used
          readFrame(this.arena.frame(h.b), { step: p.job.step, shard: p.job.shard, version: p.job.version });
          p.done = true;
          this.finishedAt[h.b] = performance.now();
        } catch (e) {
          p.failed = `a malformed frame: ${(e as Error).message}`;
          p.assembly = undefined;
        }
      }
    }
    this.wake?.();
  }

  /** Ends the run's traffic and the connection (the pool owns it). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const sub of this.subs.splice(0)) sub.unsubscribe();
    this.wake?.();
    if (!this.nc.isClosed()) await this.nc.close();
  }
}
