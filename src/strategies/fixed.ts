/**
 * `fixed`: constant task weights from the `weights` option (one per task; the
 * empty default means 1 for every task, i.e. `sum`). update = Σ w_i g_i; with
 * `sequential` each task's step is scaled by its weight.
 *
 * Scale: sum with the given weights (Σ w_i g_i).
 */

import { UserError } from '../util/errors.js';
import { weighted } from './gram.js';
import type { GradientStrategy } from './types.js';

export const fixed: GradientStrategy<null, { weights: readonly number[] }> = {
  name: 'fixed',
  summary: 'Constant task weights given as an option',
  citation: 'Baseline (linear scalarisation with fixed weights)',
  scale: 'Σ w_i g_i with the given weights (default 1 each = sum)',
  kind: 'weighting',
  gramOnly: true,
  seeded: false,
  needsLosses: false,
  defaults: { weights: [] },
  options: {
    weights: { type: 'numbers', min: 0, doc: 'one weight per task, in task order (empty: 1 each)' },
  },
  init(tasks, _length, options) {
    const n = options.weights.length;
    if (n !== 0 && n !== tasks) {
      throw new UserError(`strategy fixed: option "weights" has ${n} values; expected one per task (${tasks})`);
    }
    return null;
  },
  combine(input, state, options, out) {
    const T = input.grads.length;
    const w = options.weights.length === 0 ? new Float64Array(T).fill(1) : Float64Array.from(options.weights);
    if (w.length !== T) throw new UserError(`strategy fixed: option "weights" has ${w.length} values; expected one per task (${T})`);
    return weighted(input.kernels, input.grads, w, out, state);
  },
};
