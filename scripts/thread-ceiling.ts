/**
 * What two threads reach on this machine at the moment, with nothing of
 * multitask's step loop: each of two worker threads runs the matrix products of
 * one shard of the reference step (half its batch, the native kernel the workers
 * use) and meets the other at a spinning barrier once a step; one thread alone
 * runs both shards' products a step. The ratio of the two step rates, timed in
 * windows beside the trainer's, is what "2 workers ÷ 1 worker" could reach if
 * the loop cost nothing: on these machines the second vCPU is shared with the
 * host, and that ratio moves by tens of percent from minute to minute.
 *
 * It leaves out everything else of a step (reduction, optimizer, losses, the
 * parameters and gradients crossing between the threads): an upper bound, not a
 * model of the step.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { getKernels } from '../src/kernels/index.js';

/** Control words: arrivals at the barrier, barrier passages, the end of the window. */
const COUNT = 0;
const GEN = 1;
const STOP = 2;

/** The reference step's products (see stepFlops in reference-workload.ts) on one shard. */
interface ProbeShape {
  rows: number;
  inputWidth: number;
  hidden: number;
  headOutputs: number;
}

interface ProbeSetup {
  control: SharedArrayBuffer;
  index: number;
  shape: ProbeShape;
}

/** A window: `threads` threads (the first that many) step for `seconds`. */
interface ProbeWindow {
  threads: number;
  seconds: number;
}

interface ProbeResult {
  steps: number;
  busyMs: number;
  wallMs: number;
}

export interface CeilingRate {
  stepsPerSecond: number;
  /** share of the window the threads spent waiting at the barrier */
  idleShare: number;
}

/** The reference workload's shard: half of its 256-row batch, 64 → 512 → 512, 12 head outputs. */
const REFERENCE_SHARD: ProbeShape = { rows: 128, inputWidth: 64, hidden: 512, headOutputs: 12 };

export class ThreadCeiling {
  private readonly control: Int32Array;

  private constructor(private readonly workers: Worker[], control: SharedArrayBuffer) {
    this.control = new Int32Array(control);
  }

  /** Starts the two probe threads (closed by close()). */
  static async start(shape: ProbeShape = REFERENCE_SHARD): Promise<ThreadCeiling> {
    const control = new SharedArrayBuffer(3 * 4);
    const workers = [0, 1].map((index) => new Worker(new URL(import.meta.url), { workerData: { control, index, shape } satisfies ProbeSetup }));
    await Promise.all(workers.map((w) => reply(w)));
    return new ThreadCeiling(workers, control);
  }

  /** Steps/s of `threads` probe threads over a window of `seconds`. */
  async rate(threads: 1 | 2, seconds: number): Promise<CeilingRate> {
    this.control.fill(0);
    const results = await Promise.all(this.workers.slice(0, threads).map((w) => reply<ProbeResult>(w, { threads, seconds })));
    const wall = Math.max(...results.map((r) => r.wallMs));
    const busy = results.reduce((sum, r) => sum + r.busyMs, 0) / threads;
    return { stepsPerSecond: results[0].steps / (wall / 1000), idleShare: Math.max(0, 1 - busy / wall) };
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/** The worker's next message (after posting `request`, if given), or its error. */
function reply<T>(worker: Worker, request?: ProbeWindow): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const fail = (e: Error) => {
      worker.off('message', answer);
      reject(e);
    };
    const answer = (m: T) => {
      worker.off('error', fail);
      resolve(m);
    };
    worker.once('message', answer);
    worker.once('error', fail);
    if (request) worker.postMessage(request);
  });
}

/** The products of one shard's forward and backward pass, on fixed matrices. */
function shardProducts(shape: ProbeShape): () => void {
  const kernels = getKernels();
  const { rows: r, inputWidth: d, hidden: h, headOutputs: o } = shape;
  const filled = (n: number) => Float32Array.from({ length: n }, (_, i) => ((i * 2654435761) % 1000) / 1e4 - 0.05);
  const x = filled(r * d);
  const w1 = filled(d * h);
  const w2 = filled(h * h);
  const wo = filled(h * o);
  const z1 = new Float32Array(r * h);
  const z2 = new Float32Array(r * h);
  const y = new Float32Array(r * o);
  const dz1 = new Float32Array(r * h);
  const dz2 = new Float32Array(r * h);
  const gw1 = new Float32Array(d * h);
  const gw2 = new Float32Array(h * h);
  const gwo = new Float32Array(h * o);
  return () => {
    kernels.gemm(false, false, r, h, d, 1, x, w1, 0, z1);
    kernels.gemm(false, false, r, h, h, 1, z1, w2, 0, z2);
    kernels.gemm(false, false, r, o, h, 1, z2, wo, 0, y);
    kernels.gemm(true, false, h, o, r, 1, z2, y, 0, gwo);
    kernels.gemm(false, true, r, h, o, 1, y, wo, 0, dz2);
    kernels.gemm(true, false, h, h, r, 1, z1, dz2, 0, gw2);
    kernels.gemm(false, true, r, h, h, 1, dz2, w2, 0, dz1);
    kernels.gemm(true, false, d, h, r, 1, x, dz1, 0, gw1);
  };
}

/** Waits, spinning, until `threads` threads have arrived. */
function barrier(c: Int32Array, threads: number): void {
  const gen = Atomics.load(c, GEN);
  if (Atomics.add(c, COUNT, 1) === threads - 1) {
    Atomics.store(c, COUNT, 0);
    Atomics.add(c, GEN, 1);
    return;
  }
  while (Atomics.load(c, GEN) === gen);
}

if (!isMainThread && parentPort) {
  const port = parentPort;
  const { control, index, shape } = workerData as ProbeSetup;
  const c = new Int32Array(control);
  const shard = shardProducts(shape);
  port.on('message', ({ threads, seconds }: ProbeWindow) => {
    const started = performance.now();
    let steps = 0;
    let busyMs = 0;
    for (;;) {
      const at = performance.now();
      // one thread alone runs both shards a step
      for (let s = 0; s < 2 / threads; s++) shard();
      busyMs += performance.now() - at;
      steps++;
      // the first thread ends the window, before the barrier, so every thread leaves after the same step
      if (index === 0 && performance.now() - started >= seconds * 1000) Atomics.store(c, STOP, 1);
      if (threads > 1) barrier(c, threads);
      if (Atomics.load(c, STOP) === 1) break;
    }
    port.postMessage({ steps, busyMs, wallMs: performance.now() - started } satisfies ProbeResult);
  });
  port.postMessage('ready');
}
