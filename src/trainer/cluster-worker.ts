/**
 * A cluster worker process (`multitask worker`): joins the NATS server, takes
 * gradient jobs of any run from the queue group, and computes them on its own
 * local worker threads (the same pool and shared-memory path as a local run).
 *
 * Per run it serves, it asks the coordinator for the run's setup once, fetches
 * the dataset from the object store once (kept by content hash, so a second
 * run on the same data does not fetch it again), follows the parameter
 * broadcasts, and sends each job's frame back in chunks. It never writes the
 * coordinator's parameters: it computes on its own copy, at the version each
 * job names. Jobs of one version run together on the local threads; a job for
 * a version not yet here waits for its broadcast (and asks for it again).
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { Empty, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { Objm } from '@nats-io/obj';
import type { SharedDatasetHandle } from '../data/dataset-handle.js';
import { kernelsFor, supportedKernels } from '../kernels/index.js';
import { ParameterStore } from '../model/parameters.js';
import { FrameArena } from '../protocol/arena.js';
import {
  ChunkAssembly, chunk, DATA_BUCKET, decodeDataset, decodeJob, decodeSetup, encodeMessage, HEARTBEAT, HEARTBEAT_MS,
  JOBS_OF_EVERY_RUN, readChunk, runOfJobSubject, runSubjects, WORKER_INFO, WORKER_QUEUE,
  type ChunkHeader, type ClusterJob, type RunSetupMessage, type WorkerInfo,
} from '../protocol/cluster.js';
import { PROTOCOL_VERSION } from '../protocol/codec.js';
import { HEADER_BLOCK } from '../protocol/frame.js';
import type { GradientJob } from '../protocol/messages.js';
import { WorkerPool } from './pool.js';

export interface ClusterWorkerOptions {
  /** local worker threads */
  threads: number;
  /** a line for the log (joins, runs served, refusals) */
  log?: (line: string) => void;
  /** How long a job may wait for its parameters before the worker gives it up (ms). */
  paramsWaitMs?: number;
}

/** Datasets fetched from the object store, by content hash: fetched once per process. */
const datasets = new Map<string, SharedDatasetHandle>();

export class ClusterWorker {
  readonly id = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  private readonly runs = new Map<string, Promise<RunHost>>();
  private readonly subs: Subscription[] = [];
  private heartbeat: NodeJS.Timeout | undefined;
  private draining = false;
  /** jobs accepted and not yet answered with a frame or an error */
  private busy = 0;
  private idle: (() => void)[] = [];
  /** jobs served, runs joined, messages refused */
  readonly counts = { jobs: 0, runs: 0, refused: 0 };

  constructor(private readonly nc: NatsConnection, private readonly options: ClusterWorkerOptions) {}

  /** What this worker offers a coordinator. */
  info(): WorkerInfo {
    return { v: PROTOCOL_VERSION, worker: this.id, host: hostname(), threads: this.options.threads, kernels: supportedKernels() };
  }

  start(): void {
    this.subs.push(this.nc.subscribe(JOBS_OF_EVERY_RUN, { queue: WORKER_QUEUE, callback: (err, msg) => { if (!err) void this.onJob(msg); } }));
    this.subs.push(this.nc.subscribe(WORKER_INFO, { callback: (err, msg) => { if (!err) msg.respond(encodeMessage(this.info())); } }));
    const beat = () => this.nc.publish(HEARTBEAT, encodeMessage({ v: PROTOCOL_VERSION, worker: this.id, busy: this.busy }));
    beat();
    this.heartbeat = setInterval(beat, HEARTBEAT_MS);
  }

  private answer(msg: Msg, answer: { accepted: true } | { accepted: false; reason: string }): void {
    msg.respond(encodeMessage({ v: PROTOCOL_VERSION, worker: this.id, ...answer }));
  }

  private async onJob(msg: Msg): Promise<void> {
    if (this.draining) return this.answer(msg, { accepted: false, reason: `worker ${this.id} is draining` });
    let job: ClusterJob;
    try {
      job = decodeJob(msg.data);
      if (job.run !== runOfJobSubject(msg.subject)) throw new Error(`job field "run": ${job.run} on the subject of another run (${msg.subject})`);
    } catch (e) {
      this.counts.refused++;
      this.options.log?.(`refused a message on ${msg.subject}: ${(e as Error).message}`);
      return this.answer(msg, { accepted: false, reason: (e as Error).message });
    }
    this.busy++;
    try {
      let host: RunHost;
      try {
        host = await this.host(job.run);
      } catch (e) {
        return this.answer(msg, { accepted: false, reason: (e as Error).message });
      }
      this.answer(msg, { accepted: true });
      await host.run(job);
      this.counts.jobs++;
    } finally {
      if (--this.busy === 0) for (const wake of this.idle.splice(0)) wake();
    }
  }

