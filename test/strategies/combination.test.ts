/**
 * Properties and hand-computed values of the gradient-combination strategies,
 * on the js kernels and (when built) the native ones.
 */

import { describe, expect, it } from 'vitest';
import type { Kernels } from '../../src/kernels/types.js';
import { strategies, strategyRng } from '../../src/strategies/index.js';
import {
  backends, combo, comboErr, dot, gramOf, norm, permute, randomGrads, relErr, Rng, run, vecs,
} from './helpers.js';

type Name = keyof typeof strategies;

/** Random gradient sets with conflicts: T tasks in ℝ^n, norms spread over two orders of magnitude. */
function conflictingSets(seed: number, count: number): Float32Array[][] {
  const rng = new Rng(seed);
  const sets: Float32Array[][] = [];
  for (let k = 0; k < count; k++) {
    const T = 2 + rng.int(5);
    const n = rng.int(2) === 0 ? T + 1 + rng.int(3) : 24;
    const scales = Array.from({ length: T }, () => Math.exp(rng.uniform(-2.3, 2.3)));
    sets.push(randomGrads(rng, T, n, scales));
  }
  return sets;
}

/** g_i·d ≥ −tol for every task, tol from the float32 rounding of d = Σ w_k g_k. */
function expectNonConflicting(label: string, grads: Float32Array[], update: Float32Array, weights: Float64Array | null): void {
  const wScale = weights === null ? norm(update) : grads.reduce((s, g, k) => s + Math.abs(weights[k]) * norm(g), 0);
  for (let i = 0; i < grads.length; i++) {
    expect(dot(grads[i], update), `${label}: task ${i}`).toBeGreaterThanOrEqual(-1e-5 * norm(grads[i]) * wScale);
  }
}

/** Reference PCGrad on the vectors, in float64, drawing the task orders from rng exactly as the strategy does. */
function pcgradReference(grads: Float32Array[], rng: Rng): Float64Array {
  const T = grads.length;
  const out = new Float64Array(grads[0].length);
  for (let i = 0; i < T; i++) {
    const pc = Float64Array.from(grads[i]);
    const order: number[] = [];
    for (let j = 0; j < T; j++) if (j !== i) order.push(j);
    rng.shuffle(order);
    for (const j of order) {
      const d = dot(pc, grads[j]);
      const gg = dot(grads[j], grads[j]);
      if (d < 0 && gg > 0) for (let e = 0; e < pc.length; e++) pc[e] -= d / gg * grads[j][e];
    }
    for (let e = 0; e < out.length; e++) out[e] += pc[e];
  }
  return out;
}

/** Reference GradVac on the vectors, in float64 (targets updated in place). */
function gradvacReference(grads: Float32Array[], rng: Rng, targets: Float64Array, beta: number): Float64Array {
  const T = grads.length;
  const out = new Float64Array(grads[0].length);
  for (let i = 0; i < T; i++) {
    const v = Float64Array.from(grads[i]);
    const order: number[] = [];
    for (let j = 0; j < T; j++) if (j !== i) order.push(j);
    rng.shuffle(order);
    for (const j of order) {
      const rho = dot(v, grads[j]) / (norm(v) * norm(grads[j]));
      const phi = targets[i * T + j];
      if (rho < phi) {
        const w = norm(v) * (phi * Math.sqrt(1 - rho * rho) - rho * Math.sqrt(1 - phi * phi))
          / (norm(grads[j]) * Math.sqrt(1 - phi * phi));
        for (let e = 0; e < v.length; e++) v[e] += w * grads[j][e];
      }
      targets[i * T + j] = (1 - beta) * phi + beta * rho;
    }
    for (let e = 0; e < out.length; e++) out[e] += v[e];
  }
  return out;
}

function expectVec(label: string, got: ArrayLike<number>, want: number[], tol = 1e-6): void {
  expect(got.length, label).toBe(want.length);
  for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i]), `${label}[${i}]`).toBeLessThan(tol);
}

