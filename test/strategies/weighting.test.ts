/** The loss-weighting strategies: fixed, uncertainty, dwa, rlw, gradnorm. */

import { describe, expect, it } from 'vitest';
import { jsKernels } from '../../src/kernels/js.js';
import { GradientCombiner, strategies } from '../../src/strategies/index.js';
import { UserError } from '../../src/util/errors.js';
import { backends, combo, relErr, run, vecs } from './helpers.js';

interface UState { s: Float64Array }
interface GState { w: Float64Array }

describe('fixed', () => {
  it('applies the given weights; rejects a weight list of the wrong length or a negative weight', () => {
    const g = vecs([1, 2], [3, -5]);
    const r = run(jsKernels, 'fixed', g, { options: { weights: [2, 0.5] } });
    expect(Array.from(r.update)).toEqual([3.5, 1.5]);
    expect(Array.from(r.weights!)).toEqual([2, 0.5]);
    expect(() => new GradientCombiner('fixed', 3, 2, { options: { weights: [1, 2] } }))
      .toThrow(/option "weights" has 2 values; expected one per task \(3\)/);
    expect(() => new GradientCombiner('fixed', 2, 2, { options: { weights: [1, -2] } })).toThrow(UserError);
  });
});

for (const [label, k] of backends()) {
  describe(`loss weighting (${label} kernels)`, () => {
    describe('uncertainty', () => {
      it('weights the gradients by ½e^(−s) and moves s by Adam on ½ − ½e^(−s)L', () => {
        const g = vecs([1, 0], [0, 1]);
        const r = run(k, 'uncertainty', g, { losses: [5, 0.2], options: { lr: 0.1, init: 0.3 } });
        const w = 0.5 * Math.exp(-0.3);
        expect(Array.from(r.weights!)).toEqual([w, w]);
        // Adam's first step is lr·sign(gradient): gradient ½ − ½e^(−0.3)·5 < 0, ½ − ½e^(−0.3)·0.2 > 0
        const s = (r.state as UState).s;
        expect(s[0]).toBeCloseTo(0.4, 6);
        expect(s[1]).toBeCloseTo(0.2, 6);
      });

      it('s converges to its optimum log L on a fixed loss', () => {
        const L = [5, 0.2, 1, 30];
        const g = vecs([1, 0], [0, 1], [1, 1], [1, -1]);
        let state: unknown;
        for (let step = 0; step < 3000; step++) {
          state = run(k, 'uncertainty', g, { state, step, losses: L, options: { lr: 0.05 } }).state;
        }
        const s = (state as UState).s;
        L.forEach((l, i) => expect(Math.abs(s[i] - Math.log(l)), `task ${i}`).toBeLessThan(0.01));
        const r = run(k, 'uncertainty', g, { state, losses: L });
        L.forEach((l, i) => expect(r.weights![i] * l).toBeCloseTo(0.5, 1)); // ½e^(−log L)·L = ½
      });

      it('needs the losses', () => {
        expect(() => run(k, 'uncertainty', vecs([1], [2]))).toThrow(/uncertainty needs the per-task losses/);
        expect(() => run(k, 'uncertainty', vecs([1], [2]), { losses: [1] })).toThrow(/got 1 losses for 2 tasks/);
      });
    });

    describe('dwa', () => {
      it('weights 1 for two windows, then T·softmax(L(t−1)/L(t−2) / temperature)', () => {
        const g = vecs([1, 0], [0, 1]);
        const losses = [[1, 2], [0.5, 2], [0.4, 1], [0.3, 1]];
        let state: unknown;
        const weights: number[][] = [];
        for (const [step, l] of losses.entries()) {
          const r = run(k, 'dwa', g, { state, step, losses: l });
          weights.push(Array.from(r.weights!));
          state = r.state;
        }
        const softmax2 = (a: number, b: number): number[] => [a, b].map((v) => 2 * Math.exp(v) / (Math.exp(a) + Math.exp(b)));
        expect(weights[0]).toEqual([1, 1]);
        expect(weights[1]).toEqual([1, 1]);
        const w2 = softmax2(0.5 / 2, 1 / 2); // r = (0.5/1, 2/2), temperature 2
        const w3 = softmax2(0.8 / 2, 0.5 / 2); // r = (0.4/0.5, 1/2)
        weights[2].forEach((w, i) => expect(w).toBeCloseTo(w2[i], 12));
        weights[3].forEach((w, i) => expect(w).toBeCloseTo(w3[i], 12));
        expect(weights[2][0] + weights[2][1]).toBeCloseTo(2, 12);
      });

      it('averages the losses over a window and keeps the weights constant within it', () => {
        const g = vecs([1, 0], [0, 1]);
        let state: unknown;
        const weights: number[][] = [];
        const losses = [[1, 1], [3, 1], [1, 1], [1, 1], [1, 1], [1, 1]];
        for (const [step, l] of losses.entries()) {
          const r = run(k, 'dwa', g, { state, step, losses: l, options: { window: 2, temperature: 1 } });
          weights.push(Array.from(r.weights!));
          state = r.state;
        }
        for (let s = 0; s < 4; s++) expect(weights[s]).toEqual([1, 1]);
        // windows: (2, 1), (1, 1) → r = (0.5, 1)
        const want = [0.5, 1].map((v) => 2 * Math.exp(v) / (Math.exp(0.5) + Math.exp(1)));
        for (const s of [4, 5]) weights[s].forEach((w, i) => expect(w).toBeCloseTo(want[i], 12));
      });
    });

    describe('rlw', () => {
      it('draws positive weights summing to T, new ones every step, 1 on average', () => {
        const g = vecs([1, 0, 0], [0, 1, 0], [0, 0, 1]);
        const mean = [0, 0, 0];
        const steps = 4000;
        let previous: number[] = [];
        for (let step = 0; step < steps; step++) {
          const r = run(k, 'rlw', g, { seed: 1, step });
          const w = Array.from(r.weights!);
          expect(w.every((x) => x > 0)).toBe(true);
          expect(w.reduce((a, b) => a + b, 0)).toBeCloseTo(3, 12);
          expect(w).not.toEqual(previous);
          expect(relErr(r.update, w)).toBeLessThan(1e-6);
          previous = w;
          w.forEach((x, i) => { mean[i] += x / steps; });
        }
        mean.forEach((m) => expect(Math.abs(m - 1)).toBeLessThan(0.05));
      });
    });

    describe('gradnorm', () => {
      it('balances the weighted gradient norms when the training rates are equal; weights sum to T', () => {
        const g = vecs([1, 0, 0], [0, 4, 0]); // norms 1 and 4
        let state: unknown;
        for (let step = 0; step < 2000; step++) {
          const r = run(k, 'gradnorm', g, { state, step, losses: [0.7, 0.7] });
          state = r.state;
          const w = (state as GState).w;
          expect(w[0] + w[1]).toBeCloseTo(2, 12);
        }
        const w = (state as GState).w; // w₁·1 = w₂·4, w₁ + w₂ = 2
        expect(Math.abs(w[0] - 1.6)).toBeLessThan(0.05);
        expect(Math.abs(w[1] - 0.4)).toBeLessThan(0.05);
      });

      it('uses the last shared layer\'s norms when given', () => {
        const g = vecs([1, 0, 0], [0, 4, 0]);
        const lastSharedGram = Float64Array.from([16, 0, 0, 1]); // last layer: norms 4 and 1
        let state: unknown;
        for (let step = 0; step < 2000; step++) {
          state = run(k, 'gradnorm', g, { state, step, losses: [0.7, 0.7], lastSharedGram }).state;
        }
        const w = (state as GState).w;
        expect(Math.abs(w[0] - 0.4)).toBeLessThan(0.05);
        expect(Math.abs(w[1] - 1.6)).toBeLessThan(0.05);
      });

      it('gives less weight to the task that trains faster, and uses the current weights for the update', () => {
        const g = vecs([1, 0], [0, 1]);
        let state = run(k, 'gradnorm', g, { losses: [1, 1] }).state; // L(0) = (1, 1)
        for (let step = 1; step < 1500; step++) {
          const r = run(k, 'gradnorm', g, { state, step, losses: [0.5, 1] });
          expect(Array.from(r.weights!)).toEqual(Array.from((state as GState).w));
          state = r.state;
        }
        const w = (state as GState).w;
        expect(w[0]).toBeLessThan(0.8);
        expect(w[1]).toBeGreaterThan(1.2);
        expect(strategies.gradnorm.defaults.alpha).toBe(1.5);
      });
    });

    it('every weighting strategy reports weights that reproduce its update', () => {
      const g = vecs([1, 2, 3], [-1, 0.5, 2]);
      for (const name of ['fixed', 'uncertainty', 'dwa', 'rlw', 'gradnorm'] as const) {
        const r = run(k, name, g, { losses: [2, 3], seed: 4 });
        expect(relErr(r.update, combo(g, r.weights!)), name).toBeLessThan(1e-6);
        expect(strategies[name].kind).toBe('weighting');
      }
    });
  });
}
