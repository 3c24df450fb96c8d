/** Shared helpers of the strategy tests: backends, random gradients, float64 references. */

import { getKernels } from '../../src/kernels/index.js';
import { jsKernels } from '../../src/kernels/js.js';
import type { Kernels } from '../../src/kernels/types.js';
import { computeGram, strategies, strategyRng, type AnyStrategy, type CombineResult } from '../../src/strategies/index.js';
import { resolveOptions } from '../../src/strategies/options.js';
import { Rng } from '../../src/util/rng.js';

/** The js kernels always, and getKernels() too when it is the native addon. */
export function backends(): [string, Kernels][] {
  const list: [string, Kernels][] = [['js', jsKernels]];
  const k = getKernels();
  if (k.backend === 'native') list.push([`native-${k.isa}`, k]);
  return list;
}

export function vecs(...rows: number[][]): Float32Array[] {
  return rows.map((r) => Float32Array.from(r));
}

/** T random gradients of length n, entries uniform in [−1, 1) times per-task scales (default 1). */
export function randomGrads(rng: Rng, T: number, n: number, scales?: number[]): Float32Array[] {
  return Array.from({ length: T }, (_, t) => Float32Array.from({ length: n }, () => rng.uniform(-1, 1) * (scales?.[t] ?? 1)));
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

export function norm(a: ArrayLike<number>): number {
  return Math.sqrt(dot(a, a));
}

/** Σ w_i g_i in float64. */
export function combo(grads: readonly Float32Array[], w: ArrayLike<number>): Float64Array {
  const out = new Float64Array(grads[0].length);
  grads.forEach((g, i) => { for (let e = 0; e < out.length; e++) out[e] += w[i] * g[e]; });
  return out;
}

export function gramOf(kernels: Kernels, grads: readonly Float32Array[]): Float64Array {
  return computeGram(kernels, grads, new Float64Array(grads.length * grads.length));
}

export interface RunOptions {
  options?: Record<string, unknown>;
  state?: unknown;
  seed?: number;
  step?: number;
  losses?: number[];
  lastSharedGram?: Float64Array;
}

/** Runs strategy `name` once (fresh state unless given) and returns the result and the options used. */
export function run(kernels: Kernels, name: keyof typeof strategies, grads: readonly Float32Array[],
  o: RunOptions = {}): CombineResult<unknown> {
  const s: AnyStrategy = strategies[name];
  const options = resolveOptions(s, o.options);
  const T = grads.length;
  const state = o.state !== undefined ? o.state : s.init(T, grads[0].length, options);
  const out = new Float32Array(grads[0].length);
  return s.combine({
    grads,
    gram: gramOf(kernels, grads),
    losses: o.losses === undefined ? undefined : Float64Array.from(o.losses),
    lastSharedGram: o.lastSharedGram,
    step: o.step ?? 0,
    rng: strategyRng(o.seed ?? 0, o.step ?? 0),
    kernels,
  }, state, options, out);
}

/** Largest |a_i − b_i| over the largest |b_i| (or 1e-30): a relative error for whole vectors. */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let top = 1e-30;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    top = Math.max(top, Math.abs(b[i]));
  }
  return a.length === b.length ? diff / top : Infinity;
}

/**
 * |update − Σ w_i g_i| (float64) over the cancellation scale max_e Σ_i |w_i·g_i[e]|: the
 * error of a float32 weighted sum, meaningful even when the terms cancel.
 */
export function comboErr(update: Float32Array, grads: readonly Float32Array[], w: ArrayLike<number>): number {
  const want = combo(grads, w);
  let diff = 0;
  let scale = 1e-300;
  for (let e = 0; e < want.length; e++) {
    diff = Math.max(diff, Math.abs(update[e] - want[e]));
    let s = 0;
    grads.forEach((g, i) => { s += Math.abs(w[i] * g[e]); });
    scale = Math.max(scale, s);
  }
  return diff / scale;
}

export function permute<T>(items: readonly T[], order: readonly number[]): T[] {
  return order.map((i) => items[i]);
}

export { Rng };
