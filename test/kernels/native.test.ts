/**
 * The native addon: the shared kernel suite on every instruction set this CPU runs,
 * then native-vs-float64 GEMM checks over awkward shapes, layouts, offsets and α/β,
 * every other kernel against jsKernels, and argument validation.
 *
 * Skipped when the addon is not built, unless MULTITASK_KERNELS=native, which makes
 * a missing or broken addon a failure.
 */
import { describe, expect, it } from 'vitest';

import { getKernels, kernelInfo, kernelNotice } from '../../src/kernels/index.js';
import { erfc, jsKernels } from '../../src/kernels/js.js';
import {
  createNativeKernels, loadNativeAddon, loadNativeKernels, NATIVE_ISAS, NATIVE_TEST_ISAS, nativeAddonPath,
  nativeIsas, nativeLoadError,
} from '../../src/kernels/native.js';
import type { Activation, AdamHyper, Kernels, LossKind, SgdHyper } from '../../src/kernels/types.js';
import { ACTIVATIONS, LOSS_KINDS, LOSS_STATS_LENGTH } from '../../src/kernels/types.js';
import { mismatch, randomF32, refGemm, Rng } from './reference.js';
import { kernelSuite } from './suite.js';

const forced = process.env.MULTITASK_KERNELS === 'native';
const envIsa = process.env.MULTITASK_ISA || undefined;
const loaded = loadNativeAddon() !== null;
const runnable = loaded ? nativeIsas() : [];
const loadError = loaded ? undefined : (loadNativeKernels(), nativeLoadError());
const allIsas: string[] = [...NATIVE_ISAS, ...NATIVE_TEST_ISAS];

describe('native addon', () => {
  it.runIf(forced)('loads, because MULTITASK_KERNELS=native', () => {
    expect(loadError, `native kernels failed to load from ${nativeAddonPath()}`).toBeUndefined();
    expect(getKernels().backend).toBe('native');
  });

  it.skipIf(!loaded || process.env.MULTITASK_KERNELS === 'js')('is what getKernels() picks (unless MULTITASK_ISA names an unavailable ISA)', () => {
    if (envIsa !== undefined && !runnable.includes(envIsa)) {
      if (forced) {
        expect(() => getKernels()).toThrow(/MULTITASK_ISA/);
      } else {
        expect(kernelInfo()).toMatchObject({ backend: 'js', reason: expect.stringMatching(/MULTITASK_ISA/) });
        expect(kernelNotice()).toMatch(/^multitask: native kernels unavailable \(MULTITASK_ISA=.*\); using the TypeScript kernels$/);
      }
      return;
    }
    expect(kernelInfo()).toEqual({ backend: 'native', isa: envIsa ?? runnable[0] });
    expect(kernelNotice()).toBeUndefined();
  });

  it.skipIf(!loaded)('offers the scalar path, and by default the best path of this CPU', () => {
    expect(runnable).toContain('scalar');
    expect(createNativeKernels(runnable[0]).isa).toBe(runnable[0]);
    expect(runnable[0]).toBe(NATIVE_ISAS.find((i) => runnable.includes(i)));
  });

  it.skipIf(!loaded)('rejects an instruction set it cannot run', () => {
    expect(() => createNativeKernels('sse9')).toThrow(/not available on this CPU/);
  });
});

// The shared suite, once per instruction set.
for (const isa of allIsas) {
  if (runnable.includes(isa)) {
    kernelSuite(`native ${isa}`, createNativeKernels(isa));
  } else {
    describe.skip(`native ${isa} (${loaded ? 'not supported by this CPU' : `addon not loaded: ${loadError}`})`, () => {
      it('skipped', () => {});
    });
  }
}

// --- helpers ------------------------------------------------------------------------

const SENTINEL = -777.25;

/** A len-element Float32Array at element offset `offset` of a SharedArrayBuffer filled with SENTINEL. */
function sharedView(len: number, offset: number, after = 7): { view: Float32Array; whole: Float32Array } {
  const whole = new Float32Array(new SharedArrayBuffer(4 * (offset + len + after))).fill(SENTINEL);
  return { view: whole.subarray(offset, offset + len), whole };
}

function untouched(whole: Float32Array, offset: number, len: number): string | null {
  for (let i = 0; i < whole.length; i++) {
    if ((i < offset || i >= offset + len) && whole[i] !== SENTINEL) return `element ${i} overwritten: ${whole[i]}`;
  }
  return null;
}

