/**
 * The two passes over the gradients that a Gramian-based strategy makes: the
 * Gramian G = [g_i·g_j] (float64 accumulation, T(T+1)/2 dot products) and the
 * final weighted sum Σ w_i·g_i. Everything in between works on T×T float64 data.
 */

import type { Kernels } from '../kernels/types.js';
import type { CombineResult, GradientStrategy } from './types.js';

/**
 * out[i·T + j] = g_i·g_j for the T gradients (each dot accumulated in float64). out needs T² elements.
 * With `share`, only the dots p (counted row by row, j ≤ i) with p mod share.of = share.part are
 * computed and the other entries left alone: threads sharing a Gramian out, the same bits.
 */
export function computeGram(kernels: Kernels, grads: readonly Float32Array[], out: Float64Array,
  share = { part: 0, of: 1 }): Float64Array {
  const T = grads.length;
  if (out.length < T * T) throw new RangeError(`computeGram: out has ${out.length} elements, needs ${T * T}`);
  const n = T === 0 ? 0 : grads[0].length;
  for (let i = 0, p = 0; i < T; i++) {
    for (let j = 0; j <= i; j++, p++) {
      if (p % share.of !== share.part) continue;
      const d = kernels.dot(n, grads[i], grads[j]);
      out[i * T + j] = d;
      out[j * T + i] = d;
    }
  }
  return out;
}

function overlaps(a: Float32Array, b: Float32Array): boolean {
  if (a.buffer !== b.buffer) return false;
  const a0 = a.byteOffset; const a1 = a0 + a.byteLength;
  const b0 = b.byteOffset; const b1 = b0 + b.byteLength;
  return a0 < b1 && b0 < a1;
}

/** Throws when `out` is too short or overlaps a gradient (the weighted sum would read what it wrote). */
export function checkOut(grads: readonly Float32Array[], out: Float32Array): void {
  const n = grads.length === 0 ? 0 : grads[0].length;
  if (out.length < n) throw new RangeError(`strategy output has ${out.length} elements, needs ${n}`);
  for (let i = 0; i < grads.length; i++) {
    if (overlaps(grads[i], out)) throw new RangeError(`strategy output overlaps the gradient of task ${i}`);
  }
}

/**
 * out[0..n) = Σ_i weights[i]·g_i, accumulated in float32 in task order (deterministic).
 * Tasks with weight 0 are skipped.
 */
export function weightedSum(kernels: Kernels, grads: readonly Float32Array[], weights: ArrayLike<number>,
  out: Float32Array): Float32Array {
  checkOut(grads, out);
  const n = grads.length === 0 ? 0 : grads[0].length;
  out.fill(0, 0, n);
  for (let i = 0; i < grads.length; i++) {
    const w = weights[i];
    if (w !== 0) kernels.axpy(n, w, grads[i], out);
  }
  return out;
}

/** The result of a strategy whose update is Σ w_i·g_i: one weighted sum, weights reported. */
export function weighted<S>(kernels: Kernels, grads: readonly Float32Array[], weights: Float64Array,
  out: Float32Array, state: S): CombineResult<S> {
  weightedSum(kernels, grads, weights, out);
  return { update: out, weights, state };
}

/** What describes a strategy in the registry and the README. */
export interface StrategyMeta {
  name: string;
  summary: string;
  citation: string;
  scale: string;
}

/**
 * A stateless combination without options whose update is Σ w_i·g_i with
 * weights computed from the Gramian alone (mean, UPGrad, DualProj, IMTL-G,
 * Aligned-MTL, ...): the weights function is the whole method.
 */
export function gramWeighting(meta: StrategyMeta, weightsOf: (gram: Float64Array, tasks: number) => Float64Array):
  GradientStrategy<null, Record<string, never>> {
  return {
    ...meta,
    kind: 'combination',
    gramOnly: true,
    seeded: false,
    needsLosses: false,
    defaults: {},
    options: {},
    init: () => null,
    combine(input, state, _options, out) {
      return weighted(input.kernels, input.grads, weightsOf(input.gram, input.grads.length), out, state);
    },
  };
}