  /** The run's host, joined on its first job. A run this worker cannot serve is forgotten, so a later job tries again. */
  private host(run: string): Promise<RunHost> {
    let host = this.runs.get(run);
    if (!host) {
      host = RunHost.join(this.nc, run, this.options);
      this.runs.set(run, host);
      host.then((h) => {
        this.counts.runs++;
        this.options.log?.(`serving run ${run}: ${h.setup.spec.tasks.length} tasks, kernels ${h.setup.kernels.backend}/${h.setup.kernels.isa}`);
      }, (e: Error) => {
        this.runs.delete(run);
        this.options.log?.(`cannot serve run ${run}: ${e.message}`);
      });
    }
    return host;
  }

  /** Stops taking jobs, finishes those in flight (their frames are sent), then leaves the server. */
  async drain(): Promise<void> {
    this.draining = true;
    for (const sub of this.subs.splice(0)) sub.unsubscribe();
    if (this.busy > 0) await new Promise<void>((resolve) => this.idle.push(resolve));
    clearInterval(this.heartbeat);
    const hosts = await Promise.allSettled([...this.runs.values()]);
    await Promise.all(hosts.map((h) => (h.status === 'fulfilled' ? h.value.close() : undefined)));
    // draining needs the server; when it is gone (the client is still trying to reconnect), close instead
    if (!this.nc.isClosed()) await this.nc.drain().catch(() => this.nc.close());
  }
}

/** One run, as this worker serves it: its setup, its data, its parameters, local threads. */
class RunHost {
  private readonly subjects: ReturnType<typeof runSubjects>;
  private readonly pool: WorkerPool;
  private readonly params: ParameterStore;
  private readonly arena: FrameArena;
  private readonly batchRows: Int32Array;
  private readonly sub: Subscription;
  /** the newest complete parameter broadcast */
  private latest: { version: number; data: Float32Array } | undefined;
  private assembly: ChunkAssembly | undefined;
  /** the coordinator's version now in `params` (none at first: the store's own initial values are not the run's, even at version 0) */
  private loaded = -1;
  private waiters: (() => void)[] = [];
  private queue: { job: ClusterJob; done: () => void }[] = [];
  private running = false;

  private constructor(private readonly nc: NatsConnection, readonly setup: RunSetupMessage, dataset: SharedDatasetHandle,
    private readonly options: ClusterWorkerOptions) {
    this.subjects = runSubjects(setup.run);
    const threads = options.threads;
    this.params = ParameterStore.create(setup.spec, 0);
    const T = setup.spec.tasks.length;
    this.arena = FrameArena.create(threads, T * this.params.layout.total);
    const rows = new SharedArrayBuffer(threads * setup.maxRows * 4);
    this.batchRows = new Int32Array(rows);
    this.pool = new WorkerPool(threads, {
      v: PROTOCOL_VERSION, spec: setup.spec, params: this.params.handle(), dataset, arena: this.arena.handle,
      batchRows: rows, maxRows: setup.maxRows, kernels: setup.kernels,
    });
    this.sub = nc.subscribe(this.subjects.params, { callback: (err, msg) => { if (!err) this.onParams(msg.data); } });
  }

  static async join(nc: NatsConnection, run: string, options: ClusterWorkerOptions): Promise<RunHost> {
    const subjects = runSubjects(run);
    const setup = decodeSetup((await nc.request(subjects.setup, Empty, { timeout: 10_000 })).data);
    try {
      kernelsFor(setup.kernels);
    } catch (e) {
      throw new Error(`the run computes with kernels ${setup.kernels.backend}/${setup.kernels.isa}, which this worker cannot run (${(e as Error).message}; it offers ${supportedKernels().map((k) => k.isa).join(', ')})`);
    }
    let dataset = datasets.get(setup.dataset);
    if (!dataset) {
      const store = await new Objm(nc).open(DATA_BUCKET);
      const bytes = await store.getBlob(setup.dataset);
      if (!bytes) throw new Error(`dataset ${setup.dataset} is not in the object store ${DATA_BUCKET}`);
      dataset = decodeDataset(bytes, setup.dataset);
      datasets.set(setup.dataset, dataset);
    }
    const host = new RunHost(nc, setup, dataset, options);
    try {
      await host.pool.warm();
    } catch (e) {
      await host.close();
      throw e;
    }
    return host;
  }

