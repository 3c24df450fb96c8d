/**
 * The cluster transport over NATS: subjects, chunks and messages. NATS carries
 * everything (request/reply, queue groups, the JetStream object store); this
 * module only says what goes where, in which bytes.
 *
 * Subjects, all under `multitask.`; a run's carry its id, so runs sharing a
 * server never see each other's traffic:
 * - `multitask.<run>.jobs`: the coordinator's gradient jobs, a request each,
 *   to the queue group `multitask-workers` (one worker takes it and answers
 *   at once: accepted, or refused with a reason);
 * - `multitask.<run>.frames`: the gradient frames back, in chunks;
 * - `multitask.<run>.params`: the parameters, broadcast in chunks once per version;
 * - `multitask.<run>.setup`: a request: what a worker needs to serve the run;
 * - `multitask.<run>.want`: a worker missed a version: the coordinator broadcasts it again;
 * - `multitask.workers.info`: a request every worker answers with what it supports;
 * - `multitask.workers.heartbeat`: every worker, once a second.
 * The dataset goes to the object store bucket `multitask-datasets` under its
 * content hash, once.
 *
 * A chunk is a 32-byte header (magic, key a/b/c, index, count, total bytes,
 * chunk size; little-endian u32) followed by its bytes. Frames are the same
 * bytes as in process (frame.ts), checked on arrival the same way.
 */
import { createHash } from 'node:crypto';
import type { SharedDatasetHandle } from '../data/dataset-handle.js';
import type { KernelChoice } from '../kernels/index.js';
import type { ModelSpec } from '../model/spec.js';
import { packr, PROTOCOL_VERSION } from './codec.js';
import type { GradientJob } from './messages.js';

export const WORKER_QUEUE = 'multitask-workers';
export const JOBS_OF_EVERY_RUN = 'multitask.*.jobs';
export const WORKER_INFO = 'multitask.workers.info';
export const HEARTBEAT = 'multitask.workers.heartbeat';
export const DATA_BUCKET = 'multitask-datasets';
export const HEARTBEAT_MS = 1000;

const RUN_ID = /^[a-z0-9]{6,32}$/;

export function runSubjects(run: string) {
  if (!RUN_ID.test(run)) throw new Error(`cluster run id ${JSON.stringify(run)} is not 6 to 32 lowercase letters and digits`);
  const base = `multitask.${run}`;
  return { jobs: `${base}.jobs`, frames: `${base}.frames`, params: `${base}.params`, setup: `${base}.setup`, want: `${base}.want` };
}

/** The run id in a job subject (`multitask.<run>.jobs`), or undefined. */
export function runOfJobSubject(subject: string): string | undefined {
  const parts = subject.split('.');
  return parts.length === 3 && parts[0] === 'multitask' && parts[2] === 'jobs' && RUN_ID.test(parts[1]) ? parts[1] : undefined;
}

export class ClusterMessageError extends Error {
  override readonly name = 'ClusterMessageError';
}

// ---------------------------------------------------------------------------
// chunks

export const CHUNK_HEADER = 32;
export const CHUNK_MAGIC = { params: 0x5043544d, frame: 0x4643544d, error: 0x4543544d } as const; // 'MTCP', 'MTCF', 'MTCE'
export type ChunkKind = keyof typeof CHUNK_MAGIC;

export interface ChunkHeader {
  kind: ChunkKind;
  /** params: (version, 0, 0); frame and error: (step, slot, attempt) */
  a: number;
  b: number;
  c: number;
  index: number;
  count: number;
  /** bytes of the whole message */
  total: number;
  /** bytes per chunk (the last may be shorter) */
  chunkBytes: number;
}

/** Cuts `bytes` into chunks of at most `chunkBytes` (one chunk when empty), each with its header. */
export function chunk(kind: ChunkKind, a: number, b: number, c: number, bytes: Uint8Array, chunkBytes: number): Uint8Array[] {
  const count = Math.max(1, Math.ceil(bytes.length / chunkBytes));
  const out: Uint8Array[] = [];
  for (let index = 0; index < count; index++) {
    const part = bytes.subarray(index * chunkBytes, Math.min(bytes.length, (index + 1) * chunkBytes));
    const msg = new Uint8Array(CHUNK_HEADER + part.length);
    const view = new DataView(msg.buffer);
    [CHUNK_MAGIC[kind], a, b, c, index, count, bytes.length, chunkBytes].forEach((v, i) => view.setUint32(i * 4, v, true));
    msg.set(part, CHUNK_HEADER);
    out.push(msg);
  }
  return out;
}

