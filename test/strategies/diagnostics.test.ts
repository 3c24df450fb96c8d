import { describe, expect, it } from 'vitest';
import {
  averageDiagnostics, formatConflict, formatSigned, gradientDiagnostics,
} from '../../src/strategies/index.js';
import { backends, gramOf, run, vecs } from './helpers.js';

for (const [label, k] of backends()) {
  describe(`diagnostics (${label} kernels)`, () => {
    // norms 1, √2, 2; cos12 = −1/√2, cos13 = 0, cos23 = 1/√2
    const grads = vecs([1, 0], [-1, 1], [0, 2]);
    const gram = gramOf(k, grads);

    it('norms, cosines, conflicting pairs and the worst pair from G', () => {
      const d = gradientDiagnostics(gram, 3);
      d.norms.forEach((n, i) => expect(n).toBeCloseTo([1, Math.SQRT2, 2][i], 14));
      expect(d.cosines[0 * 3 + 1]).toBeCloseTo(-Math.SQRT1_2, 14);
      expect(d.cosines[1 * 3 + 0]).toBeCloseTo(-Math.SQRT1_2, 14);
      expect(d.cosines[0 * 3 + 2]).toBe(0);
      expect(d.cosines[1 * 3 + 2]).toBeCloseTo(Math.SQRT1_2, 14);
      expect(d.cosines[4]).toBeCloseTo(1, 14);
      expect(d.pairs).toBe(3);
      expect(d.conflicts).toBe(1);
      expect(d.worstPair).toEqual([0, 1]);
      expect(d.worstCosine).toBeCloseTo(-Math.SQRT1_2, 14);
      expect(d.updateCosine).toBeNull();
      expect(JSON.parse(JSON.stringify(d))).toEqual(d);
    });

    it('the update\'s dots and its cosine with the plain sum, from the weights or from the vectors', () => {
      // sum = (0, 3). An update (1, 1) = 1·g1 + 0.5·g3: dots (1, 0, 2), cos with the sum = 3/(√2·3)
      const weights = Float64Array.from([1, 0, 0.5]);
      const update = Float32Array.from([1, 1]);
      const fromG = gradientDiagnostics(gram, 3, { update, weights });
      const fromVectors = gradientDiagnostics(gram, 3, { update, weights: null, grads, kernels: k });
      for (const d of [fromG, fromVectors]) {
        d.updateDots!.forEach((v, i) => expect(v).toBeCloseTo([1, 0, 2][i], 12));
        expect(d.updateNorm).toBeCloseTo(Math.SQRT2, 12);
        expect(d.updateCosine).toBeCloseTo(Math.SQRT1_2, 12);
      }
      expect(fromG.weights).toEqual([1, 0, 0.5]);
      expect(fromVectors.weights).toBeNull();
      const plain = run(k, 'sum', grads);
      expect(gradientDiagnostics(gram, 3, plain).updateCosine).toBeCloseTo(1, 12);
      expect(() => gradientDiagnostics(gram, 3, { update, weights: null })).toThrow(/needs the gradients/);
    });

    it('formats the most conflicting pair for the console', () => {
      const d = gradientDiagnostics(gram, 3, { update: Float32Array.from([1, 1]), weights: Float64Array.from([1, 0, 0.5]) });
      expect(formatConflict(d, ['species', 'sex', 'mass'])).toBe('conflict: species↔sex cos −0.71 (1 of 3 pairs); update·sum cos 0.71');
      const calm = gradientDiagnostics(gramOf(k, vecs([1, 0.1], [1, 0.5])), 2);
      expect(formatConflict(calm, ['a', 'b'])).toBe('conflict: none (least aligned a↔b cos 0.93)');
      expect(formatConflict(gradientDiagnostics(gramOf(k, vecs([1, 2])), 1), ['only'])).toBe('conflict: n/a (1 task)');
      expect(formatSigned(-0.001)).toBe('0.00');
      expect(formatSigned(-0.31)).toBe('−0.31');
    });

    it('averages an epoch of steps', () => {
      const a = gradientDiagnostics(gramOf(k, vecs([1, 0], [-1, 0])), 2, { update: Float32Array.from([0, 0]), weights: Float64Array.from([1, 1]) });
      const b = gradientDiagnostics(gramOf(k, vecs([1, 0], [1, 0])), 2, { update: Float32Array.from([2, 0]), weights: Float64Array.from([1, 1]) });
      const m = averageDiagnostics([a, b]);
      expect(m.cosines[1]).toBe(0); // (−1 + 1)/2
      expect(m.conflicts).toBe(0.5);
      expect(m.updateCosine).toBe(1); // a's update is 0: skipped
      // half the steps conflicted: never "none" (issue 15), though the mean cosine is 0
      expect(formatConflict(m, ['x', 'y'])).toBe('conflict: x↔y cos 0.00 (0.5 of 1 pair per step, on average); update·sum cos 1.00');
      expect(() => averageDiagnostics([])).toThrow(RangeError);
    });
  });
}
