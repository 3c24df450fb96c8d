/**
 * The conformance suite every `Kernels` backend must pass: each kernel against the
 * float64 references of reference.ts, on views at odd offsets inside guarded buffers,
 * and each reference derivative against finite differences.
 *
 * Usage: `kernelSuite('js', jsKernels)` from a *.test.ts file.
 */

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { AdamHyper, Kernels, LossKind, SgdHyper } from '../../src/kernels/types.js';
import {
  ACTIVATIONS, LOSS_COUNT, LOSS_KINDS, LOSS_METRIC, LOSS_STATS_LENGTH, LOSS_SUM, LOSS_WEIGHT,
} from '../../src/kernels/types.js';
import {
  Rng, SENTINEL, actKinks, bitMismatch, centralDiff, guarded, guardedCopy, mismatch, nearLossKink, randomF32, refActGrad,
  refAct, refAdam, refErf, refErfc, refGemm, refLoss, refSgd, relTol, strayWrite,
} from './reference.js';

export interface KernelSuiteOptions {
  /** Multiplier on the gemm tolerance (k + 4)·2^-23·(|alpha|·Σ|a·b| + |beta·c|). Default 1. */
  gemmTol?: number;
  /** Relative tolerance of elementwise results against the float64 references. Default 2e-6. */
  rtol?: number;
}

/** Registers the describe/it blocks checking backend `k`. */
export function kernelSuite(name: string, k: Kernels, opts: KernelSuiteOptions = {}): void {
  const gemmTol = opts.gemmTol ?? 1;
  const rtol = opts.rtol ?? 2e-6;

  describe(`${name} kernels`, () => {
    describe('references', () => referenceChecks());
    describe('gemm', () => gemmTests(k, gemmTol));
    describe('bias and activations', () => activationTests(k, rtol));
    describe('losses', () => lossTests(k, rtol));
    describe('vector ops', () => vectorTests(k, rtol));
    describe('optimizers', () => optimizerTests(k, rtol));
  });
}

/** Bitwise comparison of a whole buffer with its earlier copy (inputs must stay unchanged). */
function modified(label: string, now: Float32Array, before: Float32Array): string | null {
  return mismatch(label, now, before, 0);
}

// ---------------------------------------------------------------------------
// the references themselves

/** Points that probe saturation, tails and kinks, then uniform ones. */
function activationPoints(rng: Rng): number[] {
  const special = [0, 1e-3, -1e-3, 0.5, -0.5, 1, -1, 3, -3, 6, -6, 20, -20, 80, -80];
  return special.concat(Array.from(randomF32(rng, 40, -6, 6)));
}

function referenceChecks(): void {
  it('erf/erfc match tabulated values', () => {
    const table: [number, number][] = [ // x, erf(x)
      [0, 0], [0.5, 0.5204998778130465], [1, 0.8427007929497149], [2, 0.9953222650189527],
      [-1, -0.8427007929497149],
    ];
    for (const [x, e] of table) expect(refErf(x)).toBeCloseTo(e, 15);
    const tails: [number, number][] = [ // x, erfc(x)
      [3, 2.209049699858544e-5], [5, 1.5374597944280349e-12], [10, 2.088487583762545e-45],
      [-1, 1.8427007929497148],
    ];
    for (const [x, e] of tails) expect(Math.abs(refErfc(x) / e - 1)).toBeLessThan(1e-13);
    // exact GELU, not the tanh approximation (0.8411919906082768)
    expect(refAct('gelu', 1)).toBeCloseTo(0.8413447460685429, 15);
  });

  it.each(ACTIVATIONS)('%s derivative matches finite differences', (act) => {
    const rng = new Rng(11, ACTIVATIONS.indexOf(act));
    for (const z of activationPoints(rng)) {
      const h = 1e-6 * Math.max(1, Math.abs(z));
      if (actKinks(act).some((x) => Math.abs(z - x) < 2 * h)) continue;
      const fd = centralDiff((x) => refAct(act, x), z, h);
      expect(Math.abs(fd - refActGrad(act, z)), `${act}'(${z})`).toBeLessThan(1e-6 * (1 + Math.abs(fd)));
    }
  });

  const lossCases: [LossKind, boolean][] = [...LOSS_KINDS.map((k): [LossKind, boolean] => [k, false]),
    ...CLASSIFICATION_KINDS.map((k): [LossKind, boolean] => [k, true])];
  it.each(lossCases)('%s gradient matches finite differences (class weights: %s)', (kind, weighted) => {
    const { rows, cols, pred, target } = lossData(kind, new Rng(12, LOSS_KINDS.indexOf(kind)));
    const weights = weighted ? lossWeights(kind, cols) : undefined;
    const x = Float64Array.from(pred);
    const ref = refLoss(kind, rows, cols, x, target, weights);
    const h = 1e-6;
    for (let i = 0; i < x.length; i++) {
      const t = kind === 'cross_entropy' ? target[Math.floor(i / cols)] : target[i];
      if (nearLossKink(kind, x[i], t, h)) continue;
      const fd = centralDiff((v) => {
        const saved = x[i];
        x[i] = v;
        const s = refLoss(kind, rows, cols, x, target, weights).sum;
        x[i] = saved;
        return s;
      }, x[i], h);
      // unlabelled entries: the loss does not depend on them at all
      expect(Math.abs(fd - ref.grad[i]), `${kind} ∂/∂pred[${i}]`).toBeLessThan(1e-5 * (1 + Math.abs(fd)));
    }
  });
}

// ---------------------------------------------------------------------------
// gemm