/** Reads a chunk's header and checks it against its own size; the bytes are `msg.subarray(CHUNK_HEADER)`. */
export function readChunk(msg: Uint8Array): ChunkHeader {
  if (msg.length < CHUNK_HEADER) throw new ClusterMessageError(`chunk of ${msg.length} bytes, shorter than its ${CHUNK_HEADER}-byte header`);
  const view = new DataView(msg.buffer, msg.byteOffset, CHUNK_HEADER);
  const u = (i: number) => view.getUint32(i * 4, true);
  const kind = (Object.keys(CHUNK_MAGIC) as ChunkKind[]).find((k) => CHUNK_MAGIC[k] === u(0));
  if (!kind) throw new ClusterMessageError(`chunk field "magic": 0x${u(0).toString(16)} is not a multitask chunk`);
  const h: ChunkHeader = { kind, a: u(1), b: u(2), c: u(3), index: u(4), count: u(5), total: u(6), chunkBytes: u(7) };
  if (h.count === 0 || h.index >= h.count) throw new ClusterMessageError(`chunk field "index": ${h.index} of ${h.count} chunks`);
  if (h.chunkBytes === 0 || h.count !== Math.max(1, Math.ceil(h.total / h.chunkBytes))) {
    throw new ClusterMessageError(`chunk field "count": ${h.count} chunks of ${h.chunkBytes} bytes do not make ${h.total} bytes`);
  }
  const expected = Math.min(h.chunkBytes, h.total - h.index * h.chunkBytes);
  if (msg.length - CHUNK_HEADER !== expected) {
    throw new ClusterMessageError(`chunk ${h.index} of ${h.count} holds ${msg.length - CHUNK_HEADER} bytes, expected ${expected}`);
  }
  return h;
}

/** Collects the chunks of one message into `target` (at least `total` bytes); `complete` once every chunk came. */
export class ChunkAssembly {
  private readonly seen: Uint8Array;
  private received = 0;

  constructor(readonly first: ChunkHeader, readonly target: Uint8Array) {
    if (target.length < first.total) throw new ClusterMessageError(`a message of ${first.total} bytes does not fit the ${target.length} bytes it goes to`);
    this.seen = new Uint8Array(first.count);
  }

  /** Adds one chunk (a repeated chunk is ignored); false when it does not belong to this message. */
  add(h: ChunkHeader, msg: Uint8Array): boolean {
    const f = this.first;
    if (h.kind !== f.kind || h.a !== f.a || h.b !== f.b || h.c !== f.c || h.count !== f.count || h.total !== f.total || h.chunkBytes !== f.chunkBytes) return false;
    if (this.seen[h.index]) return true;
    this.seen[h.index] = 1;
    this.received++;
    this.target.set(msg.subarray(CHUNK_HEADER), h.index * h.chunkBytes);
    return true;
  }

  get complete(): boolean {
    return this.received === this.first.count;
  }
}

/** Chunk size for a server's max_payload: the payload limit less the chunk header and some room for NATS. */
export function chunkBytesFor(maxPayload: number): number {
  return Math.max(4096, Math.min(maxPayload, 8 * 1024 * 1024) - CHUNK_HEADER - 1024);
}

// ---------------------------------------------------------------------------
// messages (msgpackr, the protocol's one codec)

/** What a worker process supports (its answer to `multitask.workers.info`). */
export interface WorkerInfo {
  v: number;
  worker: string;
  host: string;
  threads: number;
  /** every backend/ISA it can run, best first */
  kernels: KernelChoice[];
}

/** A run, as a worker needs it (the answer to `multitask.<run>.setup`). */
export interface RunSetupMessage {
  v: number;
  run: string;
  spec: ModelSpec;
  /** content hash (sha256, hex) of the encoded dataset in the object store */
  dataset: string;
  /** largest number of rows one job covers */
  maxRows: number;
  kernels: KernelChoice;
  /** the chunk size frames go back in */
  chunkBytes: number;
}

/**
 * One gradient job: the in-process job's fields (its `slot`, the coordinator's
 * arena slot, names the job in the frame's chunks), the run, and the batch rows
 * of its shard (dataset row indices) instead of a range of a shared buffer.
 */
export type ClusterJob = Pick<GradientJob, 'v' | 'step' | 'version' | 'shard' | 'slot' | 'tasks' | 'scales' | 'separate' | 'attempt'> & {
  run: string;
  rows: Int32Array;
};

/** A worker's answer to a job: accepted (by whom), or refused (why). */
export type JobAnswer = { v: number; worker: string; accepted: true } | { v: number; worker: string; accepted: false; reason: string };

export interface Heartbeat {
  v: number;
  worker: string;
  /** jobs queued or running */
  busy: number;
}

export function encodeMessage(value: object): Uint8Array {
  // pack() returns a view of msgpackr's shared buffer: copy before it is reused
  return Uint8Array.from(packr.pack(value));
}

/**
 * Decodes a message and checks its protocol version and the fields `check`
 * names; a malformed or foreign message is a ClusterMessageError naming the
 * field, never a crash.
 */
