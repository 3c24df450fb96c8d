/**
 * `graddrop` — Gradient Sign Dropout. Chen, Ngiam, Huang, Luong, Kretzschmar,
 * Chai, Anguelov, "Just Pick a Sign: Optimizing Deep Multitask Models with
 * Gradient Sign Dropout", NeurIPS 2020.
 *
 * Per element e of the shared parameters: the sign purity
 * P_e = ½·(1 + Σ_i g_i[e] / Σ_i |g_i[e]|) (½ where every g_i[e] is 0), one uniform
 * U_e ∈ (0, 1) from the step's rng (one draw per element, in element order), and
 * the update keeps the positive entries when P_e > U_e and the negative ones when
 * P_e < U_e: out[e] = Σ_i (leak + (1 − leak)·M_i[e])·g_i[e], M_i[e] ∈ {0, 1}.
 * The sum over tasks is accumulated in float64.
 *
 * Applied to the gradients of the shared parameters directly; the paper applies
 * it to the gradients at the shared activations, multiplied by the sign of the
 * layer input (LibMTL supports only that variant). Needs the vectors, not just
 * G: it is not a weighted sum of the task gradients (weights: null).
 *
 * Option leak ∈ [0, 1] (default 0): leak = 1 gives the plain sum.
 * Scale: sum — equals Σ g_i wherever all tasks agree in sign (P = 0 or 1), e.g.
 * for gradients with disjoint supports.
 */

import { checkOut } from './gram.js';
import type { GradientStrategy } from './types.js';

export const graddrop: GradientStrategy<null, { leak: number }> = {
  name: 'graddrop',
  summary: 'Per element, keep only the positive or only the negative task gradients, chosen at random by sign purity',
  citation: 'Chen, Ngiam, Huang, Luong, Kretzschmar, Chai, Anguelov, "Just Pick a Sign: Optimizing Deep Multitask Models with Gradient Sign Dropout", NeurIPS 2020',
  scale: 'sum: Σ g_i where all tasks agree in sign',
  kind: 'combination',
  gramOnly: false,
  seeded: true,
  needsLosses: false,
  defaults: { leak: 0 },
  options: {
    leak: { type: 'number', min: 0, max: 1, doc: 'fraction of a dropped gradient that is kept anyway' },
  },
  init: () => null,
  combine(input, state, options, out) {
    const { grads, rng } = input;
    checkOut(grads, out);
    const T = grads.length;
    const n = grads[0].length;
    const leak = options.leak;
    for (let e = 0; e < n; e++) {
      let s = 0;
      let a = 0;
      for (let i = 0; i < T; i++) {
        const v = grads[i][e];
        s += v;
        a += Math.abs(v);
      }
      const purity = a > 0 ? 0.5 * (1 + s / a) : 0.5;
      const u = (rng.nextU32() + 0.5) / 4294967296;
      const keepPos = purity > u;
      const keepNeg = purity < u;
      let r = 0;
      for (let i = 0; i < T; i++) {
        const v = grads[i][e];
        if ((v > 0 && keepPos) || (v < 0 && keepNeg)) r += v;
        else if (leak > 0) r += leak * v;
      }
      out[e] = r;
    }
    return { update: out, weights: null, state };
  },
};