const GEMM_SHAPES: [number, number, number][] = [ // m, n, k
  [0, 0, 0], [0, 4, 3], [4, 0, 3], [3, 5, 0], [1, 1, 1], [1, 6, 5], [6, 1, 5], [4, 4, 4],
  [5, 9, 1], [8, 12, 2], [7, 13, 29], [33, 65, 17],
];
/** Larger than the usual 256-wide cache blocks in n and k, with ragged edges. */
const GEMM_BIG_SHAPES: [number, number, number][] = [[9, 263, 301], [70, 18, 517]];
/**
 * One tiny dimension, as in a network's heads: the native direct paths (NT with a few
 * rows of B: dot products; NN with a short k; TN with a few rows of C: rank-k updates)
 * and the packed path just past their limits (n ≤ 12 with k ≥ 8n; k ≤ 12; m ≤ MR, or
 * m ≤ 16 with k ≤ 256), with ragged vector tails, partial row tiles and several k
 * blocks. Every layout runs every shape.
 */
const GEMM_SKINNY_SHAPES: [number, number, number][] = [
  // A·Bᵀ, few rows of B
  [256, 1, 512], [256, 10, 512], [37, 3, 515], [13, 12, 96], [13, 12, 95], [6, 13, 200], [1, 5, 40],
  // A·B, short k
  [256, 512, 1], [256, 512, 12], [64, 200, 13], [37, 517, 5],
  // Aᵀ·B, few rows of C
  [1, 512, 256], [10, 512, 256], [13, 517, 131], [6, 37, 600], [16, 33, 256], [16, 33, 257],
  [12, 40, 700], [17, 20, 100], [2, 1, 300],
];
/** alpha, beta: beta = 0 (C holds NaN), beta = 1 and a general one. */
const GEMM_SKINNY_SCALARS: [number, number][] = [[1, 0], [-0.5, 2], [2, 1]];
const GEMM_SCALARS = [0, 1, -0.5, 2];

/** Runs one gemm on guarded views and returns a description of the first problem, or null. */
function gemmCase(k: Kernels, tolFactor: number, rng: Rng, transA: boolean, transB: boolean,
  m: number, n: number, kk: number, alpha: number, beta: number): string | null {
  const label = `gemm ${transA ? 'T' : 'N'}${transB ? 'T' : 'N'} m=${m} n=${n} k=${kk} alpha=${alpha} beta=${beta}`;
  const a = guardedCopy(randomF32(rng, m * kk), 1);
  const b = guardedCopy(randomF32(rng, kk * n), 7);
  // beta = 0 must ignore C entirely, NaN included
  const c0 = beta === 0 ? new Float32Array(m * n).fill(NaN) : randomF32(rng, m * n);
  const c = guardedCopy(c0, 3);
  const aBefore = a.whole.slice(), bBefore = b.whole.slice();
  k.gemm(transA, transB, m, n, kk, alpha, a.view, b.view, beta, c.view);
  const ref = refGemm(transA, transB, m, n, kk, alpha, a.view, b.view, beta, c0);
  const tol = (i: number) => tolFactor * (kk + 4) * 2 ** -23 * ref.bound[i];
  return mismatch(label + ' C', c.view, ref.c, tol)
    ?? strayWrite(c)
    ?? modified(label + ' A', a.whole, aBefore)
    ?? modified(label + ' B', b.whole, bBefore);
}

function gemmTests(k: Kernels, tolFactor: number): void {
  for (const transA of [false, true]) {
    for (const transB of [false, true]) {
      const tag = `${transA ? 'T' : 'N'}${transB ? 'T' : 'N'}`;
      const seed = (transA ? 2 : 0) + (transB ? 1 : 0);

      it(`${tag}: all shapes × alpha × beta against the float64 reference`, () => {
        const rng = new Rng(20, seed);
        for (const [m, n, kk] of GEMM_SHAPES) {
          for (const alpha of GEMM_SCALARS) {
            for (const beta of GEMM_SCALARS) {
              expect(gemmCase(k, tolFactor, rng, transA, transB, m, n, kk, alpha, beta)).toBeNull();
            }
          }
        }
      });

      it(`${tag}: skinny shapes`, () => {
        const rng = new Rng(22, seed);
        for (const [m, n, kk] of GEMM_SKINNY_SHAPES) {
          for (const [alpha, beta] of GEMM_SKINNY_SCALARS) {
            expect(gemmCase(k, tolFactor, rng, transA, transB, m, n, kk, alpha, beta)).toBeNull();
          }
        }
      });

      it(`${tag}: skinny shapes give bit-identical results call after call, at any alignment`, () => {
        // the trainer relies on it: the same shape must sum in the same order every time
        const rng = new Rng(23, seed);
        for (const [m, n, kk] of [[256, 10, 512], [256, 512, 10], [10, 512, 256], [37, 3, 515], [13, 517, 131]]) {
          const a0 = randomF32(rng, m * kk), b0 = randomF32(rng, kk * n), c0 = randomF32(rng, m * n);
          const results = [[1, 7, 3], [1, 7, 3], [2, 4, 6]].map(([ao, bo, co]) => {
            const c = guardedCopy(c0, co);
            k.gemm(transA, transB, m, n, kk, 0.75, guardedCopy(a0, ao).view, guardedCopy(b0, bo).view, 0.5, c.view);
            return c.view;
          });
          const label = `gemm ${tag} m=${m} n=${n} k=${kk}`;
          expect(mismatch(`${label} again`, results[1], results[0], 0)
            ?? mismatch(`${label} at other offsets`, results[2], results[0], 0)).toBeNull();
        }
      });

      it(`${tag}: shapes spanning cache blocks`, () => {
        const rng = new Rng(21, seed);
        for (const [m, n, kk] of GEMM_BIG_SHAPES) {
          expect(gemmCase(k, tolFactor, rng, transA, transB, m, n, kk, 1, 0)).toBeNull();
          expect(gemmCase(k, tolFactor, rng, transA, transB, m, n, kk, -0.5, 2)).toBeNull();
        }
      });
    }
  }

  it('reads op(A) and op(B) with the documented storage (hand-checked 2×2)', () => {
    const a = Float32Array.of(1, 2, 3, 4); // [[1, 2], [3, 4]]
    const b = Float32Array.of(5, 6, 7, 8); // [[5, 6], [7, 8]]
    const c = new Float32Array(4);
    const cases: [boolean, boolean, number[]][] = [
      [false, false, [19, 22, 43, 50]], // A·B
      [true, false, [26, 30, 38, 44]], // Aᵀ·B
      [false, true, [17, 23, 39, 53]], // A·Bᵀ
      [true, true, [23, 31, 34, 46]], // Aᵀ·Bᵀ
    ];
    for (const [ta, tb, want] of cases) {
      k.gemm(ta, tb, 2, 2, 2, 1, a, b, 0, c);
      expect(Array.from(c)).toEqual(want);
    }
  });
}

