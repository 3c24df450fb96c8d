/**
 * `cagrad` — Conflict-Averse Gradient descent. Liu, Liu, Jin, Stone, Liu,
 * "Conflict-Averse Gradient Descent for Multi-task Learning", NeurIPS 2021.
 *
 * With g0 = Σ g_i / T (the mean), CAGrad picks the d in the ball ‖d − g0‖ ≤ c‖g0‖
 * that maximises the worst task's improvement min_i g_i·d. Its dual is T-dimensional:
 *   w* = argmin_{w ∈ simplex} g_w·g0 + c‖g0‖·‖g_w‖,   g_w = Σ w_i g_i,
 * and d = g0 + (c‖g0‖ / ‖g_w*‖)·g_w*. Everything is read off G (g_w·g0 = wᵀG·1/T,
 * ‖g_w‖² = wᵀGw); the dual is solved by projected gradient descent on the simplex
 * (exact sort-based projection, steps bounded by the local Lipschitz constant of
 * the gradient, G scaled to unit max diagonal, until the iterate moves < 1e-13 or
 * 2000 iterations), all in float64.
 *
 * Options: c ≥ 0 (default 0.4), rescale ∈ {0, 1, 2} (default 1, the authors' and
 * LibMTL's default): the update is d (0), d / (1 + c²) (1) or d / (1 + c) (2).
 *
 * Scale: mean — c = 0 gives exactly Σ g_i / T whatever `rescale`. The ball
 * contains every d with min_i g_i·d ≥ 0 only when c ≥ 1: for c < 1 the update can
 * still conflict with a task whose gradient points away from the mean. When 0 lies
 * in the convex hull and g_w* = 0 (a Pareto-stationary point, possible for c ≥ 1),
 * the formula is 0/0 and the update is the mean.
 */

import { weighted } from './gram.js';
import { maxDiag, matVec, projectSimplex, quadForm } from './linalg.js';
import type { GradientStrategy } from './types.js';

export interface CagradOptions extends Record<string, number> {
  c: number;
  rescale: number;
}

/**
 * The dual minimiser w* over the simplex for G (T×T, scaled to unit max diagonal)
 * and κ = c‖g0‖: projected gradient descent whose step is kept below the inverse
 * of the local Lipschitz constant of the gradient, ‖∇f(w′) − ∇f(w)‖ / ‖w′ − w‖ —
 * gradient-based, so it keeps converging where f's own rounding (≈1e-16·f) can no
 * longer rank the iterates. Stops when an iterate moves < 1e-13 (or 2000 iterations).
 */
export function cagradDual(g: Float64Array, T: number, kappa: number): Float64Array {
  const b = new Float64Array(T).fill(1 / T);
  const a = matVec(g, b, T);
  const gw = new Float64Array(T);
  /** ∇f(w) = a + κ·Gw/‖g_w‖ into out; returns false at the kink g_w = 0. */
  const gradient = (w: Float64Array, out: Float64Array): boolean => {
    matVec(g, w, T, gw);
    let nn = 0;
    for (let i = 0; i < T; i++) nn += w[i] * gw[i];
    const norm = Math.sqrt(Math.max(nn, 0));
    if (norm < 1e-12) return false;
    for (let i = 0; i < T; i++) out[i] = a[i] + kappa * gw[i] / norm;
    return true;
  };
  let w = b.slice();
  let grad = new Float64Array(T);
  let next = new Float64Array(T);
  const trial = new Float64Array(T);
  if (!gradient(w, grad)) return w;
  let step = 1;
  for (let it = 0; it < 2000; it++) {
    let moved = 0;
    let ok = false;
    for (let k = 0; k < 60; k++) {
      for (let i = 0; i < T; i++) trial[i] = w[i] - step * grad[i];
      projectSimplex(trial, T, trial);
      let dd = 0;
      moved = 0;
      for (let i = 0; i < T; i++) {
        const d = trial[i] - w[i];
        dd += d * d;
        moved = Math.max(moved, Math.abs(d));
      }
      if (moved === 0) return w;
      if (!gradient(trial, next)) return trial.slice(); // at the kink g_w = 0: the caller falls back to the mean
      let gg = 0;
      for (let i = 0; i < T; i++) gg += (next[i] - grad[i]) ** 2;
      const lipschitz = Math.sqrt(gg / dd);
      if (lipschitz * step <= 1) { ok = true; break; }
      step = Math.min(0.5 * step, 0.9 / lipschitz);
    }
    if (!ok) break;
    w = trial.slice();
    [grad, next] = [next, grad];
    if (moved <= 1e-13) break;
    step *= 2;
  }
  return w;
}

export const cagrad: GradientStrategy<null, CagradOptions> = {
  name: 'cagrad',
  summary: 'Maximise the worst task improvement within a ball of radius c·‖mean‖ around the mean gradient',
  citation: 'Liu, Liu, Jin, Stone, Liu, "Conflict-Averse Gradient Descent for Multi-task Learning", NeurIPS 2021',
  scale: 'mean: c = 0 gives Σ g_i / T; divided by 1 + c² (rescale 1, default)',
  kind: 'combination',
  gramOnly: true,
  seeded: false,
  needsLosses: false,
  defaults: { c: 0.4, rescale: 1 },
  options: {
    c: { type: 'number', min: 0, doc: 'radius of the ball around the mean gradient, relative to its norm' },
    rescale: { type: 'integer', min: 0, max: 2, doc: 'divide the update by 1 (0), 1 + c² (1) or 1 + c (2)' },
  },
  init: () => null,
  combine(input, state, options, out) {
    const { gram: G } = input;
    const T = input.grads.length;
    const { c, rescale } = options;
    const divisor = rescale === 1 ? 1 + c * c : rescale === 2 ? 1 + c : 1;
    const weights = new Float64Array(T).fill(1 / T);
    const top = maxDiag(G, T);
    if (c > 0 && top > 0) {
      const g = Float64Array.from(G.subarray(0, T * T), (v) => v / top);
      let g0sq = 0;
      for (let i = 0; i < T * T; i++) g0sq += g[i];
      g0sq /= T * T;
      const g0 = Math.sqrt(Math.max(g0sq, 0));
      if (g0 > 0) {
        const w = cagradDual(g, T, c * g0);
        const gwNorm = Math.sqrt(Math.max(quadForm(g, w, w, T), 0));
        if (gwNorm >= 1e-12) {
          const lambda = c * g0 / gwNorm;
          for (let i = 0; i < T; i++) weights[i] += lambda * w[i];
        }
      }
    }
    for (let i = 0; i < T; i++) weights[i] /= divisor;
    return weighted(input.kernels, input.grads, weights, out, state);
  },
};
