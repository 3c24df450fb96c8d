import { describe, expect, it } from 'vitest';
import { shareDataset } from '../../src/data/dataset-handle.js';
import { labelledIndices } from '../../src/data/split.js';
import { NormalSampler, type SyntheticDataset, syntheticDataset } from '../../src/data/synthetic.js';
import { Rng } from '../../src/util/rng.js';
import { userErrorMessage as message } from '../helpers/user-error.js';


function corr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0, mb = 0;
  for (let i = 0; i < n; i++) { ma += a[i]; mb += b[i]; }
  ma /= n; mb /= n;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) ** 2;
    sbb += (b[i] - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}

/** w_tᵀx for every row, with x recovered from the standardized features. */
function linearParts(ds: SyntheticDataset): Float64Array[] {
  const d = ds.inputWidth;
  return ds.synthetic.weights.map((w) => {
    const z = new Float64Array(ds.rows);
    for (let r = 0; r < ds.rows; r++) {
      let s = 0;
      for (let i = 0; i < d; i++) s += w[i] * (ds.features[r * d + i] * ds.encoding.std[i] + ds.encoding.mean[i]);
      z[r] = s;
    }
    return z;
  });
}

const cos = (a: number[], b: number[]) => {
  const dot = (u: number[], v: number[]) => u.reduce((s, x, i) => s + x * v[i], 0);
  return dot(a, b) / Math.sqrt(dot(a, a) * dot(b, b));
};

