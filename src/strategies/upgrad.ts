/**
 * `upgrad` — Unconflicting Projection of Gradients. Quinton & Rey, "Jacobian
 * Descent for Multi-Objective Optimization", arXiv 2406.16232, 2024 (TorchJD).
 *
 * Each task gradient g_i is projected onto the dual cone of all of them,
 * {x : g_j·x ≥ 0 ∀j} (see dual-cone.ts: a small box-constrained QP on G solved
 * exactly), and the projections are added. The update therefore never conflicts
 * with any task (g_j·d ≥ 0), is invariant to the task order, positively
 * homogeneous (scaling every gradient by s > 0 scales d by s) and equals Σ g_i
 * when no pair conflicts (each g_i is then already in the cone).
 *
 * Scale: sum — the sum of the projections. TorchJD's default preference vector
 * 1/T gives the mean, i.e. this ÷ T.
 */

import { projectWeights } from './dual-cone.js';
import { gramWeighting } from './gram.js';

/** UPGrad weights Σ_i argmin_{v ≥ e_i} vᵀGv. */
export function upgradWeights(G: Float64Array, T: number): Float64Array {
  const weights = new Float64Array(T);
  const e = new Float64Array(T);
  for (let i = 0; i < T; i++) {
    e.fill(0);
    e[i] = 1;
    const v = projectWeights(G, T, e);
    for (let k = 0; k < T; k++) weights[k] += v[k];
  }
  return weights;
}

export const upgrad = gramWeighting({
  name: 'upgrad',
  summary: 'Project each task gradient onto the dual cone of all of them (never conflicts), then sum',
  citation: 'Quinton & Rey, "Jacobian Descent for Multi-Objective Optimization", arXiv 2406.16232, 2024',
  scale: 'sum: Σ g_i when no pair conflicts (TorchJD default = this ÷ T)',
}, upgradWeights);
