/**
 * `fairgrad` — FairGrad. Ban & Ji, "Fair Resource Allocation in Multi-Task
 * Learning", ICML 2024.
 *
 * α-fair allocation of the update d = Σ w_i g_i: w > 0 solves G·w = w^(−1/α)
 * (elementwise), i.e. g_i·d = w_i^(−1/α). α = 1 is proportional fairness (the
 * Nash-MTL equation), α → ∞ approaches max-min fairness. The authors solve the
 * system with scipy's least_squares on the raw G; here it is solved exactly by
 * damped Newton on the strictly convex ½wᵀGw − Σ h(w_i), h′(w) = w^(−1/α)
 * (`powerBalance` with p = 1/α, linalg.ts). Tasks with a zero gradient get weight 0.
 *
 * Options: alpha > 0 (default 1, the authors' default); maxNorm ≥ 0 (default 1,
 * the authors' max_norm: the update is scaled down to that norm when longer;
 * 0 disables).
 *
 * Scale: from the equation — scaling every g_i by s scales d by s^((1−α)/(1+α))
 * (scale-free for α = 1: Σ g_i/‖g_i‖ for orthogonal gradients); then clipped to
 * norm maxNorm.
 */

import { weighted } from './gram.js';
import { powerBalance } from './linalg.js';
import { clipWeights } from './nashmtl.js';
import type { GradientStrategy } from './types.js';

export const fairgrad: GradientStrategy<null, { alpha: number; maxNorm: number }> = {
  name: 'fairgrad',
  summary: 'α-fair allocation: weights w > 0 with G·w = w^(−1/α)',
  citation: 'Ban & Ji, "Fair Resource Allocation in Multi-Task Learning", ICML 2024',
  scale: 'g_i·d = w_i^(−1/α) (α = 1: scale-free like Nash-MTL), norm clipped to maxNorm = 1',
  kind: 'combination',
  gramOnly: true,
  seeded: false,
  needsLosses: false,
  defaults: { alpha: 1, maxNorm: 1 },
  options: {
    alpha: { type: 'number', above: 0, doc: 'fairness: 1 proportional (Nash), larger → closer to max-min' },
    maxNorm: { type: 'number', min: 0, doc: 'largest norm of the update (0: no limit)' },
  },
  init: () => null,
  combine(input, state, options, out) {
    const T = input.grads.length;
    const w = clipWeights(input.gram, T, powerBalance(input.gram, T, 1 / options.alpha), options.maxNorm);
    return weighted(input.kernels, input.grads, w, out, state);
  },
};
