/** `mean`: update = (1/T)·Σ_i g_i — the gradient of the mean loss; `sum` ÷ T. */

import { weighted } from './gram.js';
import type { GradientStrategy } from './types.js';

export const mean: GradientStrategy<null, Record<string, never>> = {
  name: 'mean',
  summary: 'Mean of the task gradients (the gradient of the mean loss)',
  citation: 'Baseline (equal weighting, averaged)',
  scale: 'mean: Σ g_i / T',
  kind: 'combination',
  gramOnly: true,
  seeded: false,
  needsLosses: false,
  defaults: {},
  options: {},
  init: () => null,
  combine(input, state, _options, out) {
    const T = input.grads.length;
    return weighted(input.kernels, input.grads, new Float64Array(T).fill(1 / T), out, state);
  },
};