describe('syntheticDataset', () => {
  it('has the documented defaults and shape', () => {
    const ds = syntheticDataset();
    expect(ds.rows).toBe(4000);
    expect(ds.inputWidth).toBe(32);
    expect(ds.tasks.map((t) => [t.name, t.loss])).toEqual([['task_0', 'mse'], ['task_1', 'mse']]);
    expect(ds.validation.length).toBe(800);
    expect(ds.synthetic.correlation).toEqual([[1, 0.5], [0.5, 1]]);
    expect(ds.synthetic.alphas.length).toBe(10);
    expect(ds.features.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(shareDataset(ds).tasks.length).toBe(2);
    expect(ds.source).toBe('synthetic(tasks=2, correlation=0.5, rows=4000, seed=0)');
  });

  for (const rho of [-0.9, 0, 0.5, 1]) {
    it(`the tasks' linear parts have correlation ${rho}`, () => {
      const ds = syntheticDataset({ correlation: rho, seed: 11 });
      const [w1, w2] = ds.synthetic.weights;
      expect(cos(w1, w2)).toBeCloseTo(rho, 12);
      expect(Math.hypot(...w1)).toBeCloseTo(1, 12); // scale c = 1
      expect(Math.hypot(...w2)).toBeCloseTo(1, 12);
      const [z1, z2] = linearParts(ds);
      expect(Math.abs(corr(z1, z2) - rho)).toBeLessThan(0.05);
      // and the targets follow: with ρ = 1 they differ only by the noise
      const y = ds.tasks.map((t) => t.targets);
      const cy = corr(y[0], y[1]);
      if (rho === 1) expect(cy).toBeGreaterThan(0.98);
      if (rho === -0.9) expect(cy).toBeLessThan(-0.3);
    });
  }

  it('is the paper\'s construction for two tasks: w1 = c·u1, w2 = c·(ρ·u1 + √(1−ρ²)·u2)', () => {
    const a = syntheticDataset({ correlation: 0.3, scale: 2, rows: 10, seed: 4 });
    const b = syntheticDataset({ correlation: 1, scale: 2, rows: 10, seed: 4 });
    const c = syntheticDataset({ correlation: 0, scale: 2, rows: 10, seed: 4 });
    // the directions do not depend on ρ: w1 is the same, w2 mixes u1 = w1/c and u2 = w2(ρ=0)/c
    expect(a.synthetic.weights[0]).toEqual(b.synthetic.weights[0]);
    expect(b.synthetic.weights[1].map((v) => +v.toFixed(12))).toEqual(b.synthetic.weights[0].map((v) => +v.toFixed(12)));
    const expected = a.synthetic.weights[0].map((u1, i) => 0.3 * u1 + Math.sqrt(1 - 0.09) * c.synthetic.weights[1][i]);
    a.synthetic.weights[1].forEach((v, i) => expect(v).toBeCloseTo(expected[i], 12));
    expect(cos(b.synthetic.weights[0], c.synthetic.weights[1])).toBeCloseTo(0, 12);
  });

  it('computes targets as wᵀx + Σ sin(α·wᵀx + β) + ε', () => {
    const ds = syntheticDataset({ rows: 500, noise: 0, validationFraction: 0, seed: 9 });
    const z = linearParts(ds);
    const { alphas, betas } = ds.synthetic;
    for (let t = 0; t < 2; t++) {
      const task = ds.tasks[t];
      for (const r of [0, 17, 499]) {
        const y = z[t][r] + alphas.reduce((s, a, k) => s + Math.sin(a * z[t][r] + betas[k]), 0);
        expect(task.targets[r] * task.targetStd! + task.targetMean!).toBeCloseTo(y, 3);
      }
    }
  });

  it('is deterministic in the seed', () => {
    const a = syntheticDataset({ rows: 300, seed: 42, kinds: ['regression', 'classification'] });
    const b = syntheticDataset({ rows: 300, seed: 42, kinds: ['regression', 'classification'] });
    const c = syntheticDataset({ rows: 300, seed: 43, kinds: ['regression', 'classification'] });
    expect(Array.from(a.features)).toEqual(Array.from(b.features));
    expect(Array.from(a.tasks[0].targets)).toEqual(Array.from(b.tasks[0].targets));
    expect(Array.from(a.tasks[1].targets)).toEqual(Array.from(b.tasks[1].targets));
    expect(Array.from(a.train)).toEqual(Array.from(b.train));
    expect(a.synthetic).toEqual(b.synthetic);
    expect(Array.from(c.features)).not.toEqual(Array.from(a.features));
    expect(Array.from(c.tasks[0].targets)).not.toEqual(Array.from(a.tasks[0].targets));
    expect(c.synthetic.weights).not.toEqual(a.synthetic.weights);
    // the inputs do not change with the correlation or the kinds
    const d = syntheticDataset({ rows: 300, seed: 42, correlation: -0.7 });
    expect(Array.from(d.features)).toEqual(Array.from(a.features));
  });

  it('makes balanced binary classification tasks (above the median → 1)', () => {
    const ds = syntheticDataset({ kinds: 'classification', correlation: -0.5, seed: 3 });
    for (const t of ds.tasks) {
      expect(t).toMatchObject({ loss: 'bce_with_logits', classes: ['0', '1'], outputs: 1, labelled: 4000 });
      const ones = Array.from(t.targets).filter((v) => v === 1).length;
      expect(ones).toBe(2000);
      const trainOnes = Array.from(labelledIndices(t, ds.train), (r) => t.targets[r]).filter((v) => v === 1).length;
      expect(Math.abs(trainOnes / ds.train.length - 0.5)).toBeLessThan(0.03);
    }
    expect(ds.synthetic.thresholds.every((v) => typeof v === 'number')).toBe(true);
  });

  it('standardizes regression targets on the training rows', () => {
    const ds = syntheticDataset({ seed: 8 });
    for (const t of ds.tasks) {
      const y = Array.from(ds.train, (r) => t.targets[r]);
      const m = y.reduce((a, b) => a + b, 0) / y.length;
      expect(m).toBeCloseTo(0, 5);
      expect(Math.sqrt(y.reduce((a, b) => a + (b - m) ** 2, 0) / y.length)).toBeCloseTo(1, 4);
    }
  });

  it('supports more tasks, names, a width and a full correlation matrix', () => {
    const three = syntheticDataset({ tasks: 3, correlation: -0.4, inputWidth: 8, rows: 50, names: ['a', 'b', 'c'] });
    expect(three.tasks.map((t) => t.name)).toEqual(['a', 'b', 'c']);
    expect(three.inputWidth).toBe(8);
    const W = three.synthetic.weights;
    for (const [i, j] of [[0, 1], [0, 2], [1, 2]]) expect(cos(W[i], W[j])).toBeCloseTo(-0.4, 12);
    const R = [[1, 0.8, -0.5], [0.8, 1, -0.2], [-0.5, -0.2, 1]];
    const m = syntheticDataset({ tasks: 3, correlation: R, rows: 20 });
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) expect(cos(m.synthetic.weights[i], m.synthetic.weights[j])).toBeCloseTo(R[i][j], 12);
    const single = syntheticDataset({ tasks: 1, rows: 20 });
    expect(single.tasks.length).toBe(1);
  });

  it('rejects bad options as UserErrors', () => {
    expect(message(() => syntheticDataset({ correlation: 1.5 }))).toBe('synthetic data: correlation 1.5 is not in [−1, 1]');
    expect(message(() => syntheticDataset({ correlation: -1.01 }))).toBe('synthetic data: correlation -1.01 is not in [−1, 1]');
    expect(message(() => syntheticDataset({ correlation: NaN }))).toContain('correlation NaN is not in [−1, 1]');
    expect(message(() => syntheticDataset({ tasks: 0 }))).toBe('synthetic data: tasks 0 is not an integer ≥ 1');
    expect(message(() => syntheticDataset({ tasks: 1.5 }))).toBe('synthetic data: tasks 1.5 is not an integer ≥ 1');
    expect(message(() => syntheticDataset({ rows: 0 }))).toBe('synthetic data: rows 0 is not an integer ≥ 1');
    expect(message(() => syntheticDataset({ tasks: 4, inputWidth: 3 }))).toContain('inputWidth 3 is less than the number of tasks 4');
    expect(message(() => syntheticDataset({ tasks: 3, correlation: -0.9 }))).toContain('correlation -0.9 is impossible for 3 tasks');
    expect(message(() => syntheticDataset({ tasks: 3, correlation: [[1, 0.9, 0.9], [0.9, 1, -0.9], [0.9, -0.9, 1]] }))).toContain('not positive semidefinite');
    expect(message(() => syntheticDataset({ correlation: [[1, 0.2], [0.3, 1]] }))).toContain('not symmetric');
    expect(message(() => syntheticDataset({ correlation: [[1, 0.2]] }))).toContain('must be 2 × 2');
    expect(message(() => syntheticDataset({ noise: -1 }))).toContain('noise -1 is not a number ≥ 0');
    expect(message(() => syntheticDataset({ kinds: ['regression'] }))).toContain('1 kinds given for 2 tasks');
    expect(message(() => syntheticDataset({ kinds: 'ranking' as never }))).toContain('"ranking" is not one of regression, classification');
    expect(message(() => syntheticDataset({ names: ['a', 'a'] }))).toContain('two tasks are named "a"');
    expect(message(() => syntheticDataset({ seed: 0.5 }))).toBe('seed 0.5 is not an integer');
    expect(message(() => syntheticDataset({ validationFraction: 1 }))).toContain('validation fraction 1 is not in [0, 1)');
  });
});