// ---------------------------------------------------------------------------
// bias and activations

/** |got − want| allowed for dz = dh·act'(z) when act' is computed from a float32 h. */
function backwardTol(rtol: number, want: number, dh: number): number {
  return rtol * Math.abs(want) + 2.5e-7 * Math.abs(dh) + 1e-37;
}

function activationTests(k: Kernels, rtol: number): void {
  const rows = 4, cols = 7, n = rows * cols;

  describe.each(ACTIVATIONS)('%s', (act) => {
    const seed = ACTIVATIONS.indexOf(act);

    /** z before the bias: the special points first, so ±80 etc. land in the matrix. */
    function preActivations(rng: Rng): Float32Array {
      return Float32Array.from(activationPoints(rng).slice(0, n));
    }

    for (const inPlace of [false, true]) {
      it(`biasActivation ${inPlace ? 'in place (h = z)' : 'into h'}`, () => {
        const rng = new Rng(30, seed);
        const z0 = preActivations(rng);
        const bias = guardedCopy(randomF32(rng, cols), 5);
        const z = guardedCopy(z0, 3);
        const h = inPlace ? z : guarded(n, 1);
        k.biasActivation(rows, cols, z.view, bias.view, act, h.view);
        const zWant = z0.map((v, i) => v + bias.view[i % cols]); // rounded to float32 like the kernel's
        const hWant = Array.from(zWant, (v) => refAct(act, v));
        if (!inPlace) expect(mismatch('z', z.view, zWant, (i) => relTol(zWant[i], 2 ** -23))).toBeNull();
        expect(mismatch('h', h.view, hWant, (i) => relTol(hWant[i], rtol, 1e-37))).toBeNull();
        expect(strayWrite(z) ?? strayWrite(h) ?? strayWrite(bias)).toBeNull();
        expect(h.view.every(Number.isFinite)).toBe(true);
      });
    }

    it('biasActivation with no rows or no columns writes nothing', () => {
      const z = guardedCopy([4, 5, 6]), h = guardedCopy([7, 8, 9]), bias = guardedCopy([1, 2, 3]);
      k.biasActivation(0, 3, z.view, bias.view, act, h.view);
      k.biasActivation(3, 0, z.view, bias.view, act, h.view);
      expect(Array.from(z.view).concat(Array.from(h.view))).toEqual([4, 5, 6, 7, 8, 9]);
      expect(strayWrite(z) ?? strayWrite(h)).toBeNull();
    });

    it('activationBackward matches dh·act′(z)', () => {
      const rng = new Rng(31, seed);
      const zs = Float32Array.from(activationPoints(rng));
      const m = zs.length;
      const hs = zs.map((v) => refAct(act, v));
      const dh0 = randomF32(rng, m, -2, 2);
      const want = Array.from(zs, (v, i) => dh0[i] * refActGrad(act, v));
      const tol = (i: number) => backwardTol(rtol, want[i], dh0[i]);

      const z = guardedCopy(zs, 1), h = guardedCopy(hs, 3), dh = guardedCopy(dh0, 5), dz = guarded(m, 7);
      k.activationBackward(m, act, z.view, h.view, dh.view, dz.view);
      expect(mismatch('dz', dz.view, want, tol)).toBeNull();
      expect(strayWrite(dz)).toBeNull();
      expect(mismatch('dh', dh.view, dh0, 0) ?? mismatch('z', z.view, zs, 0) ?? mismatch('h', h.view, hs, 0))
        .toBeNull();

      // dz aliasing dh
      k.activationBackward(m, act, z.view, h.view, dh.view, dh.view);
      expect(mismatch('dz = dh', dh.view, want, tol)).toBeNull();
      expect(strayWrite(dh)).toBeNull();
    });

    if (act !== 'gelu') {
      it('activationBackward after an in-place forward (z = h) is exact', () => {
        // relu, tanh and sigmoid must read only h: here z holds act(z), not z
        const rng = new Rng(32, seed);
        const zs = Float32Array.from(activationPoints(rng));
        const hs = guardedCopy(zs.map((v) => refAct(act, v)));
        const dh0 = randomF32(rng, zs.length, -2, 2);
        const dz = guarded(zs.length, 5);
        k.activationBackward(zs.length, act, hs.view, hs.view, dh0, dz.view);
        const want = Array.from(zs, (v, i) => dh0[i] * refActGrad(act, v));
        expect(mismatch('dz', dz.view, want, (i) => backwardTol(rtol, want[i], dh0[i]))).toBeNull();
      });
    }

    it('activationBackward with n = 0 writes nothing', () => {
      const x = Float32Array.of(0.5, -1), dz = guardedCopy([3, 4]);
      k.activationBackward(0, act, x, x, x, dz.view);
      expect(Array.from(dz.view)).toEqual([3, 4]);
    });
  });

  it('biasGrad sums the rows, overwriting db', () => {
    const rng = new Rng(33);
    for (const [r, c] of [[0, 5], [1, 3], [6, 9], [257, 11], [3, 0]]) {
      const dy = guardedCopy(randomF32(rng, r * c, -3, 3), 5);
      const db = guarded(c, 3); // starts as SENTINEL: must be overwritten, not accumulated
      k.biasGrad(r, c, dy.view, db.view);
      const want = new Float64Array(c), bound = new Float64Array(c);
      for (let i = 0; i < r * c; i++) {
        want[i % c] += dy.view[i];
        bound[i % c] += Math.abs(dy.view[i]);
      }
      expect(mismatch(`db ${r}×${c}`, db.view, want, (j) => (r + 4) * 2 ** -23 * bound[j])).toBeNull();
      expect(strayWrite(db) ?? strayWrite(dy)).toBeNull();
    }
  });
}

