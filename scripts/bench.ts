/**
 * Kernel benchmark: prints one JSON object per line.
 *
 *   npm run bench                       (tsc, then node dist/scripts/bench.js)
 *   node dist/scripts/bench.js --quick  fewer runs, no 1024³
 *   node dist/scripts/bench.js --no-numpy
 *   MULTITASK_ISA=avx2 node dist/scripts/bench.js
 *
 * Lines:
 * - {"bench":"env", ...}: instruction set, CPU flags, numpy/OpenBLAS availability
 * - {"bench":"gemm", shape m×k×n, layout NN|NT|TN, GFLOP/s of native, js (small shapes
 *   only), numpy with the environment's OPENBLAS_CORETYPE and with SkylakeX (AVX-512
 *   kernel; null when the CPU cannot run it), native/numpy ratio}: single thread, one
 *   warm-up, median of ≥ 5 timed runs; numpy (OPENBLAS_NUM_THREADS=1) runs in a
 *   subprocess right before each shape. The square-ish shapes in every layout, then
 *   the skinny head shapes in their own layout
 * - {"bench":"gemm-threads", ...}: total GFLOP/s of 2 worker threads each running
 *   256×1024×1024 against 1 thread
 * - {"bench":"elementwise", ...}: Adam over 1M parameters and other element-wise kernels
 */
import { spawnSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';

import { jsKernels } from '../src/kernels/js.js';
import { createNativeKernels, loadNativeAddon, nativeAddonPath, nativeLoadError } from '../src/kernels/native.js';
import type { Kernels } from '../src/kernels/types.js';

const args = new Set(process.argv.slice(2));
const quick = args.has('--quick');
const RUNS = quick ? 5 : 7;
const MIN_RUN_MS = quick ? 20 : 40;

type Layout = 'NN' | 'NT' | 'TN';
const LAYOUTS: Layout[] = ['NN', 'NT', 'TN'];
/**
 * m×k×n. 128×512×512 and 384×512×512: one shard's input gradient at the
 * reference width, and three tasks' stacked into one product (the stacking the
 * per-task plan could do: it pays only if the taller product runs faster).
 */
const SHAPES: [number, number, number][] = quick
  ? [[64, 128, 128], [256, 256, 256], [256, 1024, 1024]]
  : [[64, 128, 128], [128, 512, 512], [384, 512, 512], [256, 256, 256], [256, 1024, 1024], [1024, 1024, 1024]];
/**
 * m×k×n and layout: the heads on a 512-wide trunk at batch 256 with 1 or 10 outputs
 * (forward NT, n = outputs; input gradient NN, k = outputs; weight gradient TN,
 * m = outputs), which the native gemm runs on its direct (unpacked) paths.
 */
const HEAD_SHAPES: [number, number, number, Layout][] = [
  [256, 512, 1, 'NT'], [256, 512, 10, 'NT'], [256, 1, 512, 'NN'], [256, 10, 512, 'NN'],
  [1, 256, 512, 'TN'], [10, 256, 512, 'TN'],
];
const JS_MAX_FLOP = 2 * 256 * 256 * 256; // js is ~1–5 GFLOP/s: only the small shapes

function emit(obj: Record<string, unknown>): void {
  console.log(JSON.stringify(obj));
}

function round(x: number | null | undefined, digits = 1): number | null {
  if (x === null || x === undefined || !Number.isFinite(x)) return null;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

function randomArray(n: number, seed: number): Float32Array {
  const x = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[i] = s / 2 ** 32 - 0.5;
  }
  return x;
}

/** Median seconds per call of fn: one warm-up, then RUNS timed runs of enough calls to last MIN_RUN_MS. */
function timeIt(fn: () => void, runs = RUNS): number {
  let t0 = performance.now();
  fn(); // warm-up (also allocates the thread's packing buffers)
  const once = Math.max(performance.now() - t0, 1e-3);
  const reps = Math.max(1, Math.ceil(MIN_RUN_MS / once));
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    t0 = performance.now();
    for (let i = 0; i < reps; i++) fn();
    times.push((performance.now() - t0) / reps);
  }
  return median(times) / 1000;
}

function gemmGflops(k: Kernels, m: number, kk: number, n: number, layout: Layout): number {
  const ta = layout === 'TN', tb = layout === 'NT';
  const a = randomArray(m * kk, 1), b = randomArray(kk * n, 2), c = new Float32Array(m * n);
  const s = timeIt(() => k.gemm(ta, tb, m, n, kk, 1, a, b, 0, c));
  return (2 * m * n * kk) / s / 1e9;
}

// --- numpy ---------------------------------------------------------------------------