const U = 2 ** -24;

/** |got − exact| ≤ (k + 4)·u·bound: the float32 accumulation error bound, plus slack for α/β rounding. */
function gemmMismatch(label: string, got: Float32Array, want: { c: Float64Array; bound: Float64Array }, k: number) {
  return mismatch(label, got, want.c, (i) => (k + 4) * U * want.bound[i] + 1e-30);
}

const LAYOUTS: [boolean, boolean, string][] = [[false, false, 'NN'], [false, true, 'NT'], [true, false, 'TN'], [true, true, 'TT']];

// (m, n, k): empty, single, odd, block edges (MR 4/6/12, NR 4/16/32, KC 256, MC 128/144, NC 1024/2048),
// the small-m direct-B path with ragged n, and one large uneven shape.
const SHAPES: [number, number, number][] = [
  [0, 0, 0], [0, 5, 3], [4, 0, 3], [3, 5, 0], [1, 1, 1], [1, 17, 1], [7, 13, 29], [13, 7, 29],
  [6, 16, 8], [12, 32, 8], [20, 37, 50], [128, 130, 64], [129, 129, 129], [150, 33, 300],
  [257, 257, 257], [3, 2100, 5], [1000, 1001, 37],
];

// --- native-specific checks -----------------------------------------------------------

for (const isa of allIsas) {
  describe.skipIf(!runnable.includes(isa))(`native ${isa}: gemm vs float64`, () => {
    const k: Kernels | null = runnable.includes(isa) ? createNativeKernels(isa) : null;

    it.each(SHAPES)('m=%i n=%i k=%i, all layouts, within the accumulation bound', (m, n, kk) => {
      const rng = new Rng(m * 1000003 + n * 1009 + kk);
      const a = randomF32(rng, m * kk), b = randomF32(rng, kk * n);
      for (const [ta, tb, name] of LAYOUTS) {
        const c = new Float32Array(m * n).fill(NaN); // beta = 0 must ignore NaN
        k!.gemm(ta, tb, m, n, kk, 1, a, b, 0, c);
        expect(gemmMismatch(`${name} c`, c, refGemm(ta, tb, m, n, kk, 1, a, b, 0, c), kk)).toBeNull();
      }
    });

    it('alpha/beta combinations, NaN rules of BLAS', () => {
      const rng = new Rng(7);
      const [m, n, kk] = [23, 41, 67];
      const a = randomF32(rng, m * kk), b = randomF32(rng, kk * n), c0 = randomF32(rng, m * n);
      for (const alpha of [1, -0.5, 2.25]) {
        for (const beta of [0, 1, -1, 0.25]) {
          for (const [ta, tb, name] of LAYOUTS) {
            const c = c0.slice();
            k!.gemm(ta, tb, m, n, kk, alpha, a, b, beta, c);
            const want = refGemm(ta, tb, m, n, kk, alpha, a, b, beta, c0);
            expect(gemmMismatch(`${name} α=${alpha} β=${beta}`, c, want, kk)).toBeNull();
          }
        }
      }
      // alpha = 0: C = beta·C and A, B are not read (NaN in A does not reach C), like jsKernels
      const aNaN = a.slice().fill(NaN);
      const c = c0.slice();
      k!.gemm(false, false, m, n, kk, 0, aNaN, b, 0.5, c);
      expect(mismatch('α=0', c, Array.from(c0, (x) => Math.fround(0.5 * x)), 0)).toBeNull();
      // k = 0: C = beta·C; beta = 0 zeroes C even if it held NaN
      const cz = new Float32Array(m * n).fill(NaN);
      k!.gemm(false, false, m, n, 0, 1, new Float32Array(0), new Float32Array(0), 0, cz);
      expect(cz.every((x) => x === 0)).toBe(true);
    });

    it('works on SharedArrayBuffer views at odd offsets, touching nothing around them', () => {
      const rng = new Rng(11);
      for (const [m, n, kk] of [[7, 13, 29], [67, 70, 300], [5, 40, 9]] as const) {
        const a = randomF32(rng, m * kk), b = randomF32(rng, kk * n), c0 = randomF32(rng, m * n);
        for (const [ta, tb, name] of LAYOUTS) {
          const plain = c0.slice();
          k!.gemm(ta, tb, m, n, kk, 0.75, a, b, 0.5, plain);
          for (const [oa, ob, oc] of [[1, 3, 5], [3, 1, 7], [5, 7, 1]]) {
            const A = sharedView(m * kk, oa), B = sharedView(kk * n, ob), C = sharedView(m * n, oc);
            A.view.set(a); B.view.set(b); C.view.set(c0);
            k!.gemm(ta, tb, m, n, kk, 0.75, A.view, B.view, 0.5, C.view);
            // Alignment does not change the arithmetic: identical to the aligned call.
            expect(mismatch(`${name} offset c`, C.view, plain, 0)).toBeNull();
            expect(untouched(C.whole, oc, m * n)).toBeNull();
            expect(untouched(A.whole, oa, m * kk)).toBeNull();
            expect(untouched(B.whole, ob, kk * n)).toBeNull();
          }
        }
      }
    });

    it('uses only the first m×n elements of a larger C', () => {
      const rng = new Rng(5);
      const [m, n, kk] = [9, 21, 17];
      const a = randomF32(rng, m * kk + 50), b = randomF32(rng, kk * n + 50);
      const c = new Float32Array(m * n + 40).fill(SENTINEL);
      k!.gemm(false, false, m, n, kk, 1, a, b, 0, c);
      expect(c.subarray(m * n).every((x) => x === SENTINEL)).toBe(true);
    });
  });
}

