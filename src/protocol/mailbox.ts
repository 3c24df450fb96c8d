import { packr } from './codec.js';
import type { ServerJob } from './messages.js';

/**
 * The doorbell between the coordinator and one long-running worker (a "server"):
 * a block of shared memory through which the coordinator posts a round of
 * gradient jobs (or a chunk of steps run back to back, see step-loop.ts) and the worker reports each job's outcome. Waking a thread
 * blocked in Atomics.wait costs a fraction of a message round trip through the
 * pool (measured here: ~0.1 ms against ~0.3–0.6 ms per step for two jobs), and
 * nothing is cloned or allocated per job on the coordinator but the encoded job
 * list.
 *
 * Only one side writes each field at a time: the coordinator writes the jobs and
 * resets the outcomes while the server waits for the next round; the server
 * writes outcomes until the round's last job is reported. Every outcome carries
 * the generation of the round it answers, so a report that arrives late (from
 * a round already given up on, or from a thread being replaced) can never be
 * taken for an answer to the current round. The progress word only wakes the
 * coordinator.
 */
const W_GEN = 0; // rounds posted (coordinator)
const W_STOP = 1; // 1: the server returns (coordinator)
const W_READY = 2; // 1: the server has initialised (server)
const W_JOBS = 3; // jobs in the current round (coordinator)
const W_PROGRESS = 4; // bumped by the server after each report, to wake the coordinator
const W_JOB_BYTES = 5; // length of the encoded job list (coordinator)
const W_OWNER = 6; // token of the server allowed to serve this mailbox (coordinator)
const W_OUTCOMES = 8; // per job: status (±generation), then frame bytes or message length
const HEADER_WORDS = W_OUTCOMES;

/** Bytes for one job's encoded description and for one error message. */
const JOB_BYTES = 256;
const MESSAGE_BYTES = 1024;

export type JobOutcome = { ok: true; bytes: number } | { ok: false; message: string };

/** Where server `index`'s mailbox lives inside the shared buffer of all of them. */
export interface MailboxHandle {
  buffer: SharedArrayBuffer;
  index: number;
  /** most jobs one round may carry */
  maxJobs: number;
  /** most tasks one job may name (sizes the encoded job list) */
  maxTasks: number;
}

/** Sizes of one mailbox's regions: control words, encoded jobs, error messages; `size` is all three, 64-byte aligned. */
function mailboxLayout(maxJobs: number, maxTasks: number) {
  const words = HEADER_WORDS + 2 * maxJobs;
  const jobBytes = maxJobs * (JOB_BYTES + 18 * maxTasks);
  const messageBytes = maxJobs * MESSAGE_BYTES;
  return { words, jobBytes, messageBytes, size: Math.ceil((words * 4 + jobBytes + messageBytes) / 64) * 64 };
}

