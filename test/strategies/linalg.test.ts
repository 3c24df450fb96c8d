import { describe, expect, it } from 'vitest';
import {
  leastSquaresMinNorm, matVec, minNormInHull, nnls, powerBalance, projectSimplex, solveLinear, symmetricEigen,
} from '../../src/strategies/linalg.js';
import { Rng } from '../../src/util/rng.js';

/** A random T×T Gramian of T vectors in ℝ^n (rank min(T, n)). */
function randomGram(rng: Rng, T: number, n: number): Float64Array {
  const v = Array.from({ length: T }, () => Array.from({ length: n }, () => rng.uniform(-1, 1)));
  const g = new Float64Array(T * T);
  for (let i = 0; i < T; i++) for (let j = 0; j < T; j++) g[i * T + j] = v[i].reduce((s, x, k) => s + x * v[j][k], 0);
  return g;
}

describe('solveLinear', () => {
  it('solves a system needing a row swap and rejects a singular one', () => {
    const a = Float64Array.from([0, 2, 1, 1]); // [[0,2],[1,1]]
    const x = solveLinear(a, [4, 3], 2)!;
    expect(Array.from(x)).toEqual([1, 2]);
    expect(solveLinear(Float64Array.from([1, 2, 2, 4]), [1, 2], 2)).toBeNull();
  });
});

describe('symmetricEigen', () => {
  it('diagonalises random symmetric matrices, singular ones included: A·v = λ·v, orthonormal V, descending λ', () => {
    const rng = new Rng(1);
    for (const [T, n] of [[1, 3], [2, 5], [4, 4], [6, 3], [8, 20]]) {
      const a = randomGram(rng, T, n);
      const { values, vectors } = symmetricEigen(a, T);
      for (let k = 0; k < T; k++) {
        if (k > 0) expect(values[k]).toBeLessThanOrEqual(values[k - 1]);
        const v = Array.from({ length: T }, (_, i) => vectors[i * T + k]);
        const av = matVec(a, v, T);
        for (let i = 0; i < T; i++) expect(Math.abs(av[i] - values[k] * v[i])).toBeLessThan(1e-12 * (1 + values[0]));
        for (let l = 0; l < T; l++) {
          const d = Array.from({ length: T }, (_, i) => vectors[i * T + k] * vectors[i * T + l]).reduce((s, x) => s + x, 0);
          expect(Math.abs(d - (k === l ? 1 : 0))).toBeLessThan(1e-12);
        }
      }
      if (T > n) for (let k = n; k < T; k++) expect(Math.abs(values[k])).toBeLessThan(1e-12 * values[0]);
    }
  });

  it('gets a hand-computed 2×2 decomposition', () => {
    const { values, vectors } = symmetricEigen(Float64Array.from([2, 1, 1, 2]), 2);
    expect(values[0]).toBeCloseTo(3, 14);
    expect(values[1]).toBeCloseTo(1, 14);
    expect(Math.abs(vectors[0])).toBeCloseTo(Math.SQRT1_2, 14);
    expect(vectors[0] * vectors[2]).toBeGreaterThan(0); // (1, 1)/√2 for λ = 3
  });
});

describe('leastSquaresMinNorm', () => {
  it('returns the minimum-norm solution of a consistent singular system', () => {
    // x1 + x2 = 2 (twice): min-norm solution (1, 1)
    const x = leastSquaresMinNorm(Float64Array.from([1, 1, 1, 1]), [2, 2], 2, 2);
    expect(x[0]).toBeCloseTo(1, 12);
    expect(x[1]).toBeCloseTo(1, 12);
  });
});

