import { describe, expect, it } from 'vitest';
import { Ema, SMOOTHING, smoothingNote } from '../../src/report/smooth.js';

describe('EMA smoothing (TensorBoard\'s bias correction)', () => {
  it('equals Σ β^(t−i)(1−β) y_i / (1 − β^t) at every step', () => {
    const ys = [3, -1, 4, 1, -5, 9, 2, 6];
    const beta = 0.9;
    const ema = new Ema(beta);
    ys.forEach((_, t) => {
      let direct = 0;
      for (let i = 0; i <= t; i++) direct += beta ** (t - i) * (1 - beta) * ys[i];
      direct /= 1 - beta ** (t + 1);
      expect(ema.add(ys[t])).toBeCloseTo(direct, 12);
    });
  });

  it('starts at the first value (no pull towards 0), and a constant stays constant', () => {
    const ema = new Ema();
    expect(ema.add(5)).toBeCloseTo(5, 12);
    for (let i = 0; i < 50; i++) expect(ema.add(5)).toBeCloseTo(5, 12);
  });

  it('a non-finite value is a gap that leaves the average unchanged; factor 0 is the raw series', () => {
    const ema = new Ema(0.5);
    ema.add(2);
    expect(ema.add(NaN)).toBeNaN();
    expect(ema.add(4)).toBeCloseTo((0.5 * 0.5 * 2 + 0.5 * 4) / (1 - 0.25), 12);
    const none = new Ema(0);
    expect([1, 7, 3].map((y) => none.add(y))).toEqual([1, 7, 3]);
    expect(() => new Ema(1)).toThrow(RangeError);
  });

  it('the reports state the factor', () => {
    expect(SMOOTHING).toBe(0.9);
    expect(smoothingNote(SMOOTHING)).toMatch(/factor 0\.9, bias-corrected as TensorBoard's/);
  });
});
