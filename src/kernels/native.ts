/**
 * Loader of the native kernel addon (build/Release/multitask_native.node, built by
 * scripts/build-native.mjs from src/kernels/native/).
 *
 * - `loadNativeKernels()` returns the native `Kernels` for the best instruction set
 *   the CPU supports, or the one named by env `MULTITASK_ISA` (avx512 | avx2 | scalar),
 *   or null; `nativeLoadError()` then says why.
 * - `createNativeKernels(isa)` returns a given instruction set or throws (tests use it
 *   to run every path the machine supports).
 *
 * Works in worker threads: each thread loads the addon into its own environment.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { ACTIVATIONS, LOSS_KINDS } from './types.js';
import type { Activation, AdamHyper, Kernels, SgdHyper } from './types.js';

/** Instruction sets of the addon, best first. */
export type NativeIsa = 'avx512' | 'avx2' | 'scalar';
export const NATIVE_ISAS: readonly NativeIsa[] = ['avx512', 'avx2', 'scalar'];
/**
 * Test-only instruction set: the AVX-512 GEMM blocking (12×32 register tile, its
 * packing and edge handling) executed with AVX2 instructions, so that logic is
 * tested on machines without AVX-512. Never chosen by default.
 */
export const NATIVE_TEST_ISAS: readonly string[] = ['avx2-wide'];

/** The functions the addon binds for one instruction set (see addon.cc). */
export interface NativeBinding {
  readonly isa: string;
  gemm(transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number,
    a: Float32Array, b: Float32Array, beta: number, c: Float32Array): void;
  biasActivation(rows: number, cols: number, z: Float32Array, bias: Float32Array, act: number,
    h: Float32Array): void;
  activationBackward(n: number, act: number, z: Float32Array, h: Float32Array, dh: Float32Array,
    dz: Float32Array): void;
  biasGrad(rows: number, cols: number, dy: Float32Array, db: Float32Array): void;
  loss(kind: number, rows: number, cols: number, pred: Float32Array, target: Float32Array,
    gradScale: number, grad: Float32Array, stats: Float64Array, classWeights?: Float32Array | null): void;
  gatherRows(width: number, src: Float32Array, indices: Int32Array, start: number, count: number, dst: Float32Array): void;
  axpy(n: number, alpha: number, x: Float32Array, y: Float32Array): void;
  scale(n: number, alpha: number, x: Float32Array): void;
  dot(n: number, x: Float32Array, y: Float32Array): number;
  norm(n: number, x: Float32Array): number;
  sgdStep(n: number, param: Float32Array, grad: Float32Array, buf: Float32Array, lr: number,
    momentum: number, dampening: number, nesterov: boolean, weightDecay: number, firstStep: boolean): void;
  sgdStepSummed(n: number, param: Float32Array, grad0: Float32Array, grad1: Float32Array, buf: Float32Array, lr: number,
    momentum: number, dampening: number, nesterov: boolean, weightDecay: number, firstStep: boolean): void;
  adamStep(n: number, param: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array,
    lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, decoupled: boolean,
    step: number): void;
  adamStepSummed(n: number, param: Float32Array, grad0: Float32Array, grad1: Float32Array, m: Float32Array,
    v: Float32Array, lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, decoupled: boolean,
    step: number): void;
}

/** The addon module itself. */
export interface NativeAddon {
  readonly cpu: { readonly avx2: boolean; readonly fma: boolean; readonly avx512f: boolean };
  /** Instruction sets this CPU can run, best first, test-only ones included. */
  isas(): string[];
  bind(isa: string): NativeBinding;
}

// Codes shared with addon.cc / common.h (same order as ACTIVATIONS and LOSS_KINDS).
const ACT_CODES: ReadonlyMap<string, number> = new Map(ACTIVATIONS.map((a, i) => [a, i]));
const LOSS_CODES: ReadonlyMap<string, number> = new Map(LOSS_KINDS.map((l, i) => [l, i]));

const ADDON_FILE = join('build', 'Release', 'multitask_native.node');

let addon: NativeAddon | null | undefined; // undefined: not tried yet
let addonError: string | undefined;
let lastError: string | undefined;
const kernelsByIsa = new Map<string, Kernels>();

/** The package root: the nearest directory above this module with a package.json. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`multitask: no package.json above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

/** Absolute path of the built addon (it may not exist). */
export function nativeAddonPath(): string {
  return join(packageRoot(), ADDON_FILE);
}