// --- every other kernel vs jsKernels ---------------------------------------------------

/** Float tolerance: a few float32 ulps relative, plus an absolute floor. */
function close(label: string, got: ArrayLike<number>, want: ArrayLike<number>, rtol = 4e-6, atol = 1e-6) {
  return mismatch(label, got, want, (i) => rtol * Math.abs(want[i]) + atol);
}

for (const isa of allIsas) {
  describe.skipIf(!runnable.includes(isa))(`native ${isa}: matches jsKernels`, () => {
    const k: Kernels | null = runnable.includes(isa) ? createNativeKernels(isa) : null;
    const rng = new Rng(42);

    it.each(ACTIVATIONS)('biasActivation %s (separate and in place), activationBackward', (act: Activation) => {
      for (const [rows, cols] of [[1, 1], [3, 37], [64, 130]]) {
        const z0 = randomF32(rng, rows * cols, -6, 6), bias = randomF32(rng, cols);
        z0[0] = NaN; // NaN propagates like the reference
        const zj = z0.slice(), hj = new Float32Array(rows * cols);
        const zn = z0.slice(), hn = new Float32Array(rows * cols);
        jsKernels.biasActivation(rows, cols, zj, bias, act, hj);
        k!.biasActivation(rows, cols, zn, bias, act, hn);
        expect(close(`${act} z`, zn, zj, 0, 0)).toBeNull(); // z + bias is one float rounding
        expect(close(`${act} h`, hn, hj)).toBeNull();
        const inPlace = z0.slice();
        k!.biasActivation(rows, cols, inPlace, bias, act, inPlace);
        expect(close(`${act} in place`, inPlace, hj)).toBeNull();

        const n = rows * cols, dh = randomF32(rng, n);
        const dzj = new Float32Array(n), dzn = new Float32Array(n);
        jsKernels.activationBackward(n, act, zj, hj, dh, dzj);
        k!.activationBackward(n, act, zn, hn, dh, dzn);
        expect(close(`${act} dz`, dzn, dzj)).toBeNull();
        const alias = dh.slice(); // dz may alias dh
        k!.activationBackward(n, act, zn, hn, alias, alias);
        expect(close(`${act} dz aliased`, alias, dzj)).toBeNull();
      }
    });

    it('vectorized tanh, sigmoid and gelu hold float accuracy on a dense grid, tails included', () => {
      // 40 001 points over [-16, 10]: every lane position, the saturated tails, the cancellation
      // of gelu' near z ≈ -0.75 and results down to the float denormal range.
      const n = 40001;
      const z = Float32Array.from({ length: n }, (_, i) => -16 + (26 * i) / (n - 1));
      const zero = new Float32Array(n);
      const ref: Record<string, (x: number) => [number, number]> = {
        tanh: (x) => { const t = Math.tanh(x); return [t, 1 - t * t]; },
        sigmoid: (x) => { const s = 1 / (1 + Math.exp(-x)); return [s, s * (1 - s)]; },
        gelu: (x) => {
          const cdf = 0.5 * erfc(-x * Math.SQRT1_2);
          return [x * cdf, cdf + (x * Math.exp(-0.5 * x * x)) / Math.sqrt(2 * Math.PI)];
        },
      };
      for (const act of ['tanh', 'sigmoid', 'gelu'] as const) {
        const h = new Float32Array(n), dz = new Float32Array(n), dh = new Float32Array(n).fill(1);
        k!.biasActivation(1, n, z.slice(), zero, act, h);
        k!.activationBackward(n, act, z, act === 'gelu' ? zero : h, dh, dz);
        const fwd = Array.from(z, (x) => ref[act](x)[0]);
        // backward reads the float32 h for tanh/sigmoid: compare with the derivative at that h
        const bwd = Array.from(z, (x, i) => (act === 'gelu' ? ref[act](x)[1] : act === 'tanh' ? 1 - h[i] * h[i] : h[i] * (1 - h[i])));
        expect(mismatch(`${act} h`, h, fwd, (i) => 2e-6 * Math.abs(fwd[i]) + 1.2e-38)).toBeNull();
        expect(mismatch(`${act} dz`, dz, bwd, (i) => 2e-6 * Math.abs(bwd[i]) + 2.5e-7)).toBeNull();
      }
    });

    it('biasGrad', () => {
      for (const [rows, cols] of [[1, 1], [256, 10], [33, 600], [5, 1030]]) {
        const dy = randomF32(rng, rows * cols);
        const dbj = new Float32Array(cols), dbn = new Float32Array(cols).fill(NaN);
        jsKernels.biasGrad(rows, cols, dy, dbj);
        k!.biasGrad(rows, cols, dy, dbn);
        expect(close('db', dbn, dbj, 1e-6, 1e-6)).toBeNull();
      }
    });

    it.each(LOSS_KINDS)('loss %s with unlabelled entries, and class weights', (kind: LossKind) => {
      const [rows, cols] = [37, kind === 'cross_entropy' ? 10 : 3];
      const pred = kind === 'bce' ? randomF32(rng, rows * cols, 0.001, 0.999) : randomF32(rng, rows * cols, -4, 4);
      const target = new Float32Array(kind === 'cross_entropy' ? rows : rows * cols);
      for (let i = 0; i < target.length; i++) {
        if (kind === 'cross_entropy') target[i] = Math.floor(rng.uniform(0, cols));
        else if (kind === 'bce' || kind === 'bce_with_logits') target[i] = rng.uniform(0, 1) < 0.5 ? 0 : 1;
        else target[i] = rng.uniform(-3, 3);
        if (i % 7 === 3) target[i] = NaN;
      }
      const gj = new Float32Array(rows * cols), gn = new Float32Array(rows * cols).fill(NaN);
      const sj = new Float64Array(LOSS_STATS_LENGTH), sn = new Float64Array(LOSS_STATS_LENGTH);
      jsKernels.loss(kind, rows, cols, pred, target, 0.125, gj, sj);
      k!.loss(kind, rows, cols, pred, target, 0.125, gn, sn);
      expect(close(`${kind} grad`, gn, gj)).toBeNull();
      expect(close(`${kind} stats`, sn, sj, 1e-12, 1e-12)).toBeNull();
      if (kind === 'mse' || kind === 'l1' || kind === 'smooth_l1') return;
      // class weights (cross_entropy) or pos_weights (binary), a zero among them
      const weights = randomF32(rng, cols, 0, 4);
      weights[1] = 0;
      jsKernels.loss(kind, rows, cols, pred, target, 0.125, gj, sj, weights);
      k!.loss(kind, rows, cols, pred, target, 0.125, gn.fill(NaN), sn, weights);
      expect(close(`${kind} weighted grad`, gn, gj)).toBeNull();
      expect(close(`${kind} weighted stats`, sn, sj, 1e-12, 1e-12)).toBeNull();
    });

    it('loss rejects a class index out of range', () => {
      const stats = new Float64Array(LOSS_STATS_LENGTH);
      expect(() => k!.loss('cross_entropy', 2, 3, new Float32Array(6), Float32Array.of(0, 3), 1, new Float32Array(6), stats))
        .toThrow(RangeError);
      expect(() => k!.loss('cross_entropy', 1, 3, new Float32Array(3), Float32Array.of(1.5), 1, new Float32Array(3), stats))
        .toThrow(RangeError);
    });

    it('axpy, scale, dot, norm', () => {
      for (const n of [0, 1, 15, 16, 17, 1000, 100003]) {
        const x = randomF32(rng, n), y = randomF32(rng, n);
        const yj = y.slice(), yn = y.slice();
        jsKernels.axpy(n, -0.3, x, yj);
        k!.axpy(n, -0.3, x, yn);
        expect(close('axpy', yn, yj)).toBeNull();
        const sj = x.slice(), sn = x.slice();
        jsKernels.scale(n, 1.7, sj);
        k!.scale(n, 1.7, sn);
        expect(close('scale', sn, sj)).toBeNull();
        // float64 accumulation: only the summation order differs
        expect(Math.abs(k!.dot(n, x, y) - jsKernels.dot(n, x, y))).toBeLessThan(1e-12 * (n + 1));
        expect(k!.norm(n, x)).toBeCloseTo(jsKernels.norm(n, x), 10);
      }
    });

    const sgdCases: SgdHyper[] = [
      { lr: 0.1, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0, firstStep: true },
      { lr: 0.05, momentum: 0.9, dampening: 0.1, nesterov: false, weightDecay: 1e-2, firstStep: true },
      { lr: 0.05, momentum: 0.9, dampening: 0, nesterov: true, weightDecay: 0, firstStep: true },
    ];
    it.each(sgdCases)('sgdStep %o over three steps', (h0) => {
      const n = 1037;
      const pj = randomF32(rng, n), bj = new Float32Array(n);
      const pn = pj.slice(), bn = bj.slice();
      for (let step = 1; step <= 3; step++) {
        const g = randomF32(rng, n);
        const h = { ...h0, firstStep: step === 1 };
        jsKernels.sgdStep(n, pj, g, bj, h);
        k!.sgdStep(n, pn, g, bn, h);
      }
      expect(close('param', pn, pj)).toBeNull();
      expect(close('buf', bn, bj)).toBeNull();
    });

    const adamCases: AdamHyper[] = [
      { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false, step: 1 },
      { lr: 1e-2, beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0.1, decoupled: false, step: 1 },
      { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, decoupled: true, step: 1 },
    ];
    it.each(adamCases)('adamStep %o over three steps', (h0) => {
      const n = 1037;
      const pj = randomF32(rng, n), mj = new Float32Array(n), vj = new Float32Array(n);
      const pn = pj.slice(), mn = mj.slice(), vn = vj.slice();
      for (let step = 1; step <= 3; step++) {
        const g = randomF32(rng, n);
        const h = { ...h0, step };
        jsKernels.adamStep(n, pj, g, mj, vj, h);
        k!.adamStep(n, pn, g, mn, vn, h);
      }
      expect(close('param', pn, pj)).toBeNull();
      expect(close('m', mn, mj)).toBeNull();
      expect(close('v', vn, vj, 1e-5, 1e-12)).toBeNull();
    });
  });
}

