/** `mean`: update = (1/T)·Σ_i g_i — the gradient of the mean loss; `sum` ÷ T. */

import { gramWeighting } from './gram.js';

export const mean = gramWeighting({
  name: 'mean',
  summary: 'Mean of the task gradients (the gradient of the mean loss)',
  citation: 'Baseline (equal weighting, averaged)',
  scale: 'mean: Σ g_i / T',
}, (_gram, T) => new Float64Array(T).fill(1 / T));
