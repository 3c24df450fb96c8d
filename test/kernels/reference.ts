/**
 * Float64 reference implementations of every kernel, written for clarity rather than
 * speed, plus seeded input generators and comparison helpers. Shared by the suites of
 * every `Kernels` backend (see suite.ts).
 */

import { Rng } from '../../src/util/rng.js';
import type { Activation, AdamHyper, LossKind, SgdHyper } from '../../src/kernels/types.js';

// ---------------------------------------------------------------------------
// inputs

/** A Float32Array of n uniform values in [lo, hi) from a seeded generator. */
export function randomF32(rng: Rng, n: number, lo = -1, hi = 1): Float32Array {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = rng.uniform(lo, hi);
  return x;
}

export { Rng };

export const SENTINEL = -12345.5;

/**
 * A `len`-element view at an odd element offset inside a larger buffer whose other
 * elements hold SENTINEL, to catch reads of the wrong offset and writes out of bounds.
 */
export interface Guarded {
  view: Float32Array;
  whole: Float32Array;
  offset: number;
}

export function guarded(len: number, offset = 3, after = 5): Guarded {
  const whole = new Float32Array(offset + len + after).fill(SENTINEL);
  return { view: new Float32Array(whole.buffer, 4 * offset, len), whole, offset };
}

/** A guarded view holding a copy of `data`. */
export function guardedCopy(data: ArrayLike<number>, offset = 3): Guarded {
  const g = guarded(data.length, offset);
  g.view.set(data);
  return g;
}

/** Describes the first element outside the view that is no longer SENTINEL, or null. */
export function strayWrite(g: Guarded): string | null {
  const end = g.offset + g.view.length;
  for (let i = 0; i < g.whole.length; i++) {
    if ((i < g.offset || i >= end) && !Object.is(g.whole[i], SENTINEL)) {
      return `element ${i - g.offset} relative to the view was overwritten with ${g.whole[i]}`;
    }
  }
  return null;
}

// ---------------------------------------------------------------------------
// comparison

/**
 * Describes the first i < want.length with |got[i] − want[i]| > tol(i) (NaN matches only NaN),
 * or returns null. Used as `expect(mismatch(...)).toBeNull()` to get one readable failure
 * instead of thousands of expect calls.
 */
export function mismatch(label: string, got: ArrayLike<number>, want: ArrayLike<number>,
  tol: number | ((i: number) => number)): string | null {
  for (let i = 0; i < want.length; i++) {
    const g = got[i], w = want[i];
    if (Number.isNaN(w) && Number.isNaN(g)) continue;
    const t = typeof tol === 'number' ? tol : tol(i);
    if (!(Math.abs(g - w) <= t)) return `${label}[${i}]: got ${g}, want ${w} (tolerance ${t})`;
  }
  return null;
}

/** Describes the first element whose bits differ (-0 from 0 included), or returns null. */
export function bitMismatch(label: string, got: ArrayLike<number>, want: ArrayLike<number>): string | null {
  for (let i = 0; i < want.length; i++) if (!Object.is(got[i], want[i])) return `${label}[${i}]: got ${got[i]}, want ${want[i]}`;
  return null;
}

/** Tolerance rtol·|want| + atol for one value. */
export function relTol(want: number, rtol: number, atol = 0): number {
  return rtol * Math.abs(want) + atol;
}

/** Central difference of f at x with step h (float64). */
export function centralDiff(f: (x: number) => number, x: number, h: number): number {
  return (f(x + h) - f(x - h)) / (2 * h);
}

// ---------------------------------------------------------------------------
// gemm

/**
 * C = alpha·op(A)·op(B) + beta·C in float64 (C not read when beta = 0), together with
 * bound[i] = |alpha|·Σ|op(A)||op(B)| + |beta·C| per element: a float32 implementation
 * accumulating over k terms is within about (k + 2)·2^-24·bound of the exact result.
 */
