/**
 * `rlw` — Random Loss Weighting. Lin, Ye, Xu, Shen, Zhang, Tsang, "Reasonable
 * Effectiveness of Random Weighting: A Litmus Test for Multi-Task Learning",
 * TMLR 2022 (arXiv 2111.10603, 2021).
 *
 * Each step draws z_t ~ N(0, 1) per task from the step's rng (Box–Muller, in task
 * order) and uses w = T·softmax(z).
 *
 * Scale: weights sum to T, so E[w_t] = 1 and the update is the sum in
 * expectation (LibMTL's weights sum to 1: this × 1/T).
 */

import { weighted } from './gram.js';
import type { GradientStrategy } from './types.js';
import type { Rng } from '../util/rng.js';

/** A standard normal sample (Box–Muller, one of the pair). */
export function normal(rng: Rng): number {
  const u = 1 - rng.next(); // (0, 1]
  const v = rng.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

export const rlw: GradientStrategy<null, Record<string, never>> = {
  name: 'rlw',
  summary: 'Random task weights each step: T·softmax of standard normal samples',
  citation: 'Lin, Ye, Xu, Shen, Zhang, Tsang, "Reasonable Effectiveness of Random Weighting: A Litmus Test for Multi-Task Learning", TMLR 2022',
  scale: 'weights sum to T (sum in expectation)',
  kind: 'weighting',
  gramOnly: true,
  seeded: true,
  needsLosses: false,
  defaults: {},
  options: {},
  init: () => null,
  combine(input, state, _options, out) {
    const T = input.grads.length;
    const z = new Float64Array(T);
    let top = -Infinity;
    for (let i = 0; i < T; i++) { z[i] = normal(input.rng); top = Math.max(top, z[i]); }
    let sum = 0;
    for (let i = 0; i < T; i++) { z[i] = Math.exp(z[i] - top); sum += z[i]; }
    for (let i = 0; i < T; i++) z[i] *= T / sum;
    return weighted(input.kernels, input.grads, z, out, state);
  },
};