const NUMPY_SCRIPT = `
import json, sys, time
import numpy as np
shapes = json.loads(sys.argv[1]); runs = int(sys.argv[2]); min_s = float(sys.argv[3]) / 1000
out = {}
for m, k, n in shapes:
    for layout in ('NN', 'NT', 'TN'):
        rng = np.random.default_rng(0)
        A = rng.random((k, m) if layout == 'TN' else (m, k), dtype=np.float32) - 0.5
        B = rng.random((n, k) if layout == 'NT' else (k, n), dtype=np.float32) - 0.5
        a = A.T if layout == 'TN' else A   # transposed views: sgemm gets a trans flag, no copy
        b = B.T if layout == 'NT' else B
        c = np.empty((m, n), dtype=np.float32)
        t0 = time.perf_counter(); np.matmul(a, b, out=c); once = max(time.perf_counter() - t0, 1e-6)
        reps = max(1, int(min_s / once + 0.999))
        ts = []
        for _ in range(runs):
            t0 = time.perf_counter()
            for _ in range(reps): np.matmul(a, b, out=c)
            ts.append((time.perf_counter() - t0) / reps)
        ts.sort()
        out[f"{m}x{k}x{n} {layout}"] = 2 * m * n * k / ts[len(ts) // 2] / 1e9
config = {}
try:
    config = np.show_config(mode='dicts')['Build Dependencies']['blas']
except Exception:
    pass
print(json.dumps({"numpy": np.__version__, "blas": config.get('version'), "gflops": out}))
`;

interface NumpyResult {
  numpy?: string;
  blas?: string;
  gflops?: Record<string, number>;
  error?: string;
}

function numpyAvailable(): boolean {
  const r = spawnSync('python3', ['-c', 'import numpy'], { encoding: 'utf8' });
  return r.status === 0;
}

function runNumpy(coretype: string | undefined, shape: [number, number, number]): NumpyResult {
  const env: NodeJS.ProcessEnv = { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1' };
  if (coretype !== undefined) env.OPENBLAS_CORETYPE = coretype;
  const r = spawnSync('python3', ['-c', NUMPY_SCRIPT, JSON.stringify([shape]), String(RUNS), String(MIN_RUN_MS)], {
    encoding: 'utf8', env, timeout: 600_000,
  });
  if (r.status !== 0) {
    const why = r.signal ? `killed by ${r.signal}` : (r.stderr || '').trim().split('\n').at(-1) || `exit ${r.status}`;
    return { error: why };
  }
  try {
    return JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '') as NumpyResult;
  } catch {
    return { error: 'unreadable output' };
  }
}

// --- threads -------------------------------------------------------------------------

const THREAD_WORKER = `
const { workerData, parentPort } = require('node:worker_threads');
const addon = require('node:module').createRequire(workerData.addonPath)(workerData.addonPath);
const k = addon.bind(workerData.isa);
const { m, kk, n, reps } = workerData;
const a = new Float32Array(m * kk).fill(0.5), b = new Float32Array(kk * n).fill(0.25), c = new Float32Array(m * n);
const signal = new Int32Array(workerData.signal);
for (let i = 0; i < 3; i++) k.gemm(false, false, m, n, kk, 1, a, b, 0, c); // warm-up
Atomics.add(signal, 1, 1);
Atomics.notify(signal, 1);
Atomics.wait(signal, 0, 0);
const t0 = performance.now();
for (let i = 0; i < reps; i++) k.gemm(false, false, m, n, kk, 1, a, b, 0, c);
parentPort.postMessage(performance.now() - t0);
`;

/** Total GFLOP/s of `threads` workers each running `reps` gemms of m×kk×n at the same time. */
async function threadedGflops(isa: string, threads: number, m: number, kk: number, n: number, reps: number): Promise<number> {
  const signal = new Int32Array(new SharedArrayBuffer(8));
  const workers = Array.from({ length: threads }, () => new Worker(THREAD_WORKER, {
    eval: true, workerData: { addonPath: nativeAddonPath(), isa, m, kk, n, reps, signal: signal.buffer },
  }));
  try {
    const done = workers.map((w) => new Promise<number>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    }));
    while (Atomics.load(signal, 1) < threads) await new Promise((r) => setTimeout(r, 2));
    const t0 = performance.now();
    Atomics.store(signal, 0, 1);
    Atomics.notify(signal, 0);
    await Promise.all(done);
    const wall = (performance.now() - t0) / 1000;
    return (threads * reps * 2 * m * n * kk) / wall / 1e9;
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

// --- element-wise --------------------------------------------------------------------

