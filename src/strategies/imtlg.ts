/**
 * `imtlg` — IMTL-G, the gradient half of Impartial Multi-Task Learning. Liu, Li,
 * Kuang, Xue, Chen, Yang, Liao, Zhang, "Towards Impartial Multi-task Learning",
 * ICLR 2021.
 *
 * Finds weights α with Σ α_i = 1 such that d = Σ α_i g_i has the same projection
 * on every unit task gradient u_i = g_i/‖g_i‖: d·u_i = d·u_j for all i, j. The
 * paper's closed form (α_{2..T} = g_1·Uᵀ(D·Uᵀ)⁻¹ with D, U the differences
 * g_1 − g_i, u_1 − u_i) is the same solution as the (T+1)×(T+1) bordered system
 * used here, written on the cosine matrix C_ij = G_ij/(‖g_i‖‖g_j‖) for scale:
 *   Σ_j C_ij β_j = t (all i),  Σ_j β_j/ν_j = 1,  α_j = β_j/ν_j,  ν = norms / max norm.
 * It stays regular for exactly opposite gradients (where the closed form's D·Uᵀ
 * is fine too) and, when it is singular (collinear gradients, where α is not
 * unique), the minimum-norm least-squares solution is used. Tasks with a zero
 * gradient (‖g_i‖ ≤ 1e-7·max‖g_j‖) have no direction and get weight 0.
 * Invariant to the task order. The weights may be negative.
 *
 * Scale: Σα = 1 — mean of T orthogonal equal-norm (or T equal) gradients.
 */

import { gramWeighting } from './gram.js';
import { leastSquaresMinNorm, solveLinear } from './linalg.js';

/** IMTL-G weights from the Gramian. */
export function imtlgWeights(G: Float64Array, T: number): Float64Array {
  const alpha = new Float64Array(T);
  const norms = Array.from({ length: T }, (_, i) => Math.sqrt(Math.max(G[i * T + i], 0)));
  const top = Math.max(...norms);
  if (!(top > 0)) return alpha.fill(1 / T);
  const idx: number[] = [];
  for (let i = 0; i < T; i++) if (norms[i] > 1e-7 * top) idx.push(i);
  const m = idx.length;
  if (m === 1) { alpha[idx[0]] = 1; return alpha; }
  const k = m + 1;
  const sys = new Float64Array(k * k);
  const rhs = new Float64Array(k);
  for (let r = 0; r < m; r++) {
    const i = idx[r];
    for (let c = 0; c < m; c++) {
      const j = idx[c];
      sys[r * k + c] = G[i * T + j] / (norms[i] * norms[j]);
    }
    sys[r * k + m] = -1;
    sys[m * k + r] = top / norms[i];
  }
  rhs[m] = 1;
  const sol = solveLinear(sys, rhs, k, 1e-12) ?? leastSquaresMinNorm(sys, rhs, k, k);
  for (let r = 0; r < m; r++) alpha[idx[r]] = sol[r] * top / norms[idx[r]];
  return alpha;
}

export const imtlg = gramWeighting({
  name: 'imtlg',
  summary: 'Weights summing to 1 that give the update equal projections on every unit task gradient',
  citation: 'Liu, Li, Kuang, Xue, Chen, Yang, Liao, Zhang, "Towards Impartial Multi-task Learning", ICLR 2021',
  scale: 'Σα = 1: mean of equal or orthogonal equal-norm gradients',
}, imtlgWeights);