// ---------------------------------------------------------------------------
// losses

interface LossData {
  rows: number;
  cols: number;
  pred: Float32Array;
  target: Float32Array;
}

/**
 * Inputs for one loss: random values plus partial labels (NaN targets) and the hard cases
 * (±80 logits, ties, clamped logs, kinks).
 */
function lossData(kind: LossKind, rng: Rng): LossData {
  if (kind === 'cross_entropy') {
    const rows = 10, cols = 5;
    const pred = randomF32(rng, rows * cols, -4, 4);
    const target = Float32Array.from({ length: rows }, () => rng.int(cols));
    target[1] = NaN;
    target[6] = NaN;
    pred.set([80, -80, 79.5, -80, 0], 2 * cols); target[2] = 2;
    pred.set([-80, -80, -80, -79, -80], 3 * cols); target[3] = 4;
    pred.set([1, 3, 0, 3, -1], 4 * cols); target[4] = 1; // ties: argmax is 1, so both rows are right
    pred.set([3, 0, 3, 3, -1], 5 * cols); target[5] = 0;
    return { rows, cols, pred, target };
  }
  const rows = 6, cols = 5, n = rows * cols;
  let pred: Float32Array, target: Float32Array;
  if (kind === 'bce_with_logits' || kind === 'bce') {
    const logits = kind === 'bce_with_logits';
    pred = logits ? randomF32(rng, n, -5, 5) : randomF32(rng, n, 0.02, 0.98);
    // hard labels mostly, some soft ones, some missing
    target = Float32Array.from({ length: n }, () => {
      const u = rng.next();
      return u < 0.2 ? NaN : u < 0.8 ? rng.int(2) : rng.next();
    });
    if (logits) {
      pred.set([80, -80, 80, -80, 0, 0]);
      target.set([0, 1, 1, 0, 0, 0]); // z = 0 predicts class 0
    } else {
      // log clamps at −100: p = 0 or 1 against the opposite label, and a denormal p
      pred.set([0, 1, 0, 1, 1e-45, 1e-30]);
      target.set([1, 0, 0, 1, 1, 1]);
    }
    target[7] = NaN;
    target[n - 1] = NaN;
  } else {
    pred = randomF32(rng, n, -3, 3);
    target = randomF32(rng, n, -3, 3);
    for (let i = 0; i < n; i += 7) target[i] = NaN;
    target[1] = pred[1]; // d = 0: l1's sign(0) = 0
    target[2] = pred[2] - 0.5; // smooth_l1 quadratic branch
    target[3] = pred[3] + 2; // smooth_l1 linear branch
  }
  return { rows, cols, pred, target };
}

const CLASSIFICATION_KINDS = ['cross_entropy', 'bce_with_logits', 'bce'] as const;

interface TorchLossCase {
  rows: number; cols: number; logits: number[]; probabilities?: number[]; targets: (number | null)[];
  weights: number[]; loss: number; grad: number[];
}
/** PyTorch's weighted losses (scripts/torch-reference/class_weights.py). */
const classWeightFixture = JSON.parse(readFileSync(new URL('../fixtures/torch/class-weights.json', import.meta.url), 'utf8')) as {
  losses: Record<(typeof CLASSIFICATION_KINDS)[number], TorchLossCase>;
};

/** Class weights (cross_entropy) or pos_weights (binary) for `cols` columns: a zero, a one, others in (0.2, 3). */
function lossWeights(kind: LossKind, cols: number): Float32Array {
  const w = randomF32(new Rng(43, LOSS_KINDS.indexOf(kind)), cols, 0.2, 3);
  w[0] = kind === 'cross_entropy' ? 0 : w[0]; // a class that does not count at all
  w[cols - 1] = 1;
  return w;
}

