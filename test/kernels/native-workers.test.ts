/**
 * The addon in worker threads: it loads in each thread's environment, and several
 * threads running gemm at once on shared buffers (each with its own thread_local
 * packing buffers) get exactly the main thread's results.
 */
import { Worker } from 'node:worker_threads';

import { describe, expect, it } from 'vitest';

import { createNativeKernels, loadNativeAddon, nativeAddonPath, nativeIsas } from '../../src/kernels/native.js';
import { randomF32, Rng } from './reference.js';

const loaded = loadNativeAddon() !== null;

interface Job {
  transA: boolean;
  transB: boolean;
  m: number;
  n: number;
  k: number;
  /** Element offsets of A, B and C in the shared buffers. */
  aOff: number;
  bOff: number;
  cOff: number;
}

// A CommonJS worker: loads the addon itself, waits for the start signal so all threads
// run together, repeats its jobs, and reports its isa.
const WORKER_SOURCE = `
const { workerData, parentPort } = require('node:worker_threads');
const { createRequire } = require('node:module');
const addon = createRequire(workerData.addonPath)(workerData.addonPath);
const k = addon.bind(workerData.isa);
const a = new Float32Array(workerData.a), b = new Float32Array(workerData.b), c = new Float32Array(workerData.c);
const signal = new Int32Array(workerData.signal);
Atomics.add(signal, 1, 1);
Atomics.wait(signal, 0, 0);
for (let rep = 0; rep < workerData.reps; rep++) {
  for (const j of workerData.jobs) {
    k.gemm(j.transA, j.transB, j.m, j.n, j.k, 1.5,
      a.subarray(j.aOff, j.aOff + j.m * j.k), b.subarray(j.bOff, j.bOff + j.k * j.n), 0.5,
      c.subarray(j.cOff, j.cOff + j.m * j.n));
  }
}
parentPort.postMessage({ isa: k.isa });
`;

function runWorker(data: Record<string, unknown>): { done: Promise<{ isa: string }>; worker: Worker } {
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: data });
  const done = new Promise<{ isa: string }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`worker exited with ${code} before reporting`)));
  });
  return { done, worker };
}

describe.skipIf(!loaded)('native addon in worker threads', () => {
  it('loads in a worker and reports the instruction sets of the main thread', async () => {
    const source = `
      const { parentPort, workerData } = require('node:worker_threads');
      const addon = require('node:module').createRequire(workerData)(workerData);
      parentPort.postMessage(addon.isas());`;
    const worker = new Worker(source, { eval: true, workerData: nativeAddonPath() });
    const isas = await new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await worker.terminate();
    expect(isas).toEqual(nativeIsas());
  });

  it.each([2, 4])('%i threads running gemm concurrently on shared buffers match the main thread', async (threads) => {
    const isa = nativeIsas()[0]; // the best instruction set of this CPU
    const rng = new Rng(threads);
    // Every thread gets a mix of layouts and sizes: small (direct B), mid, one that spans
    // several k and m blocks, so packing buffers of different sizes live at once, and the
    // skinny head shapes that take the unpacked direct paths.
    const shapes: [boolean, boolean, number, number, number][] = [
      [false, false, 64, 128, 128], [false, true, 200, 96, 300], [true, false, 33, 257, 70],
      [true, true, 17, 40, 600], [false, false, 300, 520, 260],
      [false, true, 128, 10, 512], [false, false, 128, 512, 10], [true, false, 10, 512, 128],
    ];
    const jobsByThread: Job[][] = [];
    let aLen = 0, bLen = 0, cLen = 0;
    for (let t = 0; t < threads; t++) {
      const jobs: Job[] = [];
      for (let s = 0; s < shapes.length; s++) {
        const [transA, transB, m, n, k] = shapes[(s + t) % shapes.length];
        jobs.push({ transA, transB, m, n, k, aOff: aLen + 1, bOff: bLen + 3, cOff: cLen + 5 });
        aLen += m * k + 1; bLen += k * n + 3; cLen += m * n + 5;
      }
      jobsByThread.push(jobs);
    }
    const a = new Float32Array(new SharedArrayBuffer(4 * aLen));
    const b = new Float32Array(new SharedArrayBuffer(4 * bLen));
    const c = new Float32Array(new SharedArrayBuffer(4 * cLen));
    a.set(randomF32(rng, aLen)); b.set(randomF32(rng, bLen));
    const c0 = randomF32(rng, cLen);
    c.set(c0);

    // Expected: the same calls on the main thread, on private copies.
    const reps = 3;
    const kMain = createNativeKernels(isa);
    const want = c0.slice();
    for (let rep = 0; rep < reps; rep++) {
      for (const jobs of jobsByThread) {
        for (const j of jobs) {
          kMain.gemm(j.transA, j.transB, j.m, j.n, j.k, 1.5, a.subarray(j.aOff, j.aOff + j.m * j.k),
            b.subarray(j.bOff, j.bOff + j.k * j.n), 0.5, want.subarray(j.cOff, j.cOff + j.m * j.n));
        }
      }
    }

    const signal = new Int32Array(new SharedArrayBuffer(8));
    const runs = jobsByThread.map((jobs) => runWorker({
      addonPath: nativeAddonPath(), isa, a: a.buffer, b: b.buffer, c: c.buffer, signal: signal.buffer, jobs, reps,
    }));
    try {
      // Start everyone at once, once all threads have loaded the addon.
      const deadline = Date.now() + 30_000;
      while (Atomics.load(signal, 1) < threads && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      expect(Atomics.load(signal, 1)).toBe(threads);
      Atomics.store(signal, 0, 1);
      Atomics.notify(signal, 0);
      const reports = await Promise.all(runs.map((r) => r.done));
      expect(reports.map((r) => r.isa)).toEqual(Array(threads).fill(isa));
    } finally {
      await Promise.all(runs.map((r) => r.worker.terminate()));
    }
    // Bit-identical: same code, same blocking, no shared mutable state between threads.
    let firstDiff = -1;
    for (let i = 0; i < cLen; i++) {
      if (!Object.is(c[i], want[i])) { firstDiff = i; break; }
    }
    expect(firstDiff).toBe(-1);
  });
});
