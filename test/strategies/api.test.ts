/** The standalone API and the registry: combineGradients, strategyNames, options, GradientCombiner. */

import { describe, expect, it } from 'vitest';
import { combineGradients as rootCombine, strategyNames as rootNames } from '../../src/index.js';
import { getKernels } from '../../src/kernels/index.js';
import {
  combineGradients, getStrategy, GradientCombiner, parseStrategyOptions, strategyNames,
} from '../../src/strategies/index.js';
import { UserError } from '../../src/util/errors.js';
import { randomGrads, relErr, Rng, run, vecs } from './helpers.js';

describe('combineGradients', () => {
  const grads = vecs([1, 1, 0], [-1, 0, 1]);

  it('is exported from the package root with strategyNames', () => {
    expect(rootCombine).toBe(combineGradients);
    expect(rootNames()).toEqual(strategyNames());
    expect(strategyNames()).toContain('pcgrad');
  });

  it('returns a new Float32Array with the strategy\'s update', () => {
    const out = rootCombine('pcgrad', grads);
    expect(out).toBeInstanceOf(Float32Array);
    expect(Array.from(out)).toEqual([0, 1.5, 1.5]);
    expect(Array.from(combineGradients('sum', grads))).toEqual([0, 1, 1]);
    expect(Array.from(combineGradients('mean', grads))).toEqual([0, 0.5, 0.5]);
    const rng = new Rng(1);
    const g = randomGrads(rng, 3, 20);
    expect(combineGradients('cagrad', g, { c: 0.7 })).toEqual(run(getKernels(), 'cagrad', g, { options: { c: 0.7 } }).update);
    expect(combineGradients('cagrad', g, { c: '0.7' })).toEqual(combineGradients('cagrad', g, { c: 0.7 }));
  });

  it('seeded strategies depend on (seed, step) only', () => {
    const g = randomGrads(new Rng(2), 5, 30);
    const a = combineGradients('graddrop', g, { seed: 3, step: 1 });
    expect(combineGradients('graddrop', g, { seed: 3, step: 1 })).toEqual(a);
    expect(combineGradients('graddrop', g, { seed: 4, step: 1 })).not.toEqual(a);
  });

  it('passes losses and state', () => {
    const r = combineGradients('uncertainty', grads, { losses: [2, 3], state: { s: Float64Array.from([0, Math.log(2)]), m: new Float64Array(2), v: new Float64Array(2), t: 0 } });
    expect(relErr(r, [0.25, 0.5, 0.25])).toBeLessThan(1e-7); // ½·g1 + ¼·g2
  });

  it('rejects no gradients, unequal lengths and non-Float32Arrays', () => {
    expect(() => combineGradients('sum', [])).toThrow(UserError);
    expect(() => combineGradients('sum', [])).toThrow(/at least one task gradient/);
    expect(() => combineGradients('sum', [new Float32Array(3), new Float32Array(4)]))
      .toThrow(/gradient 1 has 4 elements but gradient 0 has 3/);
    expect(() => combineGradients('sum', [new Float32Array(3), [1, 2, 3] as unknown as Float32Array]))
      .toThrow(/gradient 1 is not a Float32Array/);
  });

  it('rejects an unknown strategy, listing the names', () => {
    expect(() => combineGradients('pcgard', grads)).toThrow(UserError);
    expect(() => combineGradients('pcgard', grads)).toThrow(/unknown strategy "pcgard"; expected one of sum, mean, pcgrad, mgda, .*gradnorm/);
  });

  it('rejects bad options, naming them', () => {
    expect(() => combineGradients('cagrad', grads, { c: -1 })).toThrow(/strategy cagrad: option "c" is -1; expected a number ≥ 0/);
    expect(() => combineGradients('cagrad', grads, { c: 'lots' })).toThrow(/option "c" is "lots"/);
    expect(() => combineGradients('cagrad', grads, { rescale: 1.5 })).toThrow(/option "rescale" is 1.5; expected an integer ≥ 0 and ≤ 2/);
    expect(() => combineGradients('cagrad', grads, { cc: 1 })).toThrow(/unknown option "cc"; its options are c, rescale/);
    expect(() => combineGradients('pcgrad', grads, { beta: 1 })).toThrow(/unknown option "beta"; it takes no options/);
    expect(() => combineGradients('gradvac', grads, { beta: 0 })).toThrow(/option "beta" is 0; expected a number > 0 and ≤ 1/);
    expect(() => combineGradients('sum', grads, { step: -1 })).toThrow(/option "step" is -1/);
    expect(() => combineGradients('uncertainty', grads)).toThrow(/needs the per-task losses/);
    expect(() => combineGradients('uncertainty', grads, { losses: [1] })).toThrow(/option "losses" must be a list of 2 numbers/);
  });
});

describe('options and the registry', () => {
  it('fills defaults and parses CLI strings', () => {
    expect(parseStrategyOptions('cagrad')).toEqual({ c: 0.4, rescale: 1 });
    expect(parseStrategyOptions('cagrad', { c: '0.5' })).toEqual({ c: 0.5, rescale: 1 });
    expect(parseStrategyOptions('fixed', { weights: '1,2.5' })).toEqual({ weights: [1, 2.5] });
    expect(() => parseStrategyOptions('fixed', { weights: '1,x' })).toThrow(/option "weights" is "1,x"; expected a list of numbers ≥ 0/);
    expect(() => getStrategy('nope')).toThrow(/unknown strategy "nope"/);
    expect(getStrategy('upgrad').name).toBe('upgrad');
  });
});

describe('GradientCombiner', () => {
  it('carries the state between steps; resuming from a saved state continues identically', () => {
    const rng = new Rng(5);
    const steps = Array.from({ length: 6 }, () => randomGrads(rng, 3, 16));
    const out = new Float32Array(16);
    const a = new GradientCombiner('gradvac', 3, 16, { seed: 9, options: { beta: 0.5 } });
    const updates: Float32Array[] = [];
    let saved: unknown;
    steps.forEach((g, step) => {
      a.combine(g, step, out);
      updates.push(out.slice());
      if (step === 2) saved = structuredClone(a.state);
    });
    const b = new GradientCombiner('gradvac', 3, 16, { seed: 9, options: { beta: 0.5 }, state: saved });
    for (let step = 3; step < 6; step++) {
      b.combine(steps[step], step, out);
      expect(out).toEqual(updates[step]);
    }
    expect(Array.from(b.gram)).toEqual(Array.from(a.gram));
  });

  it('checks the gradients it is given', () => {
    const c = new GradientCombiner('sum', 2, 4);
    expect(() => c.combine([new Float32Array(4)], 0, new Float32Array(4))).toThrow(/expected 2 task gradients/);
    expect(() => c.combine([new Float32Array(4), new Float32Array(3)], 0, new Float32Array(4))).toThrow(/task 1's gradient has 3/);
    expect(() => new GradientCombiner('sum', 0, 4)).toThrow(/at least one task/);
  });
});
