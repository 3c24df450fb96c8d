/**
 * torch.optim.SGD (single-tensor path), per element:
 *   d = g + wd·p
 *   momentum > 0:  b = d on the first step, else b = μ·b + (1 − dampening)·d
 *                  d = nesterov ? d + μ·b : b
 *   p = p − lr·d
 * The arithmetic is Kernels.sgdStep; this class owns the momentum buffer.
 */

import type { Kernels, SgdHyper } from '../kernels/types.js';
import type { ResolvedOptimizerConfig } from './config.js';
import { SegmentOptimizer, type Segment } from './optimizer.js';

const NO_BUFFER = new Float32Array(0);

export class Sgd extends SegmentOptimizer {
  private readonly momentumViews: Float32Array[] | null;
  private readonly hyper: SgdHyper;

  constructor(config: ResolvedOptimizerConfig, segments: readonly Segment[], kernels: Kernels) {
    super(config, segments, kernels);
    this.momentumViews = config.momentum > 0 ? this.addBuffer('momentum') : null;
    this.hyper = {
      lr: config.lr,
      momentum: config.momentum,
      dampening: config.dampening,
      nesterov: config.nesterov,
      weightDecay: config.weightDecay,
      firstStep: true,
    };
  }

  step(params: Float32Array, grad: Float32Array, lr?: number): void {
    const h = this.hyper;
    h.lr = this.resolveLr(lr);
    h.firstStep = this.steps === 0;
    const p = this.paramViews.of(params);
    const g = this.gradViews.of(grad);
    const buf = this.momentumViews;
    for (let i = 0; i < p.length; i++) {
      this.kernels.sgdStep(p[i].length, p[i], g[i], buf ? buf[i] : NO_BUFFER, h);
    }
    this.steps++;
  }
}
