import { describe, expect, it } from 'vitest';
import { erf, erfc, jsKernels } from '../../src/kernels/js.js';
import type { Activation, LossKind } from '../../src/kernels/types.js';
import { LOSS_STATS_LENGTH } from '../../src/kernels/types.js';
import { refErfc } from './reference.js';
import { kernelSuite } from './suite.js';

kernelSuite('js', jsKernels);

describe('js kernels: implementation details', () => {
  it('identifies itself', () => {
    expect(jsKernels.backend).toBe('js');
    expect(jsKernels.isa).toBe('js');
  });

  it('erfc is accurate to near double precision in both tails and every fdlibm interval', () => {
    for (let x = -6; x <= 27; x += 0.01) {
      // the reference computes erfc as 1 − erf below 3, hence the small absolute term
      const want = refErfc(x);
      expect(Math.abs(erfc(x) - want), `erfc(${x})`).toBeLessThanOrEqual(1e-13 * want + 2e-15);
    }
    expect(erfc(30)).toBe(0);
    expect(erfc(-30)).toBe(2);
    expect(erfc(Infinity)).toBe(0);
    expect(erfc(-Infinity)).toBe(2);
    expect(erfc(NaN)).toBeNaN();
    expect(erf(0)).toBe(0);
    expect(erf(0.5)).toBeCloseTo(0.5204998778130465, 15);
  });

  it('rejects a class label that is not an index in [0, cols)', () => {
    const pred = new Float32Array(6), grad = new Float32Array(6), stats = new Float64Array(LOSS_STATS_LENGTH);
    for (const bad of [3, -1, 1.5, Infinity]) {
      expect(() => jsKernels.loss('cross_entropy', 2, 3, pred, Float32Array.of(0, bad), 1, grad, stats))
        .toThrow(/row 1/);
    }
  });

  it('rejects unknown activations and losses', () => {
    const x = new Float32Array(4);
    expect(() => jsKernels.biasActivation(1, 4, x, x, 'swish' as Activation, x)).toThrow(/swish/);
    expect(() => jsKernels.activationBackward(4, 'swish' as Activation, x, x, x, x)).toThrow(/swish/);
    expect(() => jsKernels.loss('hinge' as LossKind, 1, 4, x, x, 1, x, new Float64Array(LOSS_STATS_LENGTH))).toThrow(/hinge/);
  });
});
