/**
 * `aligned_mtl` — Aligned-MTL. Senushkin, Patakin, Kuznetsov, Konushin,
 * "Independent Component Alignment for Multi-Task Learning", CVPR 2023.
 *
 * Makes the gradient system well conditioned: with G = V·Λ·Vᵀ (eigen-decomposition
 * by the float64 Jacobi solver of linalg.ts, eigenvalues below λ_max·T·ε₃₂ dropped
 * as the rank cut, ε₃₂ = 2⁻²³ since the gradients are float32), the aligned
 * gradients are the rows of B·J with B = √λ_min · V·Λ^(−1/2)·Vᵀ (λ_min the smallest
 * kept eigenvalue): orthogonal, all of norm √λ_min. The update is their sum, i.e.
 * weights α = 1ᵀB, one weighted sum over the original gradients. Invariant to the
 * task order.
 *
 * Scale: sum — equals Σ g_i for T orthogonal gradients of equal norm and for T
 * equal gradients; in general each aligned gradient has the norm of the smallest
 * singular value of the gradient matrix.
 */

import { gramWeighting } from './gram.js';
import { maxDiag, symmetricEigen } from './linalg.js';

const EPS32 = 2 ** -23;

/** Aligned-MTL weights α = 1ᵀ·√λ_min·V·Λ^(−1/2)·Vᵀ from the Gramian. */
export function alignedMtlWeights(G: Float64Array, T: number): Float64Array {
  const alpha = new Float64Array(T);
  if (!(maxDiag(G, T) > 0)) return alpha;
  const { values, vectors } = symmetricEigen(G, T);
  const cut = values[0] * T * EPS32;
  let rank = 0;
  while (rank < T && values[rank] > cut) rank++;
  const sMin = Math.sqrt(values[rank - 1]);
  // α_j = Σ_i B_ij = Σ_k √λ_min/√λ_k · (Σ_i V_ik) · V_jk
  for (let k = 0; k < rank; k++) {
    let colSum = 0;
    for (let i = 0; i < T; i++) colSum += vectors[i * T + k];
    const f = sMin / Math.sqrt(values[k]) * colSum;
    for (let j = 0; j < T; j++) alpha[j] += f * vectors[j * T + k];
  }
  return alpha;
}

export const alignedMtl = gramWeighting({
  name: 'aligned_mtl',
  summary: 'Align the task gradients into an orthogonal system of equal norms (eigen-decomposition of G), then sum',
  citation: 'Senushkin, Patakin, Kuznetsov, Konushin, "Independent Component Alignment for Multi-Task Learning", CVPR 2023',
  scale: 'sum: Σ g_i for orthogonal equal-norm or equal gradients; aligned norms = smallest singular value',
}, alignedMtlWeights);