for (const [label, k] of backends()) {
  describe(`gradient combinations (${label} kernels)`, () => {
    describe('equal to the plain sum (or the stated scaling of it) when nothing conflicts', () => {
      const orthogonal = vecs([2, 0, 0, 0], [0, 2, 0, 0], [0, 0, 2, 0]);
      const identical = vecs([1, -2, 0.5], [1, -2, 0.5], [1, -2, 0.5]);
      const aligned = vecs([1, 0.2, 0.1], [0.5, 1, 0], [0.3, 0.3, 1]); // all pairwise dots > 0
      const sumOf = (g: Float32Array[]): Float32Array => run(k, 'sum', g).update;
      const meanOf = (g: Float32Array[]): Float32Array => run(k, 'mean', g).update;
      const cases: [Name, string, Float32Array[], 'sum' | 'mean', Record<string, unknown>?][] = [
        ['pcgrad', 'aligned', aligned, 'sum'],
        ['pcgrad', 'orthogonal', orthogonal, 'sum'],
        ['upgrad', 'aligned', aligned, 'sum'],
        ['upgrad', 'orthogonal', orthogonal, 'sum'],
        ['dualproj', 'aligned', aligned, 'sum'],
        ['dualproj', 'orthogonal', orthogonal, 'sum'],
        ['gradvac', 'aligned', aligned, 'sum'],
        ['gradvac', 'orthogonal', orthogonal, 'sum'],
        ['graddrop', 'orthogonal', orthogonal, 'sum'],
        ['graddrop', 'identical', identical, 'sum'],
        ['aligned_mtl', 'orthogonal', orthogonal, 'sum'],
        ['aligned_mtl', 'identical', identical, 'sum'],
        ['mgda', 'orthogonal', orthogonal, 'mean'],
        ['mgda', 'identical', identical, 'mean'],
        ['imtlg', 'orthogonal', orthogonal, 'mean'],
        ['imtlg', 'identical', identical, 'mean'],
        ['cagrad', 'aligned, c = 0', aligned, 'mean', { c: 0 }],
        ['fixed', 'aligned, default weights', aligned, 'sum'],
      ];
      for (const [name, what, grads, scale, options] of cases) {
        it(`${name} on ${what} gradients = ${scale}`, () => {
          const got = run(k, name, grads, { options }).update;
          const want = scale === 'sum' ? sumOf(grads) : meanOf(grads);
          expect(relErr(got, want)).toBeLessThan(1e-6);
        });
      }
      it('pcgrad, upgrad, dualproj and cagrad(c = 0) reproduce sum / mean bit for bit', () => {
        for (const name of ['pcgrad', 'upgrad', 'dualproj'] as const) expect(run(k, name, aligned).update).toEqual(sumOf(aligned));
        expect(run(k, 'cagrad', aligned, { options: { c: 0 } }).update).toEqual(meanOf(aligned));
      });
    });

    describe('sum and mean', () => {
      it('add and average by hand', () => {
        const g = vecs([1, 2], [3, -5]);
        expectVec('sum', run(k, 'sum', g).update, [4, -3]);
        expectVec('mean', run(k, 'mean', g).update, [2, -1.5]);
      });
    });

    describe('pcgrad', () => {
      it('equals the hand-computed projection on two conflicting 3-D gradients', () => {
        // g1·g2 = −1, ‖g1‖² = ‖g2‖² = 2: g1 − (−1/2)g2 = (0.5, 1, 0.5), g2 − (−1/2)g1 = (−0.5, 0.5, 1)
        const r = run(k, 'pcgrad', vecs([1, 1, 0], [-1, 0, 1]));
        expectVec('update', r.update, [0, 1.5, 1.5]);
        expectVec('weights', r.weights!, [1.5, 1.5], 1e-12);
      });

      it('projects only on negative dot products, using the original gradients', () => {
        // g3 conflicts with g1 only; g1 conflicts with g3 only; g2 conflicts with nobody
        const g = vecs([1, 0, 0], [0, 1, 0], [-1, 1, 0]);
        // g1 → g1 − (−1/2)g3 = (0.5, 0.5, 0); g2 stays; g3 → g3 − (−1)g1 = (0, 1, 0)
        expectVec('update', run(k, 'pcgrad', g, { seed: 5 }).update, [0.5, 2.5, 0]);
      });

      it('matches a float64 vector implementation of the paper\'s algorithm with the same random orders', () => {
        for (const [t, grads] of conflictingSets(21, 60).entries()) {
          const r = run(k, 'pcgrad', grads, { seed: 9, step: t });
          const want = pcgradReference(grads, strategyRng(9, t));
          expect(comboErr(r.update, grads, r.weights!), `set ${t}`).toBeLessThan(1e-6);
          const scale = grads.reduce((s, g) => s + norm(g), 0) * 4;
          for (let e = 0; e < want.length; e++) expect(Math.abs(r.update[e] - want[e])).toBeLessThan(1e-5 * scale);
        }
      });
    });

    describe('mgda', () => {
      it('two tasks: the closed form γ = clip(((g₂−g₁)·g₂)/‖g₁−g₂‖², 0, 1)', () => {
        // γ = (g₂−g₁)·g₂ / ‖g₁−g₂‖² = 4/5: d = 0.8·(1,0) + 0.2·(0,2) = (0.8, 0.4)
        expectVec('interior', run(k, 'mgda', vecs([1, 0], [0, 2])).update, [0.8, 0.4]);
        // γ = 2 → clipped to 1: d = g₁
        expectVec('clipped', run(k, 'mgda', vecs([1, 0], [2, 0])).update, [1, 0]);
        const rng = new Rng(22);
        for (let t = 0; t < 50; t++) {
          const [g1, g2] = randomGrads(rng, 2, 5, [1, Math.exp(rng.uniform(-2, 2))]);
          const diff = Array.from(g1, (v, i) => v - g2[i]); // float64, not Float32Array.map
          const gamma = Math.min(1, Math.max(0, dot(Array.from(g2, (v, i) => v - g1[i]), g2) / dot(diff, diff)));
          expect(relErr(run(k, 'mgda', [g1, g2]).update, combo([g1, g2], [gamma, 1 - gamma]))).toBeLessThan(1e-6);
        }
      });

      it('three tasks by hand: the centroid of an orthonormal triple; a gradient inside the hull gets λ = 0', () => {
        expectVec('centroid', run(k, 'mgda', vecs([1, 0, 0], [0, 1, 0], [0, 0, 1])).update, [1 / 3, 1 / 3, 1 / 3]);
        const r = run(k, 'mgda', vecs([1, 0], [0, 1], [1, 1]));
        expectVec('update', r.update, [0.5, 0.5]);
        expectVec('weights', r.weights!, [0.5, 0.5, 0], 1e-9);
      });

      it('meets its optimality conditions: λ on the simplex, g_i·d ≥ ‖d‖², equality where λ_i > 0', () => {
        for (const [t, grads] of conflictingSets(23, 150).entries()) {
          const r = run(k, 'mgda', grads);
          const G = gramOf(k, grads);
          const T = grads.length;
          const lambda = r.weights!;
          const q = Array.from({ length: T }, (_, i) => lambda.reduce((s, l, j) => s + G[i * T + j] * l, 0));
          const dd = lambda.reduce((s, l, i) => s + l * q[i], 0);
          const top = Math.max(...grads.map((g) => dot(g, g)));
          expect(Math.abs(lambda.reduce((s, l) => s + l, 0) - 1)).toBeLessThan(1e-12);
          for (let i = 0; i < T; i++) {
            expect(lambda[i]).toBeGreaterThanOrEqual(0);
            expect(q[i] - dd, `set ${t} task ${i}`).toBeGreaterThanOrEqual(-1e-11 * top);
            if (lambda[i] > 1e-8) expect(Math.abs(q[i] - dd), `set ${t} task ${i}`).toBeLessThan(1e-11 * top);
          }
          expectNonConflicting(`set ${t}`, grads, r.update, lambda);
        }
      });
    });

    describe('cagrad', () => {
      it('c = 0 is the mean, whatever the rescaling', () => {
        for (const grads of conflictingSets(24, 20)) {
          for (const rescale of [0, 1, 2]) {
            expect(run(k, 'cagrad', grads, { options: { c: 0, rescale } }).update).toEqual(run(k, 'mean', grads).update);
          }
        }
      });

      it('two tasks: matches the dual min_w g_w·g0 + c‖g0‖‖g_w‖ minimised by brute force, ÷(1 + c²)', () => {
        const rng = new Rng(25);
        for (let t = 0; t < 30; t++) {
          const grads = randomGrads(rng, 2, 6, [1, Math.exp(rng.uniform(-1.5, 1.5))]);
          const c = [0.2, 0.4, 0.9][t % 3];
          const g0 = combo(grads, [0.5, 0.5]);
          const f = (gam: number): number => {
            const gw = combo(grads, [gam, 1 - gam]);
            return dot(gw, g0) + c * norm(g0) * norm(gw);
          };
          let best = 0;
          for (let i = 0; i <= 2000; i++) if (f(i / 2000) < f(best)) best = i / 2000;
          let lo = Math.max(0, best - 1e-3); let hi = Math.min(1, best + 1e-3);
          for (let i = 0; i < 200; i++) { // golden-section refinement
            const a = hi - 0.618 * (hi - lo); const b = lo + 0.618 * (hi - lo);
            if (f(a) < f(b)) hi = b; else lo = a;
          }
          const gam = (lo + hi) / 2;
          const gw = combo(grads, [gam, 1 - gam]);
          const want = g0.map((v, e) => (v + c * norm(g0) / norm(gw) * gw[e]) / (1 + c * c));
          expect(relErr(run(k, 'cagrad', grads, { options: { c } }).update, want), `case ${t}`).toBeLessThan(1e-5);
        }
      });

      it('maximises the worst task improvement over the ball ‖d − g0‖ ≤ c‖g0‖ (checked against random points of the ball)', () => {
        const rng = new Rng(26);
        for (const [t, grads] of conflictingSets(27, 40).entries()) {
          const c = 0.4;
          const T = grads.length;
          const d = Float64Array.from(run(k, 'cagrad', grads, { options: { c, rescale: 0 } }).update);
          const g0 = combo(grads, new Array(T).fill(1 / T));
          const radius = c * norm(g0);
          expect(Math.abs(norm(d.map((v, e) => v - g0[e])) - radius), `set ${t}`).toBeLessThan(1e-4 * norm(g0));
          const worst = (x: ArrayLike<number>): number => Math.min(...grads.map((g) => dot(g, x)));
          const mine = worst(d);
          const scale = norm(g0) * Math.max(...grads.map(norm));
          for (let p = 0; p < 200; p++) {
            const dir = Array.from({ length: d.length }, () => rng.uniform(-1, 1));
            const r = radius * Math.pow(rng.next(), 1 / d.length) / norm(dir);
            expect(worst(g0.map((v, e) => v + r * dir[e]))).toBeLessThanOrEqual(mine + 1e-5 * scale);
          }
        }
      });

      it('never conflicts for c ≥ 1', () => {
        for (const c of [1, 2]) {
          for (const [t, grads] of conflictingSets(28, 80).entries()) {
            const r = run(k, 'cagrad', grads, { options: { c } });
            expectNonConflicting(`c=${c} set ${t}`, grads, r.update, r.weights);
          }
        }
      });

      it('can conflict for c < 1 (a small gradient pointing away from the mean), as documented', () => {
        const grads = vecs([1, 0], [-10, 1]);
        expect(dot(grads[0], run(k, 'cagrad', grads, { options: { c: 0.4 } }).update)).toBeLessThan(0);
      });

      it('rescale 0 / 1 / 2 divide the same vector by 1, 1 + c², 1 + c', () => {
        const grads = conflictingSets(29, 1)[0];
        const c = 0.5;
        const d0 = run(k, 'cagrad', grads, { options: { c, rescale: 0 } }).update;
        const d1 = run(k, 'cagrad', grads, { options: { c, rescale: 1 } }).update;
        const d2 = run(k, 'cagrad', grads, { options: { c, rescale: 2 } }).update;
        expect(relErr(d1, d0.map((v) => v / 1.25))).toBeLessThan(1e-6);
        expect(relErr(d2, d0.map((v) => v / 1.5))).toBeLessThan(1e-6);
      });
    });

    describe('imtlg', () => {
      it('two tasks: the paper\'s closed form α₂ = g₁·(u₁−u₂) / ((g₁−g₂)·(u₁−u₂)), α₁ = 1 − α₂', () => {
        const rng = new Rng(30);
        for (let t = 0; t < 40; t++) {
          const [g1, g2] = randomGrads(rng, 2, 4, [1, Math.exp(rng.uniform(-2, 2))]);
          const u = [g1, g2].map((g) => Array.from(g, (v) => v / norm(g))); // float64
          const du = u[0].map((v, i) => v - u[1][i]);
          const a2 = dot(g1, du) / dot(Array.from(g1, (v, i) => v - g2[i]), du);
          const r = run(k, 'imtlg', [g1, g2]);
          expectVec(`case ${t}`, r.weights!, [1 - a2, a2], 1e-9 * (1 + Math.abs(a2)));
        }
        // by hand: orthogonal with norms 1 and 3 → α = (3/4, 1/4), d = (0.75, 0.75)
        expectVec('hand', run(k, 'imtlg', vecs([1, 0], [0, 3])).update, [0.75, 0.75]);
      });

      it('gives the update equal projections on every unit gradient, with Σα = 1', () => {
        for (const [t, grads] of conflictingSets(31, 60).entries()) {
          if (grads[0].length < grads.length) continue; // needs independent gradients to be unique
          const r = run(k, 'imtlg', grads);
          const d = combo(grads, r.weights!);
          const proj = grads.map((g) => dot(d, g) / norm(g));
          const scale = norm(d);
          for (const p of proj) expect(Math.abs(p - proj[0]), `set ${t}`).toBeLessThan(1e-8 * Math.max(scale, 1e-12) + 1e-12);
          expect(Math.abs(r.weights!.reduce((s, a) => s + a, 0) - 1)).toBeLessThan(1e-9);
        }
      });

      it('gives a zero gradient weight 0 and handles exactly opposite gradients', () => {
        const r = run(k, 'imtlg', vecs([1, 0], [0, 0], [0, 2]));
        expectVec('weights', r.weights!, [2 / 3, 0, 1 / 3], 1e-12);
        const opposite = run(k, 'imtlg', vecs([1, 0], [-1, 0]));
        expectVec('opposite', opposite.weights!, [0.5, 0.5], 1e-12);
      });
    });

    describe('aligned_mtl', () => {
      it('hand values: orthogonal gradients are rescaled to the smallest norm', () => {
        // G = diag(4, 1): B = 1·diag(1/2, 1), α = (0.5, 1), d = (1, 1)
        const r = run(k, 'aligned_mtl', vecs([2, 0], [0, 1]));
        expectVec('weights', r.weights!, [0.5, 1], 1e-12);
        expectVec('update', r.update, [1, 1]);
      });

      it('two tasks: α = 1ᵀ·√λ_min·G^(−1/2) from the closed-form 2×2 square root', () => {
        const rng = new Rng(32);
        for (let t = 0; t < 40; t++) {
          const grads = randomGrads(rng, 2, 5, [1, Math.exp(rng.uniform(-1, 1))]);
          const G = gramOf(k, grads);
          const tr = G[0] + G[3];
          const det = G[0] * G[3] - G[1] * G[2];
          // √G = (G + √det·I)/√(tr + 2√det); G^(−1/2) = (√G)⁻¹
          const s = Math.sqrt(det); const q = Math.sqrt(tr + 2 * s);
          const r0 = [(G[0] + s) / q, G[1] / q, G[2] / q, (G[3] + s) / q];
          const rd = r0[0] * r0[3] - r0[1] * r0[2];
          const inv = [r0[3] / rd, -r0[1] / rd, -r0[2] / rd, r0[0] / rd];
          const lmin = (tr - Math.sqrt(tr * tr - 4 * det)) / 2;
          const alpha = [inv[0] + inv[2], inv[1] + inv[3]].map((v) => v * Math.sqrt(lmin));
          expectVec(`case ${t}`, run(k, 'aligned_mtl', grads).weights!, alpha, 1e-8 * Math.max(...alpha.map(Math.abs)));
        }
      });
    });

    describe('upgrad', () => {
      it('hand value: each gradient projected onto the dual cone, then added', () => {
        // π(g1) = g1 − (g1·g2/‖g2‖²)g2 = (0.5, 0.5); π(g2) = g2 − (g2·g1/‖g1‖²)g1 = (0, 1)
        expectVec('update', run(k, 'upgrad', vecs([1, 0], [-1, 1])).update, [0.5, 1.5]);
      });

      it('equals PCGrad for two tasks (the projection onto the other\'s normal plane stays in the cone)', () => {
        for (const [t, grads] of conflictingSets(33, 80).entries()) {
          if (grads.length !== 2) continue;
          expect(relErr(run(k, 'upgrad', grads).update, run(k, 'pcgrad', grads).update), `set ${t}`).toBeLessThan(1e-5);
        }
      });

      it('never conflicts, is invariant to the task order and linear under positive scaling', () => {
        const rng = new Rng(34);
        for (const [t, grads] of conflictingSets(35, 120).entries()) {
          const r = run(k, 'upgrad', grads);
          expectNonConflicting(`set ${t}`, grads, r.update, r.weights);
          const order = rng.shuffle(Array.from({ length: grads.length }, (_, i) => i));
          const permuted = run(k, 'upgrad', permute(grads, order)).update;
          const tol = 1e-5 * r.weights!.reduce((s, w, i) => s + Math.abs(w) * norm(grads[i]), 0);
          for (let e = 0; e < permuted.length; e++) expect(Math.abs(permuted[e] - r.update[e]), `set ${t}`).toBeLessThan(tol);
          for (const s of [2.5, 1e-3]) {
            const scaled = run(k, 'upgrad', grads.map((g) => g.map((v) => v * s))).update;
            for (let e = 0; e < scaled.length; e++) {
              expect(Math.abs(scaled[e] - s * r.update[e]), `set ${t} ×${s}`).toBeLessThan(s * tol);
            }
          }
        }
      });
    });

    describe('dualproj', () => {
      it('hand value: the sum (−1, 1) projected onto {x₁ ≥ 0, x₂ ≥ 2x₁} is (0, 1)', () => {
        expectVec('update', run(k, 'dualproj', vecs([1, 0], [-2, 1])).update, [0, 1]);
      });

      it('is the projection of the sum onto the dual cone: v ≥ 1, G·v ≥ 0, (G·v)_i = 0 where v_i > 1; never conflicts', () => {
        for (const [t, grads] of conflictingSets(36, 120).entries()) {
          const r = run(k, 'dualproj', grads);
          const v = r.weights!;
          const G = gramOf(k, grads);
          const T = grads.length;
          const top = Math.max(...grads.map((g) => dot(g, g)));
          for (let i = 0; i < T; i++) {
            const gv = v.reduce((s, x, j) => s + G[i * T + j] * x, 0);
            expect(v[i]).toBeGreaterThanOrEqual(1);
            expect(gv, `set ${t}`).toBeGreaterThanOrEqual(-1e-9 * top * T);
            if (v[i] > 1 + 1e-9) expect(Math.abs(gv), `set ${t}`).toBeLessThan(1e-9 * top * v.reduce((s, x) => s + x, 0));
          }
          expectNonConflicting(`set ${t}`, grads, r.update, r.weights);
        }
      });
    });

    describe('order invariance', () => {
      for (const name of ['mgda', 'imtlg', 'aligned_mtl', 'dualproj'] as const) {
        it(`${name} does not depend on the task order`, () => {
          const rng = new Rng(37);
          for (const [t, grads] of conflictingSets(38, 60).entries()) {
            if (name === 'imtlg' && grads[0].length < grads.length) continue; // not unique then
            const r = run(k, name, grads);
            const order = rng.shuffle(Array.from({ length: grads.length }, (_, i) => i));
            const p = run(k, name, permute(grads, order));
            const tol = 1e-6 * r.weights!.reduce((s, w, i) => s + Math.abs(w) * norm(grads[i]), 0);
            for (let e = 0; e < p.update.length; e++) expect(Math.abs(p.update[e] - r.update[e]), `set ${t}`).toBeLessThan(tol);
          }
        });
      }
    });

    describe('gradvac', () => {
      it('with its initial targets (0) is PCGrad', () => {
        for (const [t, grads] of conflictingSets(39, 40).entries()) {
          const a = run(k, 'gradvac', grads, { seed: 4, step: t }).update;
          const b = run(k, 'pcgrad', grads, { seed: 4, step: t }).update;
          expect(relErr(a, b), `set ${t}`).toBeLessThan(1e-5);
        }
      });

      it('hand value: raises cos(g1, g2) = 0 to the target 0.5', () => {
        const T = 2;
        const targets = Float64Array.from([0, 0.5, 0.5, 0]);
        const r = run(k, 'gradvac', vecs([1, 0], [0, 1]), { state: { targets }, options: { beta: 0.1 } });
        // g1 += (0.5·1 − 0)/(1·√0.75)·g2 = (1, 1/√3); g2 likewise: sum (1 + 1/√3) each
        expectVec('update', r.update, [1 + 1 / Math.sqrt(3), 1 + 1 / Math.sqrt(3)]);
        expectVec('targets', (r.state as { targets: Float64Array }).targets, [0, 0.45, 0.45, 0], 1e-12);
        expect(targets[1]).toBe(0.5); // the state passed in is untouched
        expect(T).toBe(2);
      });

      it('matches a float64 vector implementation over several steps, targets included', () => {
        const rng = new Rng(40);
        const T = 4;
        const targets = new Float64Array(T * T);
        let state: unknown;
        for (let step = 0; step < 8; step++) {
          const grads = randomGrads(rng, T, 12);
          const r = run(k, 'gradvac', grads, { seed: 2, step, state, options: { beta: 0.3 } });
          const want = gradvacReference(grads, strategyRng(2, step), targets, 0.3);
          expect(relErr(r.update, want), `step ${step}`).toBeLessThan(1e-5);
          state = r.state;
          expectVec(`targets ${step}`, (state as { targets: Float64Array }).targets, Array.from(targets), 1e-9);
        }
      });
    });

    describe('graddrop', () => {
      it('keeps, per element, either all positive or all negative task gradients', () => {
        const rng = new Rng(41);
        const grads = randomGrads(rng, 4, 500);
        const out = run(k, 'graddrop', grads, { seed: 3 }).update;
        let pos = 0; let neg = 0;
        for (let e = 0; e < out.length; e++) {
          const p = grads.reduce((s, g) => s + Math.max(g[e], 0), 0);
          const m = grads.reduce((s, g) => s + Math.min(g[e], 0), 0);
          const isPos = Math.abs(out[e] - p) <= 1e-6 * (p - m);
          const isNeg = Math.abs(out[e] - m) <= 1e-6 * (p - m);
          expect(isPos || isNeg, `element ${e}`).toBe(true);
          if (isPos) pos++; else neg++;
        }
        expect(pos).toBeGreaterThan(100);
        expect(neg).toBeGreaterThan(100);
      });

      it('keeps the positive side with probability P = ½(1 + Σg/Σ|g|)', () => {
        const n = 20000;
        const grads = [new Float32Array(n).fill(3), new Float32Array(n).fill(-1)]; // P = ½(1 + 2/4) = 0.75
        const out = run(k, 'graddrop', grads, { seed: 5 }).update;
        const kept = out.reduce((s, v) => s + (v === 3 ? 1 : 0), 0) / n;
        expect(out.every((v) => v === 3 || v === -1)).toBe(true);
        expect(Math.abs(kept - 0.75)).toBeLessThan(0.015); // ~5 standard deviations
      });

      it('leak = 1 is the plain sum; sign-agreeing gradients give the sum', () => {
        const rng = new Rng(42);
        const grads = randomGrads(rng, 3, 50);
        expect(relErr(run(k, 'graddrop', grads, { options: { leak: 1 } }).update, combo(grads, [1, 1, 1]))).toBeLessThan(1e-6);
        const agree = grads.map((g) => g.map(Math.abs));
        expect(relErr(run(k, 'graddrop', agree).update, combo(agree, [1, 1, 1]))).toBeLessThan(1e-6);
      });
    });

    describe('nashmtl and fairgrad', () => {
      it('nashmtl solves G·α = 1/α (α > 0); orthogonal gradients give Σ g_i/‖g_i‖', () => {
        const r = run(k, 'nashmtl', vecs([1, 0, 0], [0, 2, 0], [0, 0, 0.5]), { options: { maxNorm: 0 } });
        expectVec('weights', r.weights!, [1, 0.5, 2], 1e-9);
        expectVec('update', r.update, [1, 1, 1]);
        for (const [t, grads] of conflictingSets(43, 60).entries()) {
          if (grads[0].length < grads.length) continue; // G singular: no exact solution
          const w = run(k, 'nashmtl', grads, { options: { maxNorm: 0 } }).weights!;
          const G = gramOf(k, grads);
          const T = grads.length;
          for (let i = 0; i < T; i++) {
            const gw = w.reduce((s, x, j) => s + G[i * T + j] * x, 0);
            expect(w[i]).toBeGreaterThan(0);
            expect(Math.abs(gw * w[i] - 1), `set ${t}`).toBeLessThan(1e-6);
          }
        }
      });

      it('exactly opposite gradients: finite weights, a (nearly) zero update', () => {
        for (const name of ['nashmtl', 'fairgrad'] as const) {
          const r = run(k, name, vecs([1, -2, 0.5], [-1, 2, -0.5]), { options: { maxNorm: 0 } });
          const w = r.weights!;
          expect(w.every((x) => Number.isFinite(x) && x > 0), name).toBe(true);
          // no solution exists: the ridge-regularised weights cancel (up to float32 rounding)
          expect(norm(r.update), name).toBeLessThan(1e-6 * (w[0] + w[1]) * norm(vecs([1, -2, 0.5])[0]));
        }
      });

      it('nashmtl is independent of the gradients\' scale, and maxNorm clips the update\'s norm', () => {
        const grads = conflictingSets(44, 1)[0];
        const a = run(k, 'nashmtl', grads, { options: { maxNorm: 0 } }).update;
        const b = run(k, 'nashmtl', grads.map((g) => g.map((v) => v * 10)), { options: { maxNorm: 0 } }).update;
        expect(relErr(b, a)).toBeLessThan(1e-5);
        const clipped = run(k, 'nashmtl', grads, { options: { maxNorm: 0.5 } }).update;
        expect(norm(a)).toBeGreaterThan(0.5);
        expect(Math.abs(norm(clipped) - 0.5)).toBeLessThan(1e-5);
        expect(relErr(clipped, a.map((v) => v * 0.5 / norm(a)))).toBeLessThan(1e-5);
      });

      it('fairgrad with α = 1 is nashmtl; otherwise it solves G·w = w^(−1/α)', () => {
        for (const grads of conflictingSets(45, 10)) {
          expect(run(k, 'fairgrad', grads, { options: { alpha: 1 } }).update).toEqual(run(k, 'nashmtl', grads).update);
        }
        for (const alpha of [0.5, 2, 5]) {
          // orthogonal: ‖g_i‖²·w_i = w_i^(−1/α) → w_i = ‖g_i‖^(−2α/(α+1))
          const r = run(k, 'fairgrad', vecs([1, 0, 0], [0, 2, 0], [0, 0, 0.5]), { options: { alpha, maxNorm: 0 } });
          expectVec(`α=${alpha}`, r.weights!, [1, 2, 0.5].map((nrm) => Math.pow(nrm, -2 * alpha / (alpha + 1))), 1e-8);
          for (const [t, grads] of conflictingSets(46, 30).entries()) {
            if (grads[0].length < grads.length) continue;
            const w = run(k, 'fairgrad', grads, { options: { alpha, maxNorm: 0 } }).weights!;
            const G = gramOf(k, grads);
            const T = grads.length;
            for (let i = 0; i < T; i++) {
              const gw = w.reduce((s, x, j) => s + G[i * T + j] * x, 0);
              expect(Math.abs(gw * Math.pow(w[i], 1 / alpha) - 1), `α=${alpha} set ${t}`).toBeLessThan(1e-6);
            }
          }
        }
      });
    });
  });
}

/** Keeps the Kernels type import used when only one backend exists. */
export type { Kernels };