function lossTests(k: Kernels, rtol: number): void {
  const gradScale = 0.37;

  function run(kind: LossKind, d: LossData, weights?: Float32Array) {
    const pred = guardedCopy(d.pred, 1), target = guardedCopy(d.target, 3);
    const w = weights && guardedCopy(weights, 2);
    // SENTINEL inside the view: unlabelled entries must be zeroed, the two spare ones left alone
    const n = d.rows * d.cols, grad = guarded(n + 2, 5);
    const stats = new Float64Array(LOSS_STATS_LENGTH).fill(-1);
    k.loss(kind, d.rows, d.cols, pred.view, target.view, gradScale, grad.view, stats, w?.view);
    expect(strayWrite(pred) ?? strayWrite(target) ?? strayWrite(grad) ?? (w && strayWrite(w)) ?? null).toBeNull();
    if (w) expect(mismatch('classWeights', w.view, weights!, 0)).toBeNull();
    expect(mismatch('pred', pred.view, d.pred, 0) ?? mismatch('target', target.view, d.target, 0)).toBeNull();
    expect([grad.view[n], grad.view[n + 1]]).toEqual([SENTINEL, SENTINEL]);
    return { grad: grad.view.subarray(0, n), stats };
  }

  describe.each(LOSS_KINDS)('%s', (kind) => {
    it('loss sum, count, metric and gradient match the reference', () => {
      const d = lossData(kind, new Rng(40, LOSS_KINDS.indexOf(kind)));
      const { grad, stats } = run(kind, d);
      const ref = refLoss(kind, d.rows, d.cols, d.pred, d.target);
      expect(stats[LOSS_COUNT]).toBe(ref.count);
      expect(stats[LOSS_WEIGHT]).toBe(ref.count);
      expect(Math.abs(stats[LOSS_SUM] - ref.sum)).toBeLessThanOrEqual(relTol(ref.sum, rtol, 1e-12));
      const classification = kind === 'cross_entropy' || kind === 'bce_with_logits' || kind === 'bce';
      if (classification) expect(stats[LOSS_METRIC]).toBe(ref.metric);
      else expect(Math.abs(stats[LOSS_METRIC] - ref.metric)).toBeLessThanOrEqual(relTol(ref.metric, rtol, 1e-12));
      const want = ref.grad.map((g) => gradScale * g);
      expect(mismatch('grad', grad, want, (i) => relTol(want[i], rtol, 1e-6 * gradScale))).toBeNull();
      expect(grad.every(Number.isFinite)).toBe(true);
    });

    it('unlabelled entries get zero gradient and are not counted', () => {
      const d = lossData(kind, new Rng(41, LOSS_KINDS.indexOf(kind)));
      const { grad } = run(kind, d);
      const per = kind === 'cross_entropy' ? d.cols : 1; // a missing class label blanks its whole row
      let unlabelled = 0;
      for (let i = 0; i < grad.length; i++) {
        if (Number.isNaN(d.target[Math.floor(i / per)])) {
          unlabelled++;
          expect(grad[i], `grad[${i}]`).toBe(0);
        }
      }
      expect(unlabelled).toBeGreaterThan(0);

      // nothing labelled at all, then no rows at all
      const none = run(kind, { ...d, target: new Float32Array(d.target.length).fill(NaN) });
      expect(Array.from(none.stats)).toEqual([0, 0, 0, 0]);
      expect(none.grad.every((g) => g === 0)).toBe(true);
      expect(Array.from(run(kind, { ...d, rows: 0 }).stats)).toEqual([0, 0, 0, 0]);
    });
  });

  describe.each(CLASSIFICATION_KINDS)('%s with class weights', (kind) => {
    it('loss sum, weight sum and gradient match the weighted reference; count and metric stay unweighted', () => {
      const d = lossData(kind, new Rng(44, LOSS_KINDS.indexOf(kind)));
      const weights = lossWeights(kind, d.cols);
      const { grad, stats } = run(kind, d, weights);
      const ref = refLoss(kind, d.rows, d.cols, d.pred, d.target, weights);
      const plain = refLoss(kind, d.rows, d.cols, d.pred, d.target);
      expect(Math.abs(stats[LOSS_SUM] - ref.sum)).toBeLessThanOrEqual(relTol(ref.sum, rtol, 1e-12));
      expect(Math.abs(ref.sum - plain.sum)).toBeGreaterThan(1e-3); // the weights do change the loss
      expect(Math.abs(stats[LOSS_WEIGHT] - ref.weight)).toBeLessThanOrEqual(relTol(ref.weight, 1e-12, 0));
      expect([stats[LOSS_COUNT], stats[LOSS_METRIC]]).toEqual([plain.count, plain.metric]);
      if (kind === 'cross_entropy') expect(ref.weight).not.toBe(ref.count);
      else expect(stats[LOSS_WEIGHT]).toBe(ref.count); // pos_weight keeps the mean over the count
      const want = ref.grad.map((g) => gradScale * g);
      expect(mismatch('grad', grad, want, (i) => relTol(want[i], rtol, 1e-6 * gradScale))).toBeNull();
    });

    it('weights of 1 give the unweighted figures bit for bit', () => {
      const d = lossData(kind, new Rng(45, LOSS_KINDS.indexOf(kind)));
      const plain = run(kind, d);
      const ones = run(kind, d, new Float32Array(d.cols).fill(1));
      expect(mismatch('grad', ones.grad, plain.grad, 0)).toBeNull();
      expect(Array.from(ones.stats)).toEqual(Array.from(plain.stats));
    });
  });

  it.each(CLASSIFICATION_KINDS)('%s with class weights matches PyTorch (torch fixture; mean over the weights or rows)', (kind) => {
    const c = classWeightFixture.losses[kind];
    const f32 = (v: (number | null)[]) => Float32Array.from(v, (x) => x ?? NaN);
    const pred = kind === 'bce' ? f32(c.probabilities!) : f32(c.logits);
    const n = c.rows * c.cols, grad = new Float32Array(n), stats = new Float64Array(LOSS_STATS_LENGTH);
    // pass 1: the statistics give the mean's denominator; pass 2 scales the gradient by it, as the trainer does
    k.loss(kind, c.rows, c.cols, pred, f32(c.targets), 0, grad, stats, f32(c.weights));
    expect(stats[LOSS_SUM] / stats[LOSS_WEIGHT]).toBeCloseTo(c.loss, kind === 'bce' ? 5 : 6);
    k.loss(kind, c.rows, c.cols, pred, f32(c.targets), 1 / stats[LOSS_WEIGHT], grad, stats, f32(c.weights));
    // bce's gradient is ∂/∂p; PyTorch's is ∂/∂logit = ∂/∂p · p(1 − p)
    const got = kind === 'bce' ? grad.map((g, i) => g * pred[i] * (1 - pred[i])) : grad;
    expect(mismatch('grad', got, c.grad, (i) => 1e-5 * Math.abs(c.grad[i]) + (kind === 'bce' ? 1e-6 : 1e-7))).toBeNull();
  });

  it('class weights: too few are a RangeError, and regression losses take none', () => {
    const stats = new Float64Array(LOSS_STATS_LENGTH);
    const f = (n: number) => new Float32Array(n);
    expect(() => k.loss('cross_entropy', 1, 3, f(3), f(1), 1, f(3), stats, f(2))).toThrow(/classWeights has 2 elements, needs (cols = )?3/);
    expect(() => k.loss('mse', 1, 1, f(1), f(1), 1, f(1), stats, f(1))).toThrow(/regression loss takes no class weights/);
  });

  it('cross_entropy stays finite for ±80 logits and breaks argmax ties to the lowest index', () => {
    const { grad, stats } = run('cross_entropy', {
      rows: 3, cols: 3,
      pred: Float32Array.of(80, -80, 80, -80, -80, -80, 2, 2, 1),
      target: Float32Array.of(1, 0, 0),
    });
    // row 0: log(2e^80 + e^-80) − (−80) = 160 + log 2; row 1: log 3; row 2: log(2e² + e) − 2
    const want = 160 + Math.LN2 + Math.log(3) + Math.log(2 * Math.E ** 2 + Math.E) - 2;
    expect(stats[LOSS_SUM]).toBeCloseTo(want, 4);
    expect(stats[LOSS_METRIC]).toBe(2); // rows 1 and 2: ties go to class 0
    expect(grad[1]).toBeCloseTo(-gradScale, 6);
    expect(grad[0]).toBeCloseTo(gradScale / 2, 6);
  });

  it('bce clamps the logs at −100 and floors the gradient denominator at 1e-12', () => {
    const { grad, stats } = run('bce', {
      rows: 1, cols: 4, pred: Float32Array.of(0, 1, 0, 1), target: Float32Array.of(1, 0, 0, 1),
    });
    expect(stats[LOSS_SUM]).toBe(200);
    expect(stats[LOSS_METRIC]).toBe(2);
    expect(mismatch('grad', grad, [-gradScale * 1e12, gradScale * 1e12, 0, 0], (i) => 1e-6 * Math.abs(grad[i])))
      .toBeNull();
  });

  it('bce_with_logits is stable at ±80 and treats z = 0 as class 0', () => {
    const { grad, stats } = run('bce_with_logits', {
      rows: 1, cols: 5, pred: Float32Array.of(80, -80, 80, -80, 0), target: Float32Array.of(0, 1, 1, 0, 0),
    });
    expect(stats[LOSS_SUM]).toBeCloseTo(160 + Math.LN2, 10);
    expect(stats[LOSS_METRIC]).toBe(3); // z = 0 counts as predicting 0
    expect(Array.from(grad, (g) => g / gradScale))
      .toEqual([1, -1, 0, 0, 0.5].map((v, i) => expect.closeTo(v, i === 2 || i === 3 ? 30 : 6)));
  });
}

