/**
 * `mgda` — Multiple-Gradient Descent Algorithm. Sener & Koltun, "Multi-Task
 * Learning as Multi-Objective Optimization", NeurIPS 2018 (after Désidéri,
 * "Multiple-gradient descent algorithm (MGDA) for multiobjective optimization",
 * Comptes Rendus Mathématique, 2012).
 *
 * The update is the min-norm point of the convex hull of the task gradients,
 * d = Σ λ_i g_i with λ = argmin_{λ ∈ simplex} ‖Σ λ_i g_i‖² (solved on G, see
 * `minNormInHull`: closed form for two tasks, Frank–Wolfe otherwise). At the
 * solution g_i·d ≥ ‖d‖² for every task, with equality where λ_i > 0, so d
 * decreases every task (or is 0 at a Pareto-stationary point). No gradient
 * normalisation (Sener & Koltun's "none"; LibMTL's default).
 *
 * Scale: the min-norm vector itself, weights summing to 1 — for T orthogonal
 * gradients of equal norm (or T equal gradients) that is the mean Σ g_i / T.
 * Not rescaled by T.
 */

import { gramWeighting } from './gram.js';
import { minNormInHull } from './linalg.js';

export const mgda = gramWeighting({
  name: 'mgda',
  summary: 'Min-norm point of the convex hull of the task gradients (common descent direction)',
  citation: 'Sener & Koltun, "Multi-Task Learning as Multi-Objective Optimization", NeurIPS 2018; Désidéri, C. R. Math. 2012',
  scale: 'min-norm vector, Σλ = 1 (mean of equal or orthogonal equal-norm gradients)',
}, minNormInHull);
