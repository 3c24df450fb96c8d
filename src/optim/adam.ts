/**
 * torch.optim.Adam and AdamW (single-tensor path) as an update rule, per
 * element, t = step (1-based):
 *   Adam:  g = g + wd·p                 AdamW:  p = p·(1 − lr·wd)
 *   m = β1·m + (1 − β1)·g
 *   v = β2·v + (1 − β2)·g²
 *   p = p − (lr / (1 − β1^t)) · m / (√v / √(1 − β2^t) + eps)
 * State buffers: the moments m and v. The arithmetic is Kernels.adamStep for
 * the parameters; the loss weightings run the same formula in float64.
 */

import { adamStep } from '../kernels/js.js';
import type { AdamHyper } from '../kernels/types.js';
import type { ResolvedOptimizerConfig } from './config.js';
import type { FloatArray, UpdateRule } from './rule.js';

/** n elements of one Adam step on arrays of type A. */
export type AdamArithmetic<A extends FloatArray> = (n: number, param: A, grad: A, m: A, v: A, h: AdamHyper) => void;
/** The same on the gradient grad0 + grad1 (Kernels.adamStepSummed). */
export type AdamSummedArithmetic<A extends FloatArray> = (n: number, param: A, grad0: A, grad1: A, m: A, v: A, h: AdamHyper) => void;

export type AdamSettings = Pick<ResolvedOptimizerConfig, 'name' | 'betas' | 'eps' | 'weightDecay'>;

export function adamRule<A extends FloatArray>(config: AdamSettings, arithmetic: AdamArithmetic<A>,
  summed?: AdamSummedArithmetic<A>): UpdateRule<A> {
  const hyper: AdamHyper = {
    lr: 0,
    beta1: config.betas[0],
    beta2: config.betas[1],
    eps: config.eps,
    weightDecay: config.weightDecay,
    decoupled: config.name === 'adamw',
    step: 1,
  };
  const at = (step: number, lr: number): AdamHyper => {
    hyper.lr = lr;
    hyper.step = step;
    return hyper;
  };
  const rule: UpdateRule<A> = {
    bufferNames: ['m', 'v'],
    update(param, grad, buffers, step, lr) {
      arithmetic(param.length, param, grad, buffers.m, buffers.v, at(step, lr));
    },
  };
  if (summed) {
    rule.updateSummed = (param, grad0, grad1, buffers, step, lr) =>
      summed(param.length, param, grad0, grad1, buffers.m, buffers.v, at(step, lr));
  }
  return rule;
}

/** PyTorch's default Adam (β = 0.9, 0.999, ε = 1e-8, no weight decay) on float64 arrays. */
export function float64Adam(): UpdateRule<Float64Array> {
  return adamRule({ name: 'adam', betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0 }, adamStep);
}