function elementwise(k: Kernels): void {
  const n = 1 << 20;
  const p = randomArray(n, 3), g = randomArray(n, 4), m1 = new Float32Array(n), v = new Float32Array(n);
  let step = 0;
  const adam = timeIt(() => k.adamStep(n, p, g, m1, v, {
    lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, decoupled: true, step: ++step,
  }));
  emit({ bench: 'elementwise', kernel: 'adamStep', backend: k.backend, isa: k.isa, n, ms: round(adam * 1e3, 3) });
  const buf = new Float32Array(n);
  const sgd = timeIt(() => k.sgdStep(n, p, g, buf, {
    lr: 1e-3, momentum: 0.9, dampening: 0, nesterov: false, weightDecay: 0, firstStep: false,
  }));
  emit({ bench: 'elementwise', kernel: 'sgdStep', backend: k.backend, isa: k.isa, n, ms: round(sgd * 1e3, 3) });
  const dot = timeIt(() => { k.dot(n, p, g); });
  emit({ bench: 'elementwise', kernel: 'dot', backend: k.backend, isa: k.isa, n, ms: round(dot * 1e3, 3) });
  const rows = 256, cols = 512, z = randomArray(rows * cols, 5), bias = randomArray(cols, 6), h = new Float32Array(rows * cols);
  for (const act of ['relu', 'tanh', 'sigmoid', 'gelu'] as const) {
    const zz = z.slice();
    const fwd = timeIt(() => { zz.set(z); k.biasActivation(rows, cols, zz, bias, act, h); });
    const bwd = timeIt(() => k.activationBackward(rows * cols, act, zz, h, h, zz));
    emit({ bench: 'elementwise', kernel: `biasActivation+backward ${act}`, backend: k.backend, isa: k.isa,
      shape: `${rows}x${cols}`, forward_ms: round(fwd * 1e3, 3), backward_ms: round(bwd * 1e3, 3) });
  }
}

/** Times one gemm shape and layout and emits its "gemm" line (numpy figures from runNumpy, if run). */
function benchGemm(native: Kernels | null, m: number, kk: number, n: number, layout: Layout,
  np: NumpyResult | undefined, npSkx: NumpyResult | undefined): void {
  const shape = `${m}x${kk}x${n}`;
  const nat = native ? gemmGflops(native, m, kk, n, layout) : null;
  const js = 2 * m * n * kk <= JS_MAX_FLOP ? gemmGflops(jsKernels, m, kk, n, layout) : null;
  const npG = np?.gflops?.[`${shape} ${layout}`] ?? null;
  const skxG = npSkx?.gflops?.[`${shape} ${layout}`] ?? null;
  emit({
    bench: 'gemm', shape, m, k: kk, n, layout, isa: native?.isa ?? null,
    native_gflops: round(nat), js_gflops: round(js), numpy_gflops: round(npG), numpy_skylakex_gflops: round(skxG),
    native_vs_numpy: nat !== null && npG ? round(nat / npG, 2) : null,
    native_vs_numpy_skylakex: nat !== null && skxG ? round(nat / skxG, 2) : null,
  });
}

// --- main ----------------------------------------------------------------------------

async function main(): Promise<void> {
  const addon = loadNativeAddon();
  let native: Kernels | null = null;
  try {
    native = createNativeKernels();
  } catch (err) {
    emit({ bench: 'env', error: `native kernels unavailable: ${nativeLoadError() ?? (err as Error).message}` });
  }
  const withNumpy = !args.has('--no-numpy') && numpyAvailable();
  emit({
    bench: 'env', isa: native?.isa ?? null, cpu: addon?.cpu ?? null, node: process.version,
    numpy: withNumpy, openblas_coretype: process.env.OPENBLAS_CORETYPE ?? null, runs: RUNS,
  });

  let npInfo = false;
  for (const [m, kk, n] of SHAPES) {
    // numpy runs in its own process, one shape at a time between our measurements, so
    // both see the same load on a shared machine (timings drift by tens of percent).
    let np: NumpyResult | undefined, npSkx: NumpyResult | undefined;
    if (withNumpy) {
      np = runNumpy(undefined, [m, kk, n]);
      npSkx = runNumpy('SkylakeX', [m, kk, n]);
      if (!npInfo) {
        npInfo = true;
        emit({ bench: 'numpy', version: np.numpy ?? null, blas: np.blas ?? null, error: np.error ?? null,
          skylakex_error: npSkx.error ?? null });
      }
    }
    for (const layout of LAYOUTS) benchGemm(native, m, kk, n, layout, np, npSkx);
  }
  for (const [m, kk, n, layout] of HEAD_SHAPES) {
    const np = withNumpy ? runNumpy(undefined, [m, kk, n]) : undefined;
    const npSkx = withNumpy ? runNumpy('SkylakeX', [m, kk, n]) : undefined;
    benchGemm(native, m, kk, n, layout, np, npSkx);
  }

  if (native) {
    const [m, kk, n] = [256, 1024, 1024];
    const reps = quick ? 10 : 30;
    const one: number[] = [], two: number[] = [];
    for (let r = 0; r < 3; r++) {
      one.push(await threadedGflops(native.isa, 1, m, kk, n, reps));
      two.push(await threadedGflops(native.isa, 2, m, kk, n, reps));
    }
    const g1 = median(one), g2 = median(two);
    emit({ bench: 'gemm-threads', shape: `${m}x${kk}x${n}`, layout: 'NN', isa: native.isa, reps_per_thread: reps,
      gflops_1_thread: round(g1), gflops_2_threads_total: round(g2), speedup: round(g2 / g1, 2) });
    elementwise(native);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
