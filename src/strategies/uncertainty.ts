/**
 * `uncertainty` — homoscedastic uncertainty weighting. Kendall, Gal, Cipolla,
 * "Multi-Task Learning Using Uncertainty to Weigh Losses for Scene Geometry and
 * Semantics", CVPR 2018.
 *
 * Each task has a learned log-variance s_t (state). The total loss is
 *   Σ_t ½·e^(−s_t)·L_t + ½·s_t,
 * so the task weights are w_t = ½·e^(−s_t) and, for a fixed loss L, the optimum is
 * s* = log L (∂/∂s: −½e^(−s)L + ½ = 0). The variant e^(−s)·L + s has the same
 * optimum and twice the weights. Each step uses the current s for the weights,
 * then updates s by its own gradient ½ − ½·e^(−s_t)·L_t with Adam (β = 0.9, 0.999,
 * ε = 1e-8; learning rate `lr`), as if s were trained with the model.
 *
 * Options: lr > 0 (default 0.01), init (s at step 0, default 0: weights ½).
 * Scale: Σ ½e^(−s_t)·g_t — half the sum at initialisation, ½·g_t/L_t at the optimum.
 * A non-finite loss leaves its task's s unchanged.
 */

import { weighted } from './gram.js';
import { float64Adam } from '../optim/adam.js';
import { requireLosses } from './losses.js';
import type { GradientStrategy } from './types.js';

export interface UncertaintyState {
  /** Log-variances s_t. */
  s: Float64Array;
  /** Adam moments of s and the number of Adam steps taken. */
  m: Float64Array;
  v: Float64Array;
  t: number;
}

/** The optimizer's own Adam rule (PyTorch's defaults), on float64. */
const ADAM = float64Adam();

export const uncertainty: GradientStrategy<UncertaintyState, { lr: number; init: number }> = {
  name: 'uncertainty',
  summary: 'Learned per-task log-variances s: loss ½e^(−s)·L + ½s (weights ½e^(−s), optimum s = log L)',
  citation: 'Kendall, Gal, Cipolla, "Multi-Task Learning Using Uncertainty to Weigh Losses for Scene Geometry and Semantics", CVPR 2018',
  scale: 'Σ ½e^(−s_t) g_t (half the sum at s = 0)',
  kind: 'weighting',
  gramOnly: true,
  seeded: false,
  needsLosses: true,
  defaults: { lr: 0.01, init: 0 },
  options: {
    lr: { type: 'number', above: 0, doc: 'Adam learning rate of the log-variances' },
    init: { type: 'number', doc: 'initial log-variance of every task' },
  },
  init: (tasks, _length, options) => ({
    s: new Float64Array(tasks).fill(options.init),
    m: new Float64Array(tasks),
    v: new Float64Array(tasks),
    t: 0,
  }),
  combine(input, state, options, out) {
    const T = input.grads.length;
    const losses = requireLosses('uncertainty', input.losses, T);
    const weights = state.s.map((s) => 0.5 * Math.exp(-s));
    const s = Float64Array.from(state.s);
    const m = Float64Array.from(state.m);
    const v = Float64Array.from(state.v);
    const grad = new Float64Array(T);
    for (let i = 0; i < T; i++) {
      grad[i] = Number.isFinite(losses[i]) ? 0.5 - 0.5 * Math.exp(-s[i]) * losses[i] : 0;
    }
    const frozen = s.slice();
    ADAM.update(s, grad, { m, v }, state.t + 1, options.lr);
    for (let i = 0; i < T; i++) if (!Number.isFinite(losses[i])) s[i] = frozen[i];
    return weighted(input.kernels, input.grads, weights, out, { s, m, v, t: state.t + 1 });
  },
};
