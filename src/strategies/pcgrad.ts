/**
 * `pcgrad` — Projecting Conflicting Gradients. Yu, Kumar, Gupta, Levine, Hausman,
 * Finn, "Gradient Surgery for Multi-Task Learning", NeurIPS 2020.
 *
 * For each task i, in a random order of the other tasks j (drawn from the step's
 * rng, a fresh order per i): when g_i^pc·g_j < 0, project g_i^pc onto the normal
 * plane of the ORIGINAL g_j: g_i^pc ← g_i^pc − (g_i^pc·g_j / ‖g_j‖²)·g_j (the paper's
 * Algorithm 1; a task is never projected on itself). The update is Σ_i g_i^pc.
 *
 * Done from G alone: every g_i^pc is a combination Σ_k C[i,k]·g_k of the original
 * gradients, so g_i^pc·g_j = (C·G)[i,j]; the T×T coefficients C are tracked in
 * float64 and the update is one weighted sum with w_k = Σ_i C[i,k].
 *
 * Scale: sum — equals Σ g_i exactly when no pair conflicts (all g_i·g_j ≥ 0).
 * With two tasks the order does not matter.
 */

import type { Rng } from '../util/rng.js';
import { weighted } from './gram.js';
import type { GradientStrategy } from './types.js';

/**
 * The gradient-surgery loop PCGrad and GradVac share: for each task i, the
 * coefficients c of its modified gradient over the original ones start at e_i
 * and are adjusted against every other task j, in a fresh random order per i;
 * the update's weights are Σ_i c.
 */
export function surgeryWeights(T: number, rng: Rng, adjust: (i: number, j: number, c: Float64Array) => void): Float64Array {
  const c = new Float64Array(T);
  const weights = new Float64Array(T);
  const order: number[] = [];
  for (let i = 0; i < T; i++) {
    c.fill(0);
    c[i] = 1;
    order.length = 0;
    for (let j = 0; j < T; j++) if (j !== i) order.push(j);
    rng.shuffle(order);
    for (const j of order) adjust(i, j, c);
    for (let k = 0; k < T; k++) weights[k] += c[k];
  }
  return weights;
}

export const pcgrad: GradientStrategy<null, Record<string, never>> = {
  name: 'pcgrad',
  summary: 'Project each gradient onto the normal plane of the gradients it conflicts with, then sum',
  citation: 'Yu, Kumar, Gupta, Levine, Hausman, Finn, "Gradient Surgery for Multi-Task Learning", NeurIPS 2020',
  scale: 'sum: Σ g_i when no pair conflicts',
  kind: 'combination',
  gramOnly: true,
  seeded: true,
  needsLosses: false,
  defaults: {},
  options: {},
  init: () => null,
  combine(input, state, _options, out) {
    const G = input.gram;
    const T = input.grads.length;
    const weights = surgeryWeights(T, input.rng, (_i, j, c) => {
      let dot = 0; // g_i^pc · g_j
      for (let k = 0; k < T; k++) dot += c[k] * G[k * T + j];
      const gjj = G[j * T + j];
      if (dot < 0 && gjj > 0) c[j] -= dot / gjj;
    });
    return weighted(input.kernels, input.grads, weights, out, state);
  },
};
