/**
 * `gradvac` — Gradient Vaccine. Wang, Tsvetkov, Firat, Cao, "Gradient Vaccine:
 * Investigating and Improving Multi-task Optimization in Massively Multilingual
 * Models", ICLR 2021.
 *
 * Keeps an EMA target φ̂_ij of the cosine similarity of each ordered task pair
 * (state, T×T, starting at 0). For each task i, in a random order of the other
 * tasks j (from the step's rng): with φ_ij = cos(g_i^vac, g_j) (g_j original),
 * when φ_ij < φ̂_ij, add to g_i^vac the multiple of g_j that raises the cosine
 * to exactly φ̂_ij:
 *   g_i^vac += ‖g_i^vac‖·(φ̂_ij·√(1−φ_ij²) − φ_ij·√(1−φ̂_ij²)) / (‖g_j‖·√(1−φ̂_ij²)) · g_j,
 * then φ̂_ij ← (1−β)·φ̂_ij + β·φ_ij (φ_ij measured before the adjustment, as in the
 * paper's Algorithm 1 and LibMTL). The update is Σ_i g_i^vac. With φ̂ = 0 this is
 * exactly PCGrad.
 *
 * Applied to the whole shared-parameter vector (LibMTL's "whole model" grouping;
 * the paper also applies it per layer). Like PCGrad it is done from G alone by
 * tracking each g_i^vac as a combination of the original gradients.
 *
 * Option β ∈ (0, 1] (default 0.01, the paper's value; LibMTL defaults to 0.5).
 * Scale: sum — equals Σ g_i when every pair's cosine is at least its target (always
 * on the first step when no pair conflicts).
 */

import { weighted } from './gram.js';
import { surgeryWeights } from './pcgrad.js';
import type { GradientStrategy } from './types.js';

export interface GradvacState {
  /** T×T EMA targets φ̂[i·T + j] of cos(g_i, g_j) (diagonal unused). */
  targets: Float64Array;
}

export const gradvac: GradientStrategy<GradvacState, { beta: number }> = {
  name: 'gradvac',
  summary: 'Raise each pair\'s gradient cosine to an EMA target of past cosines (PCGrad when targets are 0), then sum',
  citation: 'Wang, Tsvetkov, Firat, Cao, "Gradient Vaccine: Investigating and Improving Multi-task Optimization in Massively Multilingual Models", ICLR 2021',
  scale: 'sum: Σ g_i when every pair\'s cosine is ≥ its target',
  kind: 'combination',
  gramOnly: true,
  seeded: true,
  needsLosses: false,
  defaults: { beta: 0.01 },
  options: {
    beta: { type: 'number', above: 0, max: 1, doc: 'EMA rate of the target cosines' },
  },
  init: (tasks) => ({ targets: new Float64Array(tasks * tasks) }),
  combine(input, state, options, out) {
    const G = input.gram;
    const T = input.grads.length;
    const beta = options.beta;
    const targets = Float64Array.from(state.targets);
    const weights = surgeryWeights(T, input.rng, (i, j, c) => {
      const gjj = G[j * T + j];
      let dot = 0; // g_i^vac · g_j
      let nn = 0; // ‖g_i^vac‖²
      for (let k = 0; k < T; k++) {
        dot += c[k] * G[k * T + j];
        let row = 0;
        for (let l = 0; l < T; l++) row += G[k * T + l] * c[l];
        nn += c[k] * row;
      }
      if (!(nn > 0 && gjj > 0)) return; // no direction: no cosine
      const rho = Math.max(-1, Math.min(1, dot / Math.sqrt(nn * gjj)));
      const phi = targets[i * T + j];
      const sinPhi = Math.sqrt(Math.max(0, 1 - phi * phi));
      if (rho < phi && sinPhi > 0) {
        c[j] += Math.sqrt(nn) * (phi * Math.sqrt(Math.max(0, 1 - rho * rho)) - rho * sinPhi)
          / (Math.sqrt(gjj) * sinPhi);
      }
      targets[i * T + j] = (1 - beta) * phi + beta * rho;
    });
    return weighted(input.kernels, input.grads, weights, out, { targets });
  },
};