/** One buffer holding `servers` mailboxes. */
export function createMailboxBuffer(servers: number, maxJobs: number, maxTasks: number): SharedArrayBuffer {
  return new SharedArrayBuffer(servers * mailboxLayout(maxJobs, maxTasks).size);
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class Mailbox {
  /** the control words (W_* above) */
  private readonly words: Int32Array;
  private readonly jobBytes: Uint8Array;
  private readonly messages: Uint8Array;
  readonly maxJobs: number;

  constructor(readonly handle: MailboxHandle) {
    const { buffer, index, maxJobs, maxTasks } = handle;
    const { words, jobBytes, messageBytes, size } = mailboxLayout(maxJobs, maxTasks);
    const base = index * size;
    if (base + size > buffer.byteLength) throw new RangeError(`mailbox ${index} lies outside its buffer`);
    this.maxJobs = maxJobs;
    this.words = new Int32Array(buffer, base, words);
    this.jobBytes = new Uint8Array(buffer, base + words * 4, jobBytes);
    this.messages = new Uint8Array(buffer, base + words * 4 + jobBytes, messageBytes);
  }

  // --- coordinator side

  get generation(): number {
    return Atomics.load(this.words, W_GEN);
  }

  get progress(): number {
    return Atomics.load(this.words, W_PROGRESS);
  }

  get ready(): boolean {
    return Atomics.load(this.words, W_READY) === 1;
  }

  /**
   * Before a new server starts on this mailbox: only the server holding `token`
   * may serve it from now on, so a thread that is being ended (it may still
   * finish a native call) can neither report nor take the next round.
   */
  handOver(token: number): void {
    Atomics.store(this.words, W_READY, 0);
    Atomics.store(this.words, W_OWNER, token);
  }

  /** Resolves when the progress word moves past `progress` or wakeCoordinator() is called. */
  async waitForProgress(progress: number): Promise<void> {
    const wait = Atomics.waitAsync(this.words, W_PROGRESS, progress);
    if (wait.async) await wait.value;
  }

  /**
   * Blocks this thread until the progress word moves past `progress`, for at
   * most `ms` milliseconds; true when it moved. Wakes sooner after a report
   * than waitForProgress (no trip through the event loop), at the price of
   * holding the thread: only for waits expected to be short.
   */
  waitForProgressSync(progress: number, ms: number): boolean {
    return Atomics.wait(this.words, W_PROGRESS, progress, ms) !== 'timed-out';
  }

  /** Resolves when the server is ready or wakeCoordinator() is called. */
  async waitForReady(): Promise<void> {
    const wait = Atomics.waitAsync(this.words, W_READY, 0);
    if (wait.async) await wait.value;
  }

  /** Wakes the coordinator's waits on this mailbox (a timer fired, the server ended). */
  wakeCoordinator(): void {
    Atomics.notify(this.words, W_PROGRESS);
    Atomics.notify(this.words, W_READY);
  }

  /** Posts a round of jobs and wakes the server (only while it waits for one); returns the round's generation. */
  post(jobs: readonly ServerJob[]): number {
    if (jobs.length > this.maxJobs) throw new RangeError(`${jobs.length} jobs exceed the mailbox's ${this.maxJobs}`);
    const encoded = packr.pack(jobs);
    if (encoded.length > this.jobBytes.length) {
      throw new RangeError(`the encoded jobs take ${encoded.length} bytes, the mailbox holds ${this.jobBytes.length}`);
    }
    this.jobBytes.set(encoded);
    Atomics.store(this.words, W_JOB_BYTES, encoded.length);
    Atomics.store(this.words, W_JOBS, jobs.length);
    for (let j = 0; j < jobs.length; j++) Atomics.store(this.words, W_OUTCOMES + 2 * j, 0);
    const generation = Atomics.add(this.words, W_GEN, 1) + 1;
    Atomics.notify(this.words, W_GEN);
    return generation;
  }

  /** What the server reported for job j of round `generation`; undefined while it has not. */
  outcome(generation: number, j: number): JobOutcome | undefined {
    const status = Atomics.load(this.words, W_OUTCOMES + 2 * j);
    const value = Atomics.load(this.words, W_OUTCOMES + 2 * j + 1);
    if (status === generation) return { ok: true, bytes: value };
    if (status === -generation) {
      const at = j * MESSAGE_BYTES;
      return { ok: false, message: decoder.decode(this.messages.slice(at, at + value)) };
    }
    return undefined;
  }

  /** Tells the server to return; it wakes even while it waits for a round. */
  stop(): void {
    Atomics.store(this.words, W_STOP, 1);
    Atomics.add(this.words, W_GEN, 1);
    Atomics.notify(this.words, W_GEN);
  }

  // --- server side

  get stopped(): boolean {
    return Atomics.load(this.words, W_STOP) === 1;
  }

  /** Whether the server holding `token` still owns this mailbox. */
  owns(token: number): boolean {
    return Atomics.load(this.words, W_OWNER) === token;
  }

  markReady(): void {
    Atomics.store(this.words, W_READY, 1);
    Atomics.notify(this.words, W_READY);
  }

  /** Blocks until the coordinator posts a round after generation `seen`; returns the new generation. */
  waitForRound(seen: number): number {
    Atomics.wait(this.words, W_GEN, seen);
    return Atomics.load(this.words, W_GEN);
  }

  /** The current round's jobs (a throw here means a coordinator bug or a version mismatch). */
  readJobs(): ServerJob[] {
    const length = Atomics.load(this.words, W_JOB_BYTES);
    const jobs = packr.unpack(this.jobBytes.subarray(0, length)) as ServerJob[];
    if (!Array.isArray(jobs) || jobs.length !== Atomics.load(this.words, W_JOBS)) {
      throw new Error('the mailbox holds a malformed job list');
    }
    return jobs;
  }

  /**
   * Reports job j of round `generation`: its frame length (ok) or error message,
   * then wakes the coordinator. Dropped when this server no longer owns the
   * mailbox or the round is no longer the current one.
   */
  report(token: number, generation: number, j: number, outcome: JobOutcome): void {
    if (!this.owns(token) || Atomics.load(this.words, W_GEN) !== generation) return;
    if (outcome.ok) {
      Atomics.store(this.words, W_OUTCOMES + 2 * j + 1, outcome.bytes);
      Atomics.store(this.words, W_OUTCOMES + 2 * j, generation);
    } else {
      const region = this.messages.subarray(j * MESSAGE_BYTES, (j + 1) * MESSAGE_BYTES);
      const { written } = encoder.encodeInto(outcome.message, region);
      Atomics.store(this.words, W_OUTCOMES + 2 * j + 1, written);
      Atomics.store(this.words, W_OUTCOMES + 2 * j, -generation);
    }
    Atomics.add(this.words, W_PROGRESS, 1);
    Atomics.notify(this.words, W_PROGRESS);
  }
}
