/**
 * `sum`: the baseline, update = Σ_i g_i — the gradient of the summed loss Σ_i L_i,
 * what one backward pass over the added task losses gives. Every other strategy
 * states its scale relative to this one.
 */

import { weighted } from './gram.js';
import type { GradientStrategy } from './types.js';

export const sum: GradientStrategy<null, Record<string, never>> = {
  name: 'sum',
  summary: 'Plain sum of the task gradients (the gradient of Σ L_i)',
  citation: 'Baseline (equal weighting / linear scalarisation)',
  scale: 'sum: Σ g_i',
  kind: 'combination',
  gramOnly: true,
  seeded: false,
  needsLosses: false,
  defaults: {},
  options: {},
  init: () => null,
  combine(input, state, _options, out) {
    return weighted(input.kernels, input.grads, new Float64Array(input.grads.length).fill(1), out, state);
  },
};
