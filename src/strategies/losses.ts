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
