/**
 * `dwa` — Dynamic Weight Average. Liu, Johns, Davison, "End-to-End Multi-Task
 * Learning with Attention", CVPR 2019.
 *
 * w_k = T·exp(r_k / temperature) / Σ_i exp(r_i / temperature), with
 * r_k = L̄_k(t−1) / L̄_k(t−2) the ratio of task k's average loss over the last two
 * completed windows; w = 1 until two windows are complete. The paper's window is
 * one epoch: set `window` to the steps per epoch; the default, 1, uses each step's
 * batch losses. Weights stay constant within a window. State: the last two window
 * averages and the running sums of the current window.
 *
 * Options: temperature > 0 (default 2, the paper's), window ≥ 1 steps (default 1).
 * Scale: weights sum to T (Σ g_i while the loss ratios are equal).
 * A ratio with a non-positive or non-finite denominator counts as 1.
 */

import { weighted } from './gram.js';
import { requireLosses } from './losses.js';
import type { GradientStrategy } from './types.js';

export interface DwaState {
  /** Average losses over the last completed window (L̄(t−1)) and the one before (L̄(t−2)). */
  last: Float64Array;
  before: Float64Array;
  /** Completed windows so far. */
  windows: number;
  /** Sum of the losses in the current window and its step count. */
  sums: Float64Array;
  count: number;
}

export const dwa: GradientStrategy<DwaState, { temperature: number; window: number }> = {
  name: 'dwa',
  summary: 'Weights from the softmax of each task\'s recent loss ratio (tasks that slow down get more weight)',
  citation: 'Liu, Johns, Davison, "End-to-End Multi-Task Learning with Attention", CVPR 2019',
  scale: 'weights sum to T (= sum while the loss ratios are equal)',
  kind: 'weighting',
  gramOnly: true,
  seeded: false,
  needsLosses: true,
  defaults: { temperature: 2, window: 1 },
  options: {
    temperature: { type: 'number', above: 0, doc: 'softmax temperature (larger → more uniform weights)' },
    window: { type: 'integer', min: 1, doc: 'steps averaged per loss-history entry (the paper: one epoch)' },
  },
  init: (tasks) => ({
    last: new Float64Array(tasks),
    before: new Float64Array(tasks),
    windows: 0,
    sums: new Float64Array(tasks),
    count: 0,
  }),
  combine(input, state, options, out) {
    const T = input.grads.length;
    const losses = requireLosses('dwa', input.losses, T);
    const weights = new Float64Array(T).fill(1);
    if (state.windows >= 2) {
      let top = -Infinity;
      for (let k = 0; k < T; k++) {
        const d = state.before[k];
        const r = d > 0 && Number.isFinite(d) && Number.isFinite(state.last[k]) ? state.last[k] / d : 1;
        weights[k] = r / options.temperature;
        top = Math.max(top, weights[k]);
      }
      let z = 0;
      for (let k = 0; k < T; k++) { weights[k] = Math.exp(weights[k] - top); z += weights[k]; }
      for (let k = 0; k < T; k++) weights[k] *= T / z;
    }
    const sums = Float64Array.from(state.sums);
    for (let k = 0; k < T; k++) sums[k] += losses[k];
    const count = state.count + 1;
    const next: DwaState = count >= options.window
      ? {
        last: sums.map((x) => x / count),
        before: Float64Array.from(state.last),
        windows: state.windows + 1,
        sums: new Float64Array(T),
        count: 0,
      }
      : {
        last: Float64Array.from(state.last),
        before: Float64Array.from(state.before),
        windows: state.windows,
        sums,
        count,
      };
    return weighted(input.kernels, input.grads, weights, out, next);
  },
};
