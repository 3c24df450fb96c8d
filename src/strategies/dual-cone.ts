/**
 * Projection onto the dual cone of the task gradients, from the Gramian — the
 * building block of UPGrad and DualProj (Quinton & Rey 2024).
 *
 * The projection of Jᵀu (J the T×n matrix of task gradients, u ∈ ℝ^T) onto the
 * dual cone {x : J·x ≥ 0} is Jᵀv with v = argmin_{v ≥ u} vᵀGv (the paper's
 * Proposition: its dual QP). With v = u + x this is the non-negative least
 * squares problem min_{x ≥ 0} ‖Jᵀx − (−Jᵀu)‖², whose normal equations need only
 * AᵀA = G and Aᵀb = −G·u: solved exactly by Lawson–Hanson (`nnls`). At the
 * solution G·v ≥ 0, i.e. every task gradient has a non-negative dot product with
 * Jᵀv, and (G·v)_i = 0 wherever v_i > u_i.
 *
 * Unlike TorchJD, no regularisation is added to G (TorchJD adds 1e-4 to the
 * normalised Gramian's diagonal so that its QP solver always succeeds; the
 * active-set solver here does not need it, and the result is exactly
 * non-conflicting up to rounding).
 */

import { matVec, nnls } from './linalg.js';

/** v = argmin_{v ≥ u} vᵀGv for the T×T Gramian G. */
export function projectWeights(G: Float64Array, T: number, u: ArrayLike<number>): Float64Array {
  const gu = matVec(G, u, T);
  for (let i = 0; i < T; i++) gu[i] = -gu[i];
  const x = nnls(G, gu, T);
  for (let i = 0; i < T; i++) x[i] += u[i];
  return x;
}