export function refGemm(transA: boolean, transB: boolean, m: number, n: number, k: number,
  alpha: number, a: ArrayLike<number>, b: ArrayLike<number>, beta: number, c: ArrayLike<number>,
): { c: Float64Array; bound: Float64Array } {
  const out = new Float64Array(m * n), bound = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0, abs = 0;
      for (let p = 0; p < k; p++) {
        const x = transA ? a[p * m + i] : a[i * k + p];
        const y = transB ? b[j * k + p] : b[p * n + j];
        s += x * y;
        abs += Math.abs(x * y);
      }
      const prev = beta === 0 ? 0 : beta * c[i * n + j];
      out[i * n + j] = alpha * s + prev;
      bound[i * n + j] = Math.abs(alpha) * abs + Math.abs(prev);
    }
  }
  return { c: out, bound };
}

// ---------------------------------------------------------------------------
// erf and activations

/** erfc by its Taylor series (|x| < 3) or Laplace's continued fraction (|x| ≥ 3). */
export function refErfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x <= -3) return 2 - refErfc(-x);
  if (x < 3) {
    // erf(x) = 2/√π · e^{−x²} · Σ_n 2ⁿ x^{2n+1} / (1·3·…·(2n+1)): positive terms, no cancellation
    let term = Math.abs(x), sum = term;
    for (let n = 1; term > 1e-18 * sum; n++) {
      term *= (2 * x * x) / (2 * n + 1);
      sum += term;
    }
    const erfAbs = (2 / Math.sqrt(Math.PI)) * Math.exp(-x * x) * sum;
    return x < 0 ? 1 + erfAbs : 1 - erfAbs;
  }
  // erfc(x) = e^{−x²}/√π · 1/(x + ½/(x + 1/(x + (3/2)/(x + …))))
  let t = x;
  for (let n = 300; n >= 1; n--) t = x + n / 2 / t;
  return Math.exp(-x * x) / (Math.sqrt(Math.PI) * t);
}

export function refErf(x: number): number {
  return 1 - refErfc(x);
}

/** act(z) in float64. gelu is PyTorch's exact form z·Φ(z). */
export function refAct(act: Activation, z: number): number {
  switch (act) {
    case 'identity': return z;
    case 'relu': return z > 0 ? z : 0;
    case 'tanh': return Math.tanh(z);
    case 'sigmoid': return 1 / (1 + Math.exp(-z));
    case 'gelu': return z * 0.5 * refErfc(-z / Math.SQRT2);
  }
}

/** act'(z) in float64 (relu'(0) = 0, as PyTorch). */
export function refActGrad(act: Activation, z: number): number {
  switch (act) {
    case 'identity': return 1;
    case 'relu': return z > 0 ? 1 : 0;
    case 'tanh': { const t = Math.tanh(z); return 1 - t * t; }
    case 'sigmoid': { const s = 1 / (1 + Math.exp(-z)); return s * (1 - s); }
    case 'gelu': return 0.5 * refErfc(-z / Math.SQRT2) + z * Math.exp(-0.5 * z * z) / Math.sqrt(2 * Math.PI);
  }
}

/** Points where act has a kink (finite differences are skipped near them). */
export function actKinks(act: Activation): number[] {
  return act === 'relu' ? [0] : [];
}

// ---------------------------------------------------------------------------
// losses

export interface RefLoss {
  sum: number;
  count: number;
  metric: number;
  /** the mean's denominator: Σ w[target] (cross_entropy with weights), else count */
  weight: number;
  /** ∂(sum)/∂pred, 0 for unlabelled entries. */
  grad: Float64Array;
}

/** Softplus log(1 + e^z) without overflow. */
function softplus(z: number): number {
  return z > 30 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z));
}

/**
 * The losses of types.ts in float64, each written from its textbook definition;
 * `weights` as PyTorch's: cross_entropy's per-class `weight`, the binary losses'
 * per-column `pos_weight`.
 */
