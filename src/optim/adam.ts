/**
 * torch.optim.Adam and AdamW (single-tensor path), per element, t = step (1-based):
 *   Adam:  g = g + wd·p                 AdamW:  p = p·(1 − lr·wd)
 *   m = β1·m + (1 − β1)·g
 *   v = β2·v + (1 − β2)·g²
 *   p = p − (lr / (1 − β1^t)) · m / (√v / √(1 − β2^t) + eps)
 * The arithmetic is Kernels.adamStep; this class owns the moment buffers m, v.
 */

import type { AdamHyper, Kernels } from '../kernels/types.js';
import type { ResolvedOptimizerConfig } from './config.js';
import { SegmentOptimizer, type Segment } from './optimizer.js';

export class Adam extends SegmentOptimizer {
  private readonly m: Float32Array[];
  private readonly v: Float32Array[];
  private readonly hyper: AdamHyper;

  constructor(config: ResolvedOptimizerConfig, segments: readonly Segment[], kernels: Kernels) {
    super(config, segments, kernels);
    this.m = this.addBuffer('m');
    this.v = this.addBuffer('v');
    this.hyper = {
      lr: config.lr,
      beta1: config.betas[0],
      beta2: config.betas[1],
      eps: config.eps,
      weightDecay: config.weightDecay,
      decoupled: config.name === 'adamw',
      step: 1,
    };
  }

  step(params: Float32Array, grad: Float32Array, lr?: number): void {
    const h = this.hyper;
    h.lr = this.resolveLr(lr);
    h.step = this.steps + 1;
    const p = this.paramViews.of(params);
    const g = this.gradViews.of(grad);
    for (let i = 0; i < p.length; i++) {
      this.kernels.adamStep(p[i].length, p[i], g[i], this.m[i], this.v[i], h);
    }
    this.steps++;
  }
}
