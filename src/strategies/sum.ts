/**
 * `sum`: the baseline, update = Σ_i g_i — the gradient of the summed loss Σ_i L_i,
 * what one backward pass over the added task losses gives. Every other strategy
 * states its scale relative to this one.
 */

import { gramWeighting } from './gram.js';

export const sum = gramWeighting({
  name: 'sum',
  summary: 'Plain sum of the task gradients (the gradient of Σ L_i)',
  citation: 'Baseline (equal weighting / linear scalarisation)',
  scale: 'sum: Σ g_i',
}, (_gram, T) => new Float64Array(T).fill(1));
