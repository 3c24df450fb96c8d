/**
 * `gradnorm` — GradNorm. Chen, Badrinarayanan, Lee, Rabinovich, "GradNorm:
 * Gradient Normalization for Adaptive Loss Balancing in Deep Multitask
 * Networks", ICML 2018.
 *
 * Learned task weights w (state, starting at 1). Each step, with n_i = ‖∇_W L_i‖
 * the norm of task i's gradient on the last shared layer W:
 *   G_i = w_i·n_i,  Ḡ = mean_i G_i,  L̃_i = L_i(t)/L_i(0),  r_i = L̃_i / mean_j L̃_j,
 *   target_i = Ḡ·r_i^α  (held constant: no gradient through it),
 *   L_grad = Σ_i |G_i − target_i|,  ∂L_grad/∂w_i = sign(G_i − target_i)·n_i.
 * The update uses the current w (Σ w_i g_i); then w takes one Adam step on L_grad
 * (learning rate `lr`), is kept ≥ 1e-6 and renormalised to Σ w_i = T, as in the
 * paper's Algorithm 1. L(0) is the loss vector of the first call.
 *
 * n_i comes from `CombineInput.lastSharedGram` (the Gramian over the last shared
 * layer's parameters — only its diagonal is read) when the caller provides it, as
 * the paper prescribes; without it, from the diagonal of `gram`, i.e. the norm over
 * all shared parameters (a stand-in: cheaper to wire, not the paper's choice).
 *
 * Options: alpha ≥ 0 (default 1.5, LibMTL's), lr > 0 (default 0.01).
 * Scale: weights sum to T (= sum at the start).
 */

import { UserError } from '../util/errors.js';
import { weighted } from './gram.js';
import { float64Adam } from '../optim/adam.js';
import { requireLosses } from './losses.js';
import type { GradientStrategy } from './types.js';

export interface GradnormState {
  /** Task weights (Σ = T). */
  w: Float64Array;
  /** L(0), the losses of the first step (empty until then). */
  initial: Float64Array;
  /** Adam moments of w and the number of Adam steps taken. */
  m: Float64Array;
  v: Float64Array;
  t: number;
}

/** The optimizer's own Adam rule (PyTorch's defaults), on float64. */
const ADAM = float64Adam();

export const gradnorm: GradientStrategy<GradnormState, { alpha: number; lr: number }> = {
  name: 'gradnorm',
  summary: 'Learn task weights so that weighted gradient norms on the last shared layer follow relative training rates',
  citation: 'Chen, Badrinarayanan, Lee, Rabinovich, "GradNorm: Gradient Normalization for Adaptive Loss Balancing in Deep Multitask Networks", ICML 2018',
  scale: 'weights sum to T (= sum at the start)',
  kind: 'weighting',
  gramOnly: true,
  seeded: false,
  needsLosses: true,
  defaults: { alpha: 1.5, lr: 0.01 },
  options: {
    alpha: { type: 'number', min: 0, doc: 'strength of the pull towards equal training rates' },
    lr: { type: 'number', above: 0, doc: 'Adam learning rate of the task weights' },
  },
  init: (tasks) => ({
    w: new Float64Array(tasks).fill(1),
    initial: new Float64Array(0),
    m: new Float64Array(tasks),
    v: new Float64Array(tasks),
    t: 0,
  }),
  combine(input, state, options, out) {
    const T = input.grads.length;
    const losses = requireLosses('gradnorm', input.losses, T);
    const weights = Float64Array.from(state.w);
    const initial = state.initial.length === T ? state.initial : Float64Array.from(losses);
    const gram = input.lastSharedGram ?? input.gram;
    if (gram.length < T * T) {
      throw new UserError(`strategy gradnorm: lastSharedGram has ${gram.length} values; expected ${T}×${T}`);
    }
    const norms = new Float64Array(T);
    const ratios = new Float64Array(T);
    let gBar = 0;
    let rBar = 0;
    for (let i = 0; i < T; i++) {
      norms[i] = Math.sqrt(Math.max(gram[i * T + i], 0));
      gBar += weights[i] * norms[i] / T;
      const l0 = initial[i];
      ratios[i] = l0 > 0 && Number.isFinite(l0) && Number.isFinite(losses[i]) ? losses[i] / l0 : 1;
      rBar += ratios[i] / T;
    }
    const grad = new Float64Array(T);
    for (let i = 0; i < T; i++) {
      const target = gBar * Math.pow(rBar > 0 ? ratios[i] / rBar : 1, options.alpha);
      grad[i] = Math.sign(weights[i] * norms[i] - target) * norms[i];
    }
    const w = Float64Array.from(state.w);
    const m = Float64Array.from(state.m);
    const v = Float64Array.from(state.v);
    ADAM.update(w, grad, { m, v }, state.t + 1, options.lr);
    let total = 0;
    for (let i = 0; i < T; i++) { w[i] = Math.max(w[i], 1e-6); total += w[i]; }
    for (let i = 0; i < T; i++) w[i] *= T / total;
    return weighted(input.kernels, input.grads, weights, out,
      { w, initial: Float64Array.from(initial), m, v, t: state.t + 1 });
  },
};
