/**
 * `nashmtl` — Nash-MTL. Navon, Shamsian, Achituve, Maron, Kawaguchi, Chechik,
 * Fetaya, "Multi-Task Learning as a Bargaining Game", ICML 2022.
 *
 * The Nash bargaining solution d = Σ α_i g_i, where α > 0 solves G·α = 1/α
 * (elementwise; the paper's Theorem 5.1), i.e. g_i·d = 1/α_i for every task.
 * Solved exactly by damped Newton on the strictly convex ½αᵀGα − Σ log α_i
 * (`powerBalance` with p = 1, linalg.ts), without an external solver; the
 * authors instead run 20 sequential convex approximations with cvxpy on G/‖G‖_F,
 * whose constraints reintroduce ‖G‖_F, so both target the same equation on the
 * raw G. Tasks with a zero gradient get weight 0.
 *
 * Option maxNorm ≥ 0 (default 1, the authors' and TorchJD's max_norm): when
 * ‖d‖ = √(αᵀGα) exceeds it, α is scaled down so that ‖d‖ = maxNorm (the authors
 * clip the shared gradient's norm, which is the same); 0 disables.
 *
 * Scale: independent of the gradients' scale (scaling every g_i by s scales α by
 * 1/s): for orthogonal gradients d = Σ g_i/‖g_i‖; then clipped to norm maxNorm.
 */

import { weighted } from './gram.js';
import { powerBalance, quadForm } from './linalg.js';
import type { GradientStrategy } from './types.js';

/** Scales w in place so that ‖Σ w_i g_i‖ = √(wᵀGw) ≤ maxNorm (maxNorm 0: no limit). */
export function clipWeights(G: Float64Array, T: number, w: Float64Array, maxNorm: number): Float64Array {
  if (maxNorm > 0) {
    const norm = Math.sqrt(Math.max(quadForm(G, w, w, T), 0));
    if (norm > maxNorm) for (let i = 0; i < T; i++) w[i] *= maxNorm / norm;
  }
  return w;
}

export const nashmtl: GradientStrategy<null, { maxNorm: number }> = {
  name: 'nashmtl',
  summary: 'Nash bargaining solution: weights α > 0 with G·α = 1/α',
  citation: 'Navon, Shamsian, Achituve, Maron, Kawaguchi, Chechik, Fetaya, "Multi-Task Learning as a Bargaining Game", ICML 2022',
  scale: 'scale-free (g_i·d = 1/α_i; Σ g_i/‖g_i‖ for orthogonal gradients), norm clipped to maxNorm = 1',
  kind: 'combination',
  gramOnly: true,
  seeded: false,
  needsLosses: false,
  defaults: { maxNorm: 1 },
  options: {
    maxNorm: { type: 'number', min: 0, doc: 'largest norm of the update (0: no limit)' },
  },
  init: () => null,
  combine(input, state, options, out) {
    const T = input.grads.length;
    const alpha = clipWeights(input.gram, T, powerBalance(input.gram, T, 1), options.maxNorm);
    return weighted(input.kernels, input.grads, alpha, out, state);
  },
};