/** The raw addon module, or null (see nativeLoadError). Loaded once per thread. */
export function loadNativeAddon(): NativeAddon | null {
  if (addon !== undefined) return addon;
  addon = null;
  try {
    const file = nativeAddonPath();
    if (!existsSync(file)) {
      addonError = `${ADDON_FILE} not found; build it with \`node scripts/build-native.mjs\``;
    } else {
      addon = createRequire(import.meta.url)(file) as NativeAddon;
    }
  } catch (err) {
    addonError = `loading ${ADDON_FILE} failed: ${firstLine(err)}`;
  }
  return addon;
}

/** Why the last loadNativeKernels() call returned null (undefined if it did not). */
export function nativeLoadError(): string | undefined {
  return lastError;
}

/** Instruction sets the addon can run on this CPU, best first ([] if it does not load). */
export function nativeIsas(): string[] {
  return loadNativeAddon()?.isas() ?? [];
}

/**
 * The native kernels for `isa` (default: env MULTITASK_ISA, else the best this CPU
 * supports), or null with the reason in nativeLoadError().
 */
export function loadNativeKernels(isa?: string): Kernels | null {
  try {
    const k = createNativeKernels(isa);
    lastError = undefined;
    return k;
  } catch (err) {
    lastError = firstLine(err);
    return null;
  }
}

/** Like loadNativeKernels, but throws an Error saying why instead of returning null. */
export function createNativeKernels(isa?: string): Kernels {
  const mod = loadNativeAddon();
  if (!mod) throw new Error(addonError ?? 'native addon unavailable');
  const available = mod.isas();
  const requested = isa ?? (process.env.MULTITASK_ISA || undefined);
  const chosen = requested ?? available.find((i) => (NATIVE_ISAS as readonly string[]).includes(i));
  if (chosen === undefined || !available.includes(chosen)) {
    const source = isa === undefined && requested !== undefined ? `MULTITASK_ISA=${requested}` : `instruction set '${requested ?? '(default)'}'`;
    throw new Error(`${source} is not available on this CPU (available: ${available.join(', ')})`);
  }
  let k = kernelsByIsa.get(chosen);
  if (!k) {
    k = wrap(mod.bind(chosen));
    kernelsByIsa.set(chosen, k);
  }
  return k;
}

/** Adapts the raw binding to the Kernels interface (names → codes, hyper objects → numbers). */
function wrap(raw: NativeBinding): Kernels {
  const kernels: Kernels = {
    backend: 'native',
    isa: raw.isa,
    // Same signatures as the interface: the native functions are used as they are.
    gemm: raw.gemm,
    biasGrad: raw.biasGrad,
    gatherRows: raw.gatherRows,
    axpy: raw.axpy,
    scale: raw.scale,
    dot: raw.dot,
    norm: raw.norm,
    biasActivation(rows, cols, z, bias, act, h) {
      raw.biasActivation(rows, cols, z, bias, actCode(act), h);
    },
    activationBackward(n, act, z, h, dh, dz) {
      raw.activationBackward(n, actCode(act), z, h, dh, dz);
    },
    loss(kind, rows, cols, pred, target, gradScale, grad, stats, classWeights) {
      const code = LOSS_CODES.get(kind);
      if (code === undefined) throw new RangeError(`unknown loss '${String(kind)}'`);
      raw.loss(code, rows, cols, pred, target, gradScale, grad, stats, classWeights);
    },
    sgdStep(n, param, grad, buf, h: SgdHyper) {
      raw.sgdStep(n, param, grad, buf, h.lr, h.momentum, h.dampening, h.nesterov, h.weightDecay, h.firstStep);
    },
    sgdStepSummed(n, param, grad0, grad1, buf, h: SgdHyper) {
      raw.sgdStepSummed(n, param, grad0, grad1, buf, h.lr, h.momentum, h.dampening, h.nesterov, h.weightDecay, h.firstStep);
    },
    adamStep(n, param, grad, m, v, h: AdamHyper) {
      raw.adamStep(n, param, grad, m, v, h.lr, h.beta1, h.beta2, h.eps, h.weightDecay, h.decoupled, h.step);
    },
    adamStepSummed(n, param, grad0, grad1, m, v, h: AdamHyper) {
      raw.adamStepSummed(n, param, grad0, grad1, m, v, h.lr, h.beta1, h.beta2, h.eps, h.weightDecay, h.decoupled, h.step);
    },
  };
  return Object.freeze(kernels);
}

function actCode(act: Activation): number {
  const code = ACT_CODES.get(act);
  if (code === undefined) throw new RangeError(`unknown activation '${String(act)}'`);
  return code;
}

function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0] ?? msg;
}