describe('nnls (normal-equation Lawson–Hanson)', () => {
  it('satisfies the KKT conditions on random problems, rank-deficient ones included', () => {
    const rng = new Rng(2);
    for (let trial = 0; trial < 200; trial++) {
      const T = 1 + rng.int(7);
      const n = 1 + rng.int(9);
      const g = randomGram(rng, T, n);
      // Atb must be Aᵀb for some b, i.e. in the range of G (else the problem is unbounded)
      const b = matVec(g, Float64Array.from({ length: T }, () => rng.uniform(-1, 1)), T);
      const x = nnls(g, b, T);
      const w = matVec(g, x, T).map((v, i) => b[i] - v); // Atb − AtA·x
      const scale = Math.max(...Array.from({ length: T }, (_, i) => g[i * T + i]), 1e-300);
      for (let i = 0; i < T; i++) {
        expect(x[i]).toBeGreaterThanOrEqual(0);
        expect(w[i]).toBeLessThanOrEqual(1e-9 * scale + 1e-12);
        if (x[i] > 0) expect(Math.abs(w[i])).toBeLessThanOrEqual(1e-9 * scale + 1e-12);
      }
    }
  });

  it('solves a hand-made problem', () => {
    // min (x1 − 1)² + (x2 + 1)² over x ≥ 0 → (1, 0)
    const x = nnls(Float64Array.from([1, 0, 0, 1]), [1, -1], 2);
    expect(Array.from(x)).toEqual([1, 0]);
  });
});

describe('projectSimplex', () => {
  it('projects onto the simplex', () => {
    expect(Array.from(projectSimplex([0.5, 0.5, 0], 3))).toEqual([0.5, 0.5, 0]);
    expect(Array.from(projectSimplex([2, 0, 0], 3))).toEqual([1, 0, 0]);
    const p = projectSimplex([0.3, 0.3, 0.9], 3); // shift all by −0.5/3
    expect(p[0]).toBeCloseTo(2 / 15, 14);
    expect(p[2]).toBeCloseTo(11 / 15, 14);
    const q = projectSimplex([1, 0.9, -3], 3); // shift the top two by −0.45, clip the last
    expect(q[0]).toBeCloseTo(0.55, 14);
    expect(q[1]).toBeCloseTo(0.45, 14);
    expect(q[2]).toBe(0);
  });
});

describe('minNormInHull', () => {
  it('meets the optimality conditions of the min-norm point on random Gramians (T = 3..8)', () => {
    const rng = new Rng(3);
    for (let trial = 0; trial < 300; trial++) {
      const T = 3 + rng.int(6);
      const g = randomGram(rng, T, 1 + rng.int(10));
      const lambda = minNormInHull(g, T);
      const q = matVec(g, lambda, T);
      const dd = lambda.reduce((s, l, i) => s + l * q[i], 0);
      const scale = Math.max(...Array.from({ length: T }, (_, i) => g[i * T + i]));
      expect(Math.abs(lambda.reduce((s, l) => s + l, 0) - 1)).toBeLessThan(1e-12);
      for (let i = 0; i < T; i++) {
        expect(lambda[i]).toBeGreaterThanOrEqual(0);
        expect(q[i]).toBeGreaterThanOrEqual(dd - 1e-9 * scale); // g_i·d ≥ ‖d‖²
        if (lambda[i] > 1e-6) expect(Math.abs(q[i] - dd)).toBeLessThan(1e-9 * scale); // equality on the support
      }
    }
  });
});

describe('powerBalance', () => {
  it('solves G·w = w^(−p) with w > 0 on random positive definite Gramians', () => {
    const rng = new Rng(4);
    for (const p of [1, 0.5, 2, 1 / 3]) {
      for (let trial = 0; trial < 40; trial++) {
        const T = 1 + rng.int(6);
        const g = randomGram(rng, T, T + 3);
        const scale = Math.exp(rng.uniform(-8, 8)); // the solver must not care about the gradients' scale
        for (let i = 0; i < T * T; i++) g[i] *= scale;
        const w = powerBalance(g, T, p);
        const gw = matVec(g, w, T);
        for (let i = 0; i < T; i++) {
          expect(w[i]).toBeGreaterThan(0);
          expect(Math.abs(gw[i] * Math.pow(w[i], p) - 1)).toBeLessThan(1e-6);
        }
      }
    }
  });

  it('gives weight 0 to a task with a zero gradient', () => {
    const g = Float64Array.from([4, 0, 0, 0]);
    const w = powerBalance(g, 2, 1);
    expect(w[0]).toBeCloseTo(0.5, 6);
    expect(w[1]).toBe(0);
  });
});
