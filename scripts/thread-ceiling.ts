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
 * With `exchange`, a step also moves the data a data-parallel step must: the
 * products read the weights from one shared vector and write each shard's
 * gradient into a shared slot; after the barrier each thread sums its half of
 * the slots into its own shard's slot and applies an Adam step (learning rate 0,
 * so the weights stay put but are written) to its half of the weights and
 * moments, then a second barrier. That is the step loop's data movement without
 * its bookkeeping (losses, checks, activations' epilogues, chunks).
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { getKernels } from '../src/kernels/index.js';
import type { AdamHyper } from '../src/kernels/types.js';

/** Control words: arrivals at the barrier, barrier passages, the end of the window. */
const COUNT = 0;
const GEN = 1;
const STOP = 2;

/** The reference step's products (see stepFlops in reference-workload.ts) on one shard. */
export interface ProbeShape {
  rows: number;
  inputWidth: number;
  hidden: number;
  headOutputs: number;
}

/** The shared weights, Adam's moments and the two shards' gradient slots (float32, `weightCount` each). */
interface ProbeMemory {
  weights: SharedArrayBuffer;
  m: SharedArrayBuffer;
  v: SharedArrayBuffer;
  slots: SharedArrayBuffer[];
}

interface ProbeSetup {
  control: SharedArrayBuffer;
  index: number;
  shape: ProbeShape;
  memory: ProbeMemory;
}

/** A window: `threads` threads (the first that many) step for `seconds`, with or without the exchange. */
interface ProbeWindow {
  threads: number;
  seconds: number;
  exchange: boolean;
}

interface ProbeResult {
  steps: number;
  /** in the products */
  productsMs: number;
  /** in the products, the reduction and the update */
  busyMs: number;
  wallMs: number;
}

interface CeilingRate {
  stepsPerSecond: number;
  /** share of the window the threads spent waiting at the barriers */
  idleShare: number;
  /** share of the window outside the products (the mean thread's): the step loop's serialShare, for the probe */
  serialShare: number;
}

/** The weight matrices' sizes, in vector order: first layer, second layer, heads. */
function weightSizes({ inputWidth: d, hidden: h, headOutputs: o }: ProbeShape): number[] {
  return [d * h, h * h, h * o];
}

export class ThreadCeiling {
  private readonly control: Int32Array;

  private constructor(private readonly workers: Worker[], control: SharedArrayBuffer) {
    this.control = new Int32Array(control);
  }

  /** Starts the two probe threads on a shard of `shape` (closed by close()). */
  static async start(shape: ProbeShape): Promise<ThreadCeiling> {
    const control = new SharedArrayBuffer(3 * 4);
    const bytes = weightSizes(shape).reduce((a, b) => a + b, 0) * 4;
    const memory: ProbeMemory = {
      weights: new SharedArrayBuffer(bytes), m: new SharedArrayBuffer(bytes), v: new SharedArrayBuffer(bytes),
      slots: [new SharedArrayBuffer(bytes), new SharedArrayBuffer(bytes)],
    };
    const workers = [0, 1].map((index) => new Worker(new URL(import.meta.url), { workerData: { control, index, shape, memory } satisfies ProbeSetup }));
    await Promise.all(workers.map((w) => reply(w)));
    return new ThreadCeiling(workers, control);
  }

  /** Steps/s of `threads` probe threads over a window of `seconds`, with or without the exchange. */
  async rate(threads: 1 | 2, seconds: number, exchange = false): Promise<CeilingRate> {
    this.control.fill(0);
    const results = await Promise.all(this.workers.slice(0, threads).map((w) => reply<ProbeResult>(w, { threads, seconds, exchange })));
    const wall = Math.max(...results.map((r) => r.wallMs));
    const mean = (f: (r: ProbeResult) => number) => results.reduce((sum, r) => sum + f(r), 0) / threads;
    return {
      stepsPerSecond: results[0].steps / (wall / 1000),
      idleShare: Math.max(0, 1 - mean((r) => r.busyMs) / wall),
      serialShare: Math.max(0, 1 - mean((r) => r.productsMs) / wall),
    };
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

/** `vector` cut into the weight matrices' views. */
function matrices(vector: Float32Array, shape: ProbeShape): Float32Array[] {
  let at = 0;
  return weightSizes(shape).map((n) => vector.subarray(at, (at += n)));
}

/** The products of one shard's forward and backward pass, reading `weights` and writing the weight gradients into `slot`. */
function shardProducts(shape: ProbeShape, weights: Float32Array, slot: Float32Array): () => void {
  const kernels = getKernels();
  const { rows: r, inputWidth: d, hidden: h, headOutputs: o } = shape;
  const x = Float32Array.from({ length: r * d }, (_, i) => ((i * 7919) % 1000) / 1e4 - 0.05);
  const [w1, w2, wo] = matrices(weights, shape);
  const [gw1, gw2, gwo] = matrices(slot, shape);
  const z1 = new Float32Array(r * h);
  const z2 = new Float32Array(r * h);
  const y = new Float32Array(r * o);
  const dz1 = new Float32Array(r * h);
  const dz2 = new Float32Array(r * h);
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
  const { control, index, shape, memory } = workerData as ProbeSetup;
  const c = new Int32Array(control);
  const kernels = getKernels();
  const weights = new Float32Array(memory.weights);
  const m = new Float32Array(memory.m);
  const v = new Float32Array(memory.v);
  const slots = memory.slots.map((b) => new Float32Array(b));
  if (index === 0) for (let i = 0; i < weights.length; i++) weights[i] = ((i * 2654435761) % 1000) / 1e4 - 0.05;
  // a thread alone runs both shards, each into its own slot; of two, each its own
  const shards = [0, 1].map((s) => shardProducts(shape, weights, slots[s]));
  const hyper: AdamHyper = { lr: 0, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false, step: 1 };
  const half = weights.length / 2 - ((weights.length / 2) % 64);
  /** Sums the slots over [from, to) into `home`'s and takes the Adam step there. */
  const reduceAndUpdate = (home: number, from: number, to: number) => {
    const part = (a: Float32Array) => a.subarray(from, to);
    kernels.axpy(to - from, 1, part(slots[1 - home]), part(slots[home]));
    kernels.adamStep(to - from, part(weights), part(slots[home]), part(m), part(v), hyper);
  };
  port.on('message', ({ threads, seconds, exchange }: ProbeWindow) => {
    const started = performance.now();
    let steps = 0;
    let productsMs = 0;
    let busyMs = 0;
    for (;;) {
      let at = performance.now();
      if (threads === 1) {
        shards[0]();
        shards[1]();
      } else {
        shards[index]();
      }
      const products = performance.now() - at;
      productsMs += products;
      busyMs += products;
      if (exchange) {
        if (threads > 1) barrier(c, threads);
        at = performance.now();
        if (threads === 1) reduceAndUpdate(0, 0, weights.length);
        else reduceAndUpdate(index, index === 0 ? 0 : half, index === 0 ? half : weights.length);
        busyMs += performance.now() - at;
      }
      steps++;
      // the first thread ends the window, before the barrier, so every thread leaves after the same step
      if (index === 0 && performance.now() - started >= seconds * 1000) Atomics.store(c, STOP, 1);
      if (threads > 1) barrier(c, threads);
      if (Atomics.load(c, STOP) === 1) break;
    }
    port.postMessage({ steps, productsMs, busyMs, wallMs: performance.now() - started } satisfies ProbeResult);
  });
  port.postMessage('ready');
}