describe('NormalSampler', () => {
  it('gives standard normal samples (Box–Muller)', () => {
    const s = new NormalSampler(new Rng(1, 2));
    const n = 100000;
    let m = 0, v = 0, tail = 0;
    const xs = new Float64Array(n);
    for (let i = 0; i < n; i++) xs[i] = s.next();
    for (const x of xs) m += x;
    m /= n;
    for (const x of xs) { v += (x - m) ** 2; if (Math.abs(x) > 1.96) tail++; }
    v /= n;
    expect(Math.abs(m)).toBeLessThan(0.015);
    expect(Math.abs(v - 1)).toBeLessThan(0.02);
    expect(Math.abs(tail / n - 0.05)).toBeLessThan(0.004);
    expect(xs.every(Number.isFinite)).toBe(true);
  });
});

describe('synthetic data: sizes checked before allocating', () => {
  it('rows 1e12 or inputWidth 1e8: one line saying how much memory it needs, at once', () => {
    for (const [opts, needle] of [[{ rows: 1e12 }, 'rows 1000000000000, inputWidth 32'], [{ inputWidth: 1e8 }, 'rows 4000, inputWidth 100000000']] as const) {
      const started = Date.now();
      expect(message(() => syntheticDataset(opts))).toMatch(
        new RegExp(`^synthetic data \\(${needle}\\): needs about [\\d.]+ TiB of memory \\(inputs [\\d.]+ TiB, .*\\), more than this machine's [\\d.]+ GiB; make it smaller$`));
      expect(Date.now() - started).toBeLessThan(1000);
    }
  });
});