// ---------------------------------------------------------------------------
// vector ops

function vectorTests(k: Kernels, rtol: number): void {
  it('axpy and scale touch exactly n elements, including n = 0', () => {
    const rng = new Rng(50);
    // 64 and 150: the native loops' whole blocks, then blocks and a tail
    for (const n of [0, 1, 37, 64, 150]) {
      // views two elements longer than n: the tail must keep its values
      const x = guardedCopy(randomF32(rng, n + 2), 1), y0 = randomF32(rng, n + 2), y = guardedCopy(y0, 3);
      k.axpy(n, -0.75, x.view, y.view);
      const want = y0.map((v, i) => (i < n ? v - 0.75 * x.view[i] : v));
      expect(mismatch('axpy', y.view, want, (i) => relTol(want[i], rtol, 1e-7))).toBeNull();
      k.scale(n, -2.5, y.view);
      const scaled = want.map((v, i) => (i < n ? -2.5 * v : v));
      expect(mismatch('scale', y.view, scaled, (i) => relTol(scaled[i], rtol, 1e-7))).toBeNull();
      expect(strayWrite(x) ?? strayWrite(y)).toBeNull();
    }
  });

  it('dot and norm accumulate in float64, including n = 0', () => {
    const rng = new Rng(51);
    const ones = Float32Array.of(1, 1);
    expect(k.dot(0, ones, ones)).toBe(0);
    expect(k.norm(0, ones)).toBe(0);
    // 2e5 terms: float32 accumulation would be off by ~1e-4 relative
    for (const n of [1, 37, 200003]) {
      const x = guardedCopy(randomF32(rng, n, 0.5, 1.5), 1), y = guardedCopy(randomF32(rng, n, -1, 3), 3);
      let d = 0, s = 0;
      for (let i = 0; i < n; i++) {
        d += x.view[i] * y.view[i];
        s += x.view[i] * x.view[i];
      }
      expect(Math.abs(k.dot(n, x.view, y.view) - d)).toBeLessThanOrEqual(1e-12 * 3 * n);
      expect(Math.abs(k.norm(n, x.view) - Math.sqrt(s))).toBeLessThanOrEqual(1e-12 * Math.sqrt(s));
      // only the first n elements count
      expect(k.dot(n - 1, x.view, y.view)).toBeCloseTo(d - x.view[n - 1] * y.view[n - 1], 6);
    }
  });

  it('gatherRows copies the indexed rows bit for bit, narrow and wide, touching nothing else', () => {
    // 300 rows: more than the native copy prefetches ahead; widths around a cache line and the js view cutoff
    for (const width of [1, 3, 15, 16, 17, 63, 64, 130]) {
      const rows = 300;
      const src = guardedCopy(Float32Array.from({ length: rows * width }, (_, i) => (i % 7 === 0 ? -0 : i + 0.5)), 1);
      const rng = new Rng(53, width);
      const indices = Int32Array.from({ length: 260 }, () => Math.floor(rng.next() * rows));
      indices[0] = rows - 1;
      indices[1] = 0;
      for (const [start, count] of [[0, 0], [0, 1], [2, 9], [0, 260]]) {
        const dst = guarded(count * width, 2);
        k.gatherRows(width, src.view, indices, start, count, dst.view);
        const want = Float32Array.from({ length: count * width }, (_, i) => src.view[indices[start + Math.floor(i / width)] * width + (i % width)]);
        const bits = (a: Float32Array) => Array.from(new Uint32Array(Float32Array.from(a).buffer));
        expect(bits(dst.view), `width ${width}, rows ${start}+${count}`).toEqual(bits(want));
        expect(strayWrite(dst) ?? strayWrite(src)).toBeNull();
      }
    }
  });

  it('gatherRows refuses an index outside src, and short arrays, before writing anything', () => {
    const src = Float32Array.from({ length: 12 }, (_, i) => i); // 4 rows of 3 (and 2 rows of 5: 10 of the 12)
    const dst = new Float32Array(6).fill(SENTINEL);
    expect(() => k.gatherRows(3, src, Int32Array.of(1, 4), 0, 2, dst)).toThrow(/gatherRows: indices\[1\] = 4 is not a row of src \(4 rows\)/);
    expect(() => k.gatherRows(3, src, Int32Array.of(0, 1, -1), 1, 2, dst)).toThrow(/indices\[2\] = -1 is not a row of src/);
    expect(() => k.gatherRows(5, src, Int32Array.of(2), 0, 1, dst)).toThrow(/indices\[0\] = 2 is not a row of src \(2 rows\)/);
    expect(dst.every((v) => v === SENTINEL)).toBe(true);
    expect(() => k.gatherRows(3, src, Int32Array.of(0, 1), 1, 2, dst)).toThrow(/indices has 2 elements, needs 3/);
    expect(() => k.gatherRows(3, src, Int32Array.of(0, 1, 2), 0, 3, dst)).toThrow(/dst has 6 elements, needs 9/);
    expect(dst.every((v) => v === SENTINEL)).toBe(true);
  });
}

