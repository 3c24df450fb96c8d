/** Shared helpers of the loss-weighting strategies. */

import { UserError } from '../util/errors.js';

/** The per-task losses of the step, or a UserError naming the strategy when they are missing or the wrong length. */
export function requireLosses(strategy: string, losses: Float64Array | undefined, T: number): Float64Array {
  if (losses === undefined) {
    throw new UserError(`strategy ${strategy} needs the per-task losses of each step (option "losses" of combineGradients)`);
  }
  if (losses.length !== T) {
    throw new UserError(`strategy ${strategy}: got ${losses.length} losses for ${T} tasks; expected one per task`);
  }
  return losses;
}

/** One Adam step (Kingma & Ba; bias-corrected, no weight decay) on x, in place. step is 1-based. */
export function adamStep(x: Float64Array, grad: ArrayLike<number>, m: Float64Array, v: Float64Array, step: number,
  lr: number, beta1 = 0.9, beta2 = 0.999, eps = 1e-8): void {
  const c1 = 1 - Math.pow(beta1, step);
  const c2 = 1 - Math.pow(beta2, step);
  for (let i = 0; i < x.length; i++) {
    const g = grad[i];
    m[i] = beta1 * m[i] + (1 - beta1) * g;
    v[i] = beta2 * v[i] + (1 - beta2) * g * g;
    x[i] -= lr * (m[i] / c1) / (Math.sqrt(v[i] / c2) + eps);
  }
}