  private onParams(msg: Uint8Array): void {
    let h: ChunkHeader;
    try {
      h = readChunk(msg);
    } catch (e) {
      this.options.log?.(`run ${this.setup.run}: dropped a parameter chunk: ${(e as Error).message}`);
      return;
    }
    if (h.kind !== 'params' || (this.latest && h.a <= this.latest.version)) return; // an old or repeated version
    if (h.total !== this.params.data.length * 4) {
      this.options.log?.(`run ${this.setup.run}: dropped parameters of ${h.total} bytes (the model has ${this.params.data.length * 4})`);
      return;
    }
    if (!this.assembly || !this.assembly.add(h, msg)) {
      this.assembly = new ChunkAssembly(h, new Uint8Array(h.total));
      this.assembly.add(h, msg);
    }
    if (this.assembly.complete) {
      const bytes = this.assembly.target;
      this.latest = { version: h.a, data: new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4) };
      this.assembly = undefined;
      for (const wake of this.waiters.splice(0)) wake();
    }
  }

  /** Computes one job and sends its frame (or its error) back; resolves when it has been sent. */
  run(job: ClusterJob): Promise<void> {
    return new Promise((resolve) => {
      this.queue.push({ job, done: resolve });
      void this.pump();
    });
  }

  /** Runs queued jobs in groups of one parameter version, at most one per local thread. */
  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.queue.length > 0) {
        const version = this.queue[0].job.version;
        const group = this.queue.filter((q) => q.job.version === version).slice(0, this.options.threads);
        this.queue = this.queue.filter((q) => !group.includes(q));
        try {
          await this.ensureParams(version);
          await this.compute(group.map((q) => q.job));
        } catch (e) {
          for (const { job } of group) this.sendError(job, (e as Error).message);
        }
        for (const q of group) q.done();
      }
    } finally {
      this.running = false;
    }
  }

  /** Waits for the parameters of `version` (asking for them again now and then), and makes them the local ones. */
  private async ensureParams(version: number): Promise<void> {
    if (this.loaded === version) return;
    const deadline = performance.now() + (this.options.paramsWaitMs ?? 30_000);
    while (this.latest?.version !== version) {
      if (this.latest && this.latest.version > version) throw new Error(`parameters of version ${version} are gone (the coordinator is at ${this.latest.version})`);
      if (performance.now() > deadline) throw new Error(`the parameters of version ${version} did not arrive`);
      this.nc.publish(this.subjects.want, encodeMessage({ v: PROTOCOL_VERSION, version }));
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 500);
        this.waiters.push(() => { clearTimeout(timer); resolve(); });
      });
    }
    this.params.replace(this.latest.data, version);
    this.loaded = version;
  }

  private async compute(jobs: ClusterJob[]): Promise<void> {
    const maxRows = this.setup.maxRows;
    const local: GradientJob[] = jobs.map((job, i) => {
      if (job.rows.length > maxRows) throw new Error(`job of ${job.rows.length} rows; the run's jobs have at most ${maxRows}`);
      this.batchRows.set(job.rows, i * maxRows);
      return {
        kind: 'gradient', v: PROTOCOL_VERSION, step: job.step, version: job.version, shard: job.shard, slot: i,
        tasks: job.tasks, scales: job.scales, rowStart: i * maxRows, rowCount: job.rows.length, attempt: 0, separate: job.separate,
      };
    });
    await this.pool.runJobs(local);
    const total = this.params.layout.total;
    jobs.forEach((job, i) => {
      const floats = (job.separate ? job.tasks.length : 1) * total;
      const frame = this.arena.frame(i).subarray(0, HEADER_BLOCK + floats * 4);
      for (const part of chunk('frame', job.step, job.slot, job.attempt, frame, this.setup.chunkBytes)) this.nc.publish(this.subjects.frames, part);
    });
  }

  private sendError(job: ClusterJob, message: string): void {
    const bytes = new TextEncoder().encode(message.slice(0, 2000));
    for (const part of chunk('error', job.step, job.slot, job.attempt, bytes, this.setup.chunkBytes)) this.nc.publish(this.subjects.frames, part);
  }

  async close(): Promise<void> {
    this.sub.unsubscribe();
    await this.pool.close();
  }
}