export function refLoss(kind: LossKind, rows: number, cols: number,
  pred: ArrayLike<number>, target: ArrayLike<number>, weights?: ArrayLike<number>): RefLoss {
  const grad = new Float64Array(rows * cols);
  let sum = 0, count = 0, metric = 0, weight = 0;
  if (kind === 'cross_entropy') {
    for (let r = 0; r < rows; r++) {
      const t = target[r];
      if (Number.isNaN(t)) continue;
      const w = weights ? weights[t] : 1;
      // float64 holds e^z for |z| < 709, so no max-shift is needed for the test's logits
      let se = 0, arg = 0;
      for (let j = 0; j < cols; j++) {
        se += Math.exp(pred[r * cols + j]);
        if (pred[r * cols + j] > pred[r * cols + arg]) arg = j;
      }
      sum += w * (Math.log(se) - pred[r * cols + t]);
      count++;
      weight += w;
      if (arg === t) metric++;
      for (let j = 0; j < cols; j++) grad[r * cols + j] = w * (Math.exp(pred[r * cols + j]) / se - (j === t ? 1 : 0));
    }
    return { sum, count, metric, weight, grad };
  }
  for (let i = 0; i < rows * cols; i++) {
    const y = target[i];
    if (Number.isNaN(y)) continue;
    const p = pred[i], d = p - y;
    const pw = weights ? weights[i % cols] : 1;
    count++;
    switch (kind) {
      case 'bce_with_logits':
        // −pw·y·log σ(p) − (1−y)·log(1−σ(p)), with −log σ(p) = softplus(−p), −log(1−σ(p)) = softplus(p)
        sum += pw * y * softplus(-p) + (1 - y) * softplus(p);
        grad[i] = -pw * y / (1 + Math.exp(p)) + (1 - y) / (1 + Math.exp(-p));
        if ((p > 0) === (y > 0.5)) metric++;
        break;
      case 'bce':
        sum += -(pw * y * Math.max(Math.log(p), -100) + (1 - y) * Math.max(Math.log(1 - p), -100));
        grad[i] = (-pw * y * (1 - p) + (1 - y) * p) / Math.max(p * (1 - p), 1e-12);
        if ((p > 0.5) === (y > 0.5)) metric++;
        break;
      case 'mse':
        sum += d * d;
        grad[i] = 2 * d;
        metric += d * d;
        break;
      case 'l1':
        sum += Math.abs(d);
        grad[i] = d > 0 ? 1 : d < 0 ? -1 : 0;
        metric += d * d;
        break;
      case 'smooth_l1':
        sum += Math.abs(d) < 1 ? 0.5 * d * d : Math.abs(d) - 0.5;
        grad[i] = Math.abs(d) < 1 ? d : Math.sign(d);
        metric += d * d;
        break;
    }
  }
  return { sum, count, metric, weight: count, grad };
}

/**
 * Whether pred[i] is within h of a kink of its loss term (|d| ∈ {0, 1} for l1 / smooth_l1,
 * the −100 log clamp or the 1e-12 floor for bce), where a finite difference is meaningless.
 */
export function nearLossKink(kind: LossKind, pred: number, target: number, h: number): boolean {
  const d = Math.abs(pred - target);
  switch (kind) {
    case 'l1': return d < 2 * h;
    case 'smooth_l1': return d < 2 * h || Math.abs(d - 1) < 2 * h;
    case 'bce': return pred < 1e-3 || pred > 1 - 1e-3;
    default: return false;
  }
}

// ---------------------------------------------------------------------------
// optimizers: PyTorch's documented update rules, in float64, updating the arrays in place

export function refSgd(n: number, param: Float64Array, grad: ArrayLike<number>, buf: Float64Array,
  h: SgdHyper): void {
  for (let i = 0; i < n; i++) {
    let g = grad[i];
    if (h.weightDecay !== 0) g = g + h.weightDecay * param[i];
    if (h.momentum !== 0) {
      buf[i] = h.firstStep ? g : h.momentum * buf[i] + (1 - h.dampening) * g;
      g = h.nesterov ? g + h.momentum * buf[i] : buf[i];
    }
    param[i] = param[i] - h.lr * g;
  }
}

export function refAdam(n: number, param: Float64Array, grad: ArrayLike<number>, m: Float64Array,
  v: Float64Array, h: AdamHyper): void {
  for (let i = 0; i < n; i++) {
    let g = grad[i];
    if (!h.decoupled && h.weightDecay !== 0) g = g + h.weightDecay * param[i];
    if (h.decoupled) param[i] *= 1 - h.lr * h.weightDecay;
    m[i] = h.beta1 * m[i] + (1 - h.beta1) * g;
    v[i] = h.beta2 * v[i] + (1 - h.beta2) * g * g;
    const bc1 = 1 - h.beta1 ** h.step, bc2 = 1 - h.beta2 ** h.step;
    const denom = Math.sqrt(v[i]) / Math.sqrt(bc2) + h.eps;
    param[i] -= (h.lr / bc1) * (m[i] / denom);
  }
}