export function decodeMessage<T>(bytes: Uint8Array, what: string, fields: Record<string, (x: unknown) => boolean>): T {
  let raw: unknown;
  try {
    raw = packr.unpack(bytes);
  } catch (e) {
    throw new ClusterMessageError(`${what}: not valid msgpack (${(e as Error).message})`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new ClusterMessageError(`${what}: not a map`);
  const m = raw as Record<string, unknown>;
  if (m.v !== PROTOCOL_VERSION) throw new ClusterMessageError(`${what} field "v": protocol version ${JSON.stringify(m.v)}, expected ${PROTOCOL_VERSION}`);
  for (const [field, ok] of Object.entries(fields)) {
    if (!ok(m[field])) throw new ClusterMessageError(`${what} field "${field}": ${describe(m[field])} is not valid`);
  }
  return m as T;
}

function describe(v: unknown): string {
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name}`;
  try {
    const s = JSON.stringify(v);
    return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
  } catch {
    return String(v);
  }
}

export const isCount = (x: unknown): boolean => Number.isSafeInteger(x) && (x as number) >= 0;
export const isText = (x: unknown): boolean => typeof x === 'string' && x.length > 0 && x.length < 256;
const isIndexList = (x: unknown): boolean => Array.isArray(x) && x.every(isCount);
const isNumberList = (x: unknown): boolean => Array.isArray(x) && x.every((n) => typeof n === 'number');

export function decodeJob(bytes: Uint8Array): ClusterJob {
  return decodeMessage<ClusterJob>(bytes, 'job', {
    run: isText, step: isCount, version: isCount, shard: isCount, slot: isCount, attempt: isCount,
    tasks: isIndexList, scales: isNumberList, separate: (x) => typeof x === 'boolean', rows: (x) => x instanceof Int32Array,
  });
}

export function decodeSetup(bytes: Uint8Array): RunSetupMessage {
  return decodeMessage<RunSetupMessage>(bytes, 'run setup', {
    run: isText, spec: (x) => x !== null && typeof x === 'object', dataset: isText, maxRows: isCount, chunkBytes: isCount,
    kernels: (x) => x !== null && typeof x === 'object' && isText((x as KernelChoice).isa),
  });
}

export function decodeAnswer(bytes: Uint8Array): JobAnswer {
  return decodeMessage<JobAnswer>(bytes, 'job answer', { worker: isText, accepted: (x) => typeof x === 'boolean' });
}

export function decodeInfo(bytes: Uint8Array): WorkerInfo {
  return decodeMessage<WorkerInfo>(bytes, 'worker info', { worker: isText, threads: isCount, kernels: Array.isArray });
}

export function decodeHeartbeat(bytes: Uint8Array): Heartbeat {
  return decodeMessage<Heartbeat>(bytes, 'heartbeat', { worker: isText, busy: isCount });
}

// ---------------------------------------------------------------------------
// the dataset, as it goes to the object store

/** The encoded dataset (what a worker thread reads: features and targets) and its content hash. */
export function encodeDataset(handle: SharedDatasetHandle): { bytes: Uint8Array; hash: string } {
  const bytes = encodeMessage({
    v: PROTOCOL_VERSION,
    rows: handle.rows,
    inputWidth: handle.inputWidth,
    // typed arrays over SharedArrayBuffers: msgpackr writes their bytes
    features: new Float32Array(handle.features),
    tasks: handle.tasks.map((t) => ({ name: t.name, loss: t.loss, outputs: t.outputs, targets: new Float32Array(t.targets) })),
  });
  return { bytes, hash: createHash('sha256').update(bytes).digest('hex') };
}

function sharedCopy(a: Float32Array): Float32Array {
  const out = new Float32Array(new SharedArrayBuffer(a.length * 4));
  out.set(a);
  return out;
}

/** A dataset from the object store, into shared memory for the worker threads; checked against its hash. */
export function decodeDataset(bytes: Uint8Array, hash: string): SharedDatasetHandle {
  const got = createHash('sha256').update(bytes).digest('hex');
  if (got !== hash) throw new ClusterMessageError(`dataset ${hash}: the object store returned bytes with hash ${got}`);
  const m = decodeMessage<{ rows: number; inputWidth: number; features: Float32Array; tasks: { name: string; loss: string; outputs: number; targets: Float32Array }[] }>(
    bytes, 'dataset', { rows: isCount, inputWidth: isCount, features: (x) => x instanceof Float32Array, tasks: Array.isArray });
  return {
    kind: 'multitask.dataset',
    version: 1,
    rows: m.rows,
    inputWidth: m.inputWidth,
    features: sharedCopy(m.features),
    tasks: m.tasks.map((t) => ({ name: t.name, loss: t.loss as SharedDatasetHandle['tasks'][number]['loss'], outputs: t.outputs, targets: sharedCopy(t.targets) })),
  };
}
