/** Update rules with explicit state: the same rule on float32 (the trainer) and float64 (the loss weightings). */
import { describe, expect, it } from 'vitest';
import { jsKernels } from '../../src/kernels/js.js';
import { adamRule, applyRule, float64Adam, initState, resolveOptimizerConfig } from '../../src/optim/index.js';

describe('update rules', () => {
  it('Adam\'s first step moves each element by lr·g/(|g| + eps), in float64 too', () => {
    const rule = float64Adam();
    const p = Float64Array.from([1, -2, 0.5]);
    const g = Float64Array.from([0.3, -4, 1e-3]);
    const state = initState(rule, 3, (n) => new Float64Array(n));
    applyRule(rule, p, g, state, 0.1);
    expect(state.stepCount).toBe(1);
    [1, -2, 0.5].forEach((p0, i) => expect(p[i]).toBeCloseTo(p0 - 0.1 * g[i] / (Math.abs(g[i]) + 1e-8), 14));
  });

  it('the float64 rule and the optimizer\'s float32 rule take the same steps (to float32 precision)', () => {
    const config = resolveOptimizerConfig({ name: 'adam', lr: 0.01 });
    const r32 = adamRule(config, jsKernels.adamStep);
    const r64 = float64Adam();
    const p32 = Float32Array.from([0.2, -0.7, 1.5, 0]);
    const p64 = Float64Array.from(p32);
    const s32 = initState(r32, 4, (n) => new Float32Array(n));
    const s64 = initState(r64, 4, (n) => new Float64Array(n));
    for (let step = 0; step < 5; step++) {
      const g = [0.5 - step, 0.1 * step, -2, 1e-4];
      applyRule(r32, p32, Float32Array.from(g), s32, 0.01);
      applyRule(r64, p64, Float64Array.from(g), s64, 0.01);
    }
    expect(s32.stepCount).toBe(5);
    p32.forEach((x, i) => expect(x).toBeCloseTo(p64[i], 6));
    expect(Object.keys(s64.buffers)).toEqual(['m', 'v']);
  });
});
