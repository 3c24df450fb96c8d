/**
 * Matrix products shared between threads (GemmSharing, src/kernels/native/share.cc):
 * on every instruction set, a product run by a sharing thread while other threads
 * take some of its tasks has the bits of the same product run alone, for each way
 * the work is cut (by columns, by rows, several k blocks, ragged edges, every
 * transpose).
 */
import { Worker } from 'node:worker_threads';

import { afterEach, describe, expect, it } from 'vitest';

import { createNativeKernels, loadNativeAddon, nativeAddonPath, nativeIsas } from '../../src/kernels/native.js';
import type { GemmSharing } from '../../src/kernels/types.js';
import { randomF32, Rng } from './reference.js';

const loaded = loadNativeAddon() !== null;

// A helper thread: takes a board, then runs whatever the others post until told to
// stop (word 0); counts the help() calls that found work (word 2) and reports them
// with the tasks' nanoseconds.
const HELPER_SOURCE = `
const { workerData, parentPort } = require('node:worker_threads');
const addon = require('node:module').createRequire(workerData.addonPath)(workerData.addonPath);
const stop = new Int32Array(workerData.stop);
const shared = addon.shareGemms(true);
Atomics.add(stop, 1, 1);
let ns = 0, calls = 0;
while (Atomics.load(stop, 0) === 0) {
  const spent = addon.helpShared();
  if (spent > 0) { ns += spent; calls++; Atomics.add(stop, 2, 1); }
}
addon.shareGemms(false);
parentPort.postMessage({ shared, ns, calls });
`;

interface HelperReport {
  shared: boolean;
  ns: number;
  calls: number;
}

/** Starts `count` helper threads; resolves once all have taken their boards. */
async function startHelpers(count: number) {
  const stop = new Int32Array(new SharedArrayBuffer(12));
  const workers = Array.from({ length: count }, () => new Worker(HELPER_SOURCE, { eval: true, workerData: { addonPath: nativeAddonPath(), stop: stop.buffer } }));
  const reports = workers.map((w) => new Promise<HelperReport>((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  }));
  const deadline = Date.now() + 30_000;
  while (Atomics.load(stop, 1) < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  expect(Atomics.load(stop, 1)).toBe(count);
  return {
    /** help() calls that found work so far, over all helpers */
    helped: () => Atomics.load(stop, 2),
    async stop(): Promise<HelperReport[]> {
      Atomics.store(stop, 0, 1);
      try {
        return await Promise.all(reports);
      } finally {
        await Promise.all(workers.map((w) => w.terminate()));
      }
    },
  };
}

// [transA, transB, m, n, k]: by columns (m ≤ MC on every table), by rows (m > MC),
// several k blocks (k > 256), ragged edges in m and n, every layout.
const SHAPES: [boolean, boolean, number, number, number][] = [
  [false, false, 128, 512, 512], [false, true, 128, 512, 512], [true, false, 512, 512, 128],
  [false, false, 130, 300, 257], [true, true, 300, 77, 513], [false, true, 25, 1000, 100],
  [true, false, 1000, 37, 700], [false, false, 144, 2048, 300], [false, true, 384, 520, 600],
];

const sharingOf = (isa: string): GemmSharing => {
  const sharing = createNativeKernels(isa).sharing;
  if (!sharing) throw new Error('the native kernels have no sharing');
  return sharing;
};

describe.skipIf(!loaded)('native GEMM sharing', () => {
  afterEach(() => {
    if (loaded) sharingOf(nativeIsas()[0]).share(false);
  });

  it('a thread without a board helps with nothing; taking and giving back a board succeeds', () => {
    const sharing = sharingOf(nativeIsas()[0]);
    expect(sharing.help()).toBe(0);
    expect(sharing.share(true)).toBe(true);
    expect(sharing.share(true)).toBe(true);
    expect(sharing.share(false)).toBe(true);
    expect(sharing.help()).toBe(0);
  });

  it('every instruction set: products shared with two helper threads have the bits of the products run alone', async () => {
    const rng = new Rng(11);
    const cases = nativeIsas().flatMap((isa) => SHAPES.flatMap(([transA, transB, m, n, k]) => [0, 0.5].map((beta) => ({
      isa, transA, transB, m, n, k, beta, a: randomF32(rng, m * k), b: randomF32(rng, k * n), c: randomF32(rng, m * n),
    }))));
    const want = cases.map(({ isa, transA, transB, m, n, k, beta, a, b, c }) => {
      const out = c.slice();
      createNativeKernels(isa).gemm(transA, transB, m, n, k, 1.5, a, b, beta, out);
      return out;
    });
    const helpers = await startHelpers(2);
    let reports: HelperReport[];
    const mismatches: string[] = [];
    try {
      sharingOf(nativeIsas()[0]).share(true);
      // three rounds, and more until the helpers have taken tasks (they run on the other
      // cores, or get a turn on this one)
      const deadline = Date.now() + 20_000;
      for (let round = 0; round < 3 || (helpers.helped() === 0 && Date.now() < deadline); round++) {
        cases.forEach(({ isa, transA, transB, m, n, k, beta, a, b, c }, i) => {
          const out = c.slice();
          createNativeKernels(isa).gemm(transA, transB, m, n, k, 1.5, a, b, beta, out);
          const at = out.findIndex((x, j) => !Object.is(x, want[i][j]));
          if (at >= 0) mismatches.push(`${isa} ${transA ? 'T' : 'N'}${transB ? 'T' : 'N'} ${m}×${n}×${k} β=${beta}: element ${at}`);
        });
      }
    } finally {
      sharingOf(nativeIsas()[0]).share(false);
      reports = await helpers.stop();
    }
    expect(mismatches).toEqual([]);
    expect(reports.map((r) => r.shared)).toEqual([true, true]);
    expect(reports.reduce((s, r) => s + r.calls, 0)).toBeGreaterThan(0);
  });
});