// --- argument validation -----------------------------------------------------------------

describe.skipIf(!loaded)('native argument validation', () => {
  const k = loaded ? createNativeKernels(runnable[0]) : jsKernels;
  const f = (n: number) => new Float32Array(n);

  it('gemm: short arrays are RangeErrors naming the argument, and nothing is written', () => {
    const c = f(6).fill(3);
    expect(() => k.gemm(false, false, 2, 3, 4, 1, f(7), f(12), 0, c)).toThrow(/gemm: a has 7 elements, needs 8/);
    expect(() => k.gemm(false, false, 2, 3, 4, 1, f(8), f(11), 0, c)).toThrow(RangeError);
    expect(() => k.gemm(false, false, 2, 3, 4, 1, f(8), f(12), 0, f(5))).toThrow(/gemm: c has 5 elements, needs 6/);
    expect(c.every((x) => x === 3)).toBe(true);
  });

  it('gemm: wrong types are TypeErrors, bad sizes RangeErrors', () => {
    const g = k.gemm as unknown as (...args: unknown[]) => void;
    expect(() => g(false, false, 1, 1, 1, 1, new Float64Array(1), f(1), 0, f(1))).toThrow(TypeError);
    expect(() => g(false, false, 1, 1, 1, 1, [1], f(1), 0, f(1))).toThrow(TypeError);
    expect(() => g(0, false, 1, 1, 1, 1, f(1), f(1), 0, f(1))).toThrow(TypeError);
    expect(() => g(false, false, -1, 1, 1, 1, f(1), f(1), 0, f(1))).toThrow(RangeError);
    expect(() => g(false, false, 1.5, 1, 1, 1, f(2), f(2), 0, f(2))).toThrow(RangeError);
    expect(() => g(false, false, 1, 1, 1, 1, f(1), f(1), 0)).toThrow(TypeError);
    expect(() => g(false, false, 2 ** 40, 2 ** 40, 1, 1, f(1), f(1), 0, f(1))).toThrow(RangeError);
  });

  it('a detached buffer counts as empty', () => {
    const buf = new ArrayBuffer(16);
    const a = new Float32Array(buf);
    structuredClone(buf, { transfer: [buf] });
    expect(() => k.axpy(4, 1, a, f(4))).toThrow(/x has 0 elements, needs 4/);
  });

  it('the other kernels check their lengths too', () => {
    const stats = new Float64Array(LOSS_STATS_LENGTH);
    expect(() => k.biasActivation(2, 3, f(6), f(2), 'relu', f(6))).toThrow(/bias has 2 elements, needs 3/);
    expect(() => k.biasActivation(2, 3, f(6), f(3), 'relu', f(5))).toThrow(RangeError);
    expect(() => k.biasActivation(2, 3, f(6), f(3), 'swish' as Activation, f(6))).toThrow(/unknown activation/);
    expect(() => k.activationBackward(4, 'tanh', f(0), f(3), f(4), f(4))).toThrow(/h has 3 elements/);
    expect(() => k.activationBackward(4, 'gelu', f(3), f(0), f(4), f(4))).toThrow(/z has 3 elements/);
    expect(() => k.biasGrad(3, 2, f(5), f(2))).toThrow(RangeError);
    expect(() => k.loss('mse', 2, 2, f(4), f(3), 1, f(4), stats)).toThrow(/target has 3 elements/);
    expect(() => k.loss('mse', 2, 2, f(4), f(4), 1, f(4), new Float64Array(2))).toThrow(/stats has 2 elements/);
    expect(() => k.loss('mse', 1, 1, f(1), f(1), 1, f(1), f(3) as unknown as Float64Array)).toThrow(TypeError);
    expect(() => k.loss('hinge' as LossKind, 1, 1, f(1), f(1), 1, f(1), stats)).toThrow(/unknown loss/);
    expect(() => k.axpy(3, 1, f(3), f(2))).toThrow(/y has 2 elements/);
    expect(() => k.scale(3, 1, f(2))).toThrow(RangeError);
    expect(() => k.dot(3, f(3), f(2))).toThrow(RangeError);
    expect(() => k.norm(3, f(2))).toThrow(RangeError);
    expect(() => k.gatherRows(1, f(2), f(1) as unknown as Int32Array, 0, 1, f(1))).toThrow(/indices must be an Int32Array/);
    const sgd: SgdHyper = { lr: 0.1, momentum: 0.9, dampening: 0, nesterov: false, weightDecay: 0, firstStep: true };
    expect(() => k.sgdStep(3, f(3), f(3), f(2), sgd)).toThrow(/buf has 2 elements/);
    expect(() => k.sgdStep(3, f(3), f(3), f(0), { ...sgd, momentum: 0 })).not.toThrow();
    expect(() => k.sgdStepSummed(3, f(3), f(3), f(2), f(3), sgd)).toThrow(/sgdStepSummed: grad1 has 2 elements/);
    expect(() => k.sgdStepSummed(3, f(3), f(3), f(3), f(2), sgd)).toThrow(/buf has 2 elements/);
    expect(() => k.sgdStepSummed(3, f(3), f(3), f(3), f(0), { ...sgd, momentum: 0 })).not.toThrow();
    const adam: AdamHyper = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false, step: 1 };
    expect(() => k.adamStep(3, f(3), f(3), f(3), f(2), adam)).toThrow(/v has 2 elements/);
    expect(() => k.adamStep(3, f(3), f(3), f(3), f(3), { ...adam, step: 0 })).toThrow(/step must be/);
    expect(() => k.adamStepSummed(3, f(3), f(3), f(2), f(3), f(3), adam)).toThrow(/adamStepSummed: grad1 has 2 elements/);
    expect(() => k.adamStepSummed(3, f(3), f(2), f(3), f(3), f(3), adam)).toThrow(/grad0 has 2 elements/);
    expect(() => k.adamStepSummed(3, f(3), f(3), f(3), f(3), f(2), adam)).toThrow(/v has 2 elements/);
    expect(() => k.adamStepSummed(3, f(3), f(3), f(3), f(3), f(3), { ...adam, step: 0.5 })).toThrow(/step must be/);
  });
});