// ---------------------------------------------------------------------------
// optimizers

const SGD_CONFIGS: Omit<SgdHyper, 'firstStep'>[] = [
  { lr: 0.1, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0 },
  { lr: 0.05, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0.1 },
  { lr: 0.1, momentum: 0.9, dampening: 0, nesterov: false, weightDecay: 0 },
  { lr: 0.1, momentum: 0.8, dampening: 0.3, nesterov: false, weightDecay: 0.01 },
  { lr: 0.02, momentum: 0.9, dampening: 0, nesterov: true, weightDecay: 0 },
  { lr: 0.02, momentum: 0.7, dampening: 0, nesterov: true, weightDecay: 0.05 },
];

const ADAM_CONFIGS: Omit<AdamHyper, 'step'>[] = [
  { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false },
  { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, decoupled: false },
  { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, decoupled: true },
  { lr: 0.1, beta1: 0.5, beta2: 0.9, eps: 1e-3, weightDecay: 0.05, decoupled: true },
];

function optimizerTests(k: Kernels, rtol: number): void {
  // two of the native loops' 64-element blocks and a tail
  const n = 150, steps = 5;
  const tol = (want: ArrayLike<number>) => (i: number) => rtol * (Math.abs(want[i]) + 1);

  it.each(SGD_CONFIGS.map((c, i): [number, typeof c] => [i, c]))('sgdStep config %i over several steps', (i, cfg) => {
    const rng = new Rng(60, i);
    const p0 = randomF32(rng, n, -2, 2);
    const param = guardedCopy(p0, 1);
    // momentum buffer: garbage before the first step (it must be overwritten with the gradient)
    const buf = cfg.momentum === 0 ? guarded(n, 3) : guardedCopy(new Float32Array(n).fill(NaN), 3);
    const refP = Float64Array.from(p0), refBuf = new Float64Array(n);
    for (let t = 0; t < steps; t++) {
      const g0 = randomF32(rng, n, -1, 1), grad = guardedCopy(g0, 5);
      const h: SgdHyper = { ...cfg, firstStep: t === 0 };
      k.sgdStep(n, param.view, grad.view, buf.view, h);
      refSgd(n, refP, g0, refBuf, h);
      expect(mismatch(`step ${t} param`, param.view, refP, tol(refP))).toBeNull();
      if (cfg.momentum !== 0) expect(mismatch(`step ${t} buf`, buf.view, refBuf, tol(refBuf))).toBeNull();
      else expect(buf.whole.every((x) => x === SENTINEL), 'buf is unused without momentum').toBe(true);
      expect(mismatch('grad', grad.view, g0, 0) ?? strayWrite(grad) ?? strayWrite(param)).toBeNull();
    }
  });

  it.each(ADAM_CONFIGS.map((c, i): [number, typeof c] => [i, c]))('adamStep config %i over several steps', (i, cfg) => {
    const rng = new Rng(61, i);
    const p0 = randomF32(rng, n, -2, 2);
    const param = guardedCopy(p0, 1), m = guardedCopy(new Float32Array(n), 3), v = guardedCopy(new Float32Array(n), 5);
    const refP = Float64Array.from(p0), refM = new Float64Array(n), refV = new Float64Array(n);
    for (let t = 1; t <= steps + 1; t++) {
      const g0 = randomF32(rng, n, -1, 1), grad = guardedCopy(g0, 7);
      const h: AdamHyper = { ...cfg, step: t };
      k.adamStep(n, param.view, grad.view, m.view, v.view, h);
      refAdam(n, refP, g0, refM, refV, h);
      expect(mismatch(`step ${t} param`, param.view, refP, tol(refP))).toBeNull();
      expect(mismatch(`step ${t} m`, m.view, refM, tol(refM))).toBeNull();
      expect(mismatch(`step ${t} v`, v.view, refV, tol(refV))).toBeNull();
      expect(mismatch('grad', grad.view, g0, 0) ?? strayWrite(grad) ?? strayWrite(param) ?? strayWrite(m) ?? strayWrite(v))
        .toBeNull();
    }
  });

  /**
   * A summed step (two shards' gradients, in one pass) against axpy then the plain step,
   * bit for bit over a few steps; `step` runs one of them on (param, grad or the two, state).
   */
  function summedHasTheBits(seed: number, states: number,
    step: (t: number, param: Float32Array, grads: [Float32Array] | [Float32Array, Float32Array], state: Float32Array[]) => void): void {
    for (const len of [1, 23, 100, 150]) {
      const rng = new Rng(seed, len);
      const p0 = randomF32(rng, len, -2, 2);
      const param = guardedCopy(p0, 1);
      const state = Array.from({ length: states }, (_, i) => guardedCopy(new Float32Array(len), 3 + 2 * i));
      const wantP = p0.slice(), wantState = state.map(() => new Float32Array(len));
      for (let t = 1; t <= 4; t++) {
        // signed zeros among the shards' parts: 0 + -0 and -0 + -0 must sum as axpy sums them
        const part = () => randomF32(rng, len, -1, 1).map((x, j) => (j % 7 === 0 ? 0 : j % 7 === 1 ? -0 : j % 7 === 2 ? -x : x));
        const g0 = part(), g1 = part();
        const grad0 = guardedCopy(g0, 11), grad1 = guardedCopy(g1, 13);
        step(t, param.view, [grad0.view, grad1.view], state.map((b) => b.view));
        const sum = g0.slice();
        k.axpy(len, 1, g1, sum);
        step(t, wantP, [sum], wantState);
        expect(bitMismatch(`n ${len} step ${t} param`, param.view, wantP)).toBeNull();
        state.forEach((b, i) => expect(bitMismatch(`n ${len} step ${t} state ${i}`, b.view, wantState[i])).toBeNull());
        expect(bitMismatch('grad0', grad0.view, g0) ?? bitMismatch('grad1', grad1.view, g1) ?? strayWrite(grad0)
          ?? strayWrite(grad1) ?? strayWrite(param) ?? state.map(strayWrite).find((x) => x !== null) ?? null).toBeNull();
      }
    }
  }

  it.each(ADAM_CONFIGS.map((c, i): [number, typeof c] => [i, c]))('adamStepSummed config %i has the bits of axpy then adamStep, and writes neither gradient', (i, cfg) => {
    summedHasTheBits(62 + i, 2, (t, param, grads, [m, v]) => {
      const h: AdamHyper = { ...cfg, step: t };
      if (grads.length === 2) k.adamStepSummed(param.length, param, grads[0], grads[1], m, v, h);
      else k.adamStep(param.length, param, grads[0], m, v, h);
    });
  });

  it.each(SGD_CONFIGS.map((c, i): [number, typeof c] => [i, c]))('sgdStepSummed config %i has the bits of axpy then sgdStep, and writes neither gradient', (i, cfg) => {
    summedHasTheBits(70 + i, 1, (t, param, grads, [buf]) => {
      const h: SgdHyper = { ...cfg, firstStep: t === 1 };
      if (grads.length === 2) k.sgdStepSummed(param.length, param, grads[0], grads[1], buf, h);
      else k.sgdStep(param.length, param, grads[0], buf, h);
    });
  });

  it('sgdStep follows PyTorch on hand-computed numbers', () => {
    // p = 1, g = 0.5 every step, lr = 0.1, weight decay 0.1
    function twoSteps(momentum: number, dampening: number, nesterov: boolean): number[] {
      const p = Float32Array.of(1), g = Float32Array.of(0.5), buf = new Float32Array(1);
      const out: number[] = [];
      for (const firstStep of [true, false]) {
        k.sgdStep(1, p, g, buf, { lr: 0.1, momentum, dampening, nesterov, weightDecay: 0.1, firstStep });
        out.push(p[0], buf[0]);
      }
      return out;
    }
    // g1 = 0.6, buf = 0.6 (no dampening on the first step), p = 0.94;
    // g2 = 0.594, buf = 0.9·0.6 + 0.9·0.594 = 1.0746, p = 0.94 − 0.10746
    expect(twoSteps(0.9, 0.1, false)).toEqual([0.94, 0.6, 0.83254, 1.0746].map((x) => expect.closeTo(x, 6)));
    // nesterov: p = 1 − 0.1·(0.6 + 0.9·0.6) = 0.886; g2 = 0.5886, buf = 1.1286,
    // p = 0.886 − 0.1·(0.5886 + 0.9·1.1286) = 0.725566
    expect(twoSteps(0.9, 0, true)).toEqual([0.886, 0.6, 0.725566, 1.1286].map((x) => expect.closeTo(x, 6)));
  });

  it('adamStep follows PyTorch on hand-computed numbers', () => {
    // With a constant gradient the bias-corrected m̂/√v̂ is exactly 1, so each step moves p by lr;
    // AdamW first shrinks p by (1 − lr·wd). Adam's L2 term makes g vary, so only its first step is exact.
    function threeSteps(weightDecay: number, decoupled: boolean): number[] {
      const p = Float32Array.of(1), g = Float32Array.of(0.5), m = new Float32Array(1), v = new Float32Array(1);
      const out: number[] = [];
      for (let step = 1; step <= 3; step++) {
        k.adamStep(1, p, g, m, v, { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay, decoupled, step });
        out.push(p[0]);
      }
      return out;
    }
    expect(threeSteps(0, false)).toEqual([0.99, 0.98, 0.97].map((x) => expect.closeTo(x, 6)));
    const w = 1 - 0.01 * 0.1;
    expect(threeSteps(0.1, true)).toEqual([w - 0.01, (w - 0.01) * w - 0.01, ((w - 0.01) * w - 0.01) * w - 0.01]
      .map((x) => expect.closeTo(x, 6)));
    // first Adam step: m = 0.1·0.6, v = 0.001·0.36, m̂ = 0.6, √v̂ = 0.6
    expect(threeSteps(0.1, false)[0]).toBeCloseTo(0.99, 6);
  });
}
