/**
 * torch.optim.SGD (single-tensor path) as an update rule, per element:
 *   d = g + wd·p
 *   momentum > 0:  b = d on the first step, else b = μ·b + (1 − dampening)·d
 *                  d = nesterov ? d + μ·b : b
 *   p = p − lr·d
 * State buffer: `momentum` (only with momentum > 0). The arithmetic is
 * Kernels.sgdStep (sgdStepSummed for two shards' gradients at once).
 */

import type { Kernels, SgdHyper } from '../kernels/types.js';
import type { ResolvedOptimizerConfig } from './config.js';
import type { UpdateRule } from './rule.js';

const NO_BUFFER = new Float32Array(0);

export function sgdRule(config: ResolvedOptimizerConfig, kernels: Kernels): UpdateRule {
  const hyper: SgdHyper = {
    lr: 0,
    momentum: config.momentum,
    dampening: config.dampening,
    nesterov: config.nesterov,
    weightDecay: config.weightDecay,
    firstStep: true,
  };
  const at = (step: number, lr: number): SgdHyper => {
    hyper.lr = lr;
    hyper.firstStep = step === 1;
    return hyper;
  };
  return {
    bufferNames: config.momentum > 0 ? ['momentum'] : [],
    update(param, grad, buffers, step, lr) {
      kernels.sgdStep(param.length, param, grad, buffers.momentum ?? NO_BUFFER, at(step, lr));
    },
    updateSummed(param, grad0, grad1, buffers, step, lr) {
      kernels.sgdStepSummed(param.length, param, grad0, grad1, buffers.momentum ?? NO_BUFFER, at(step, lr));
    },
  };
}
