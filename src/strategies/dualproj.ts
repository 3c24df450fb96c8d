/**
 * `dualproj` — DualProj. Quinton & Rey, "Jacobian Descent for Multi-Objective
 * Optimization", arXiv 2406.16232, 2024 (TorchJD), after the dual-cone projection
 * of Lopez-Paz & Ranzato's GEM (NeurIPS 2017).
 *
 * The sum of the task gradients is projected onto the dual cone
 * {x : g_j·x ≥ 0 ∀j} (a small box-constrained QP on G solved exactly, see
 * dual-cone.ts): the closest vector to Σ g_i that conflicts with no task.
 *
 * Scale: sum — equals Σ g_i whenever Σ g_i already conflicts with no task (e.g.
 * no pair conflicts). TorchJD's default preference vector 1/T projects the mean,
 * i.e. this ÷ T.
 */

import { projectWeights } from './dual-cone.js';
import { gramWeighting } from './gram.js';

export const dualproj = gramWeighting({
  name: 'dualproj',
  summary: 'Project the sum of the task gradients onto the dual cone of all of them (never conflicts)',
  citation: 'Quinton & Rey, "Jacobian Descent for Multi-Objective Optimization", arXiv 2406.16232, 2024',
  scale: 'sum: Σ g_i when it conflicts with no task (TorchJD default = this ÷ T)',
}, (gram, T) => projectWeights(gram, T, new Float64Array(T).fill(1)));
