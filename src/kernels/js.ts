/**
 * Portable TypeScript kernels: the reference implementation of `Kernels` and the
 * fallback when the native addon is unavailable.
 *
 * Written for V8: every hot loop is monomorphic over Float32Array, allocates nothing
 * and branches on the activation / loss kind once per call, not per element.
 * Intermediate values are JS doubles; results are rounded when stored.
 */

import type { Activation, AdamHyper, Kernels, LossKind, SgdHyper } from './types.js';
import { LOSS_COUNT, LOSS_METRIC, LOSS_SUM, LOSS_WEIGHT } from './types.js';

// ---------------------------------------------------------------------------
// gemm

/**
 * Cache blocking: the microkernel sweeps KC steps of k at a time so that the
 * 4-row strip of op(A) and the 4-column strip of op(B) it reads stay in L1 whatever
 * the strides; NC bounds the block of op(B) that all row tiles reuse (L2).
 */
const KC = 256;
const NC = 256;

function gemm(transA: boolean, transB: boolean, m: number, n: number, k: number,
  alpha: number, a: Float32Array, b: Float32Array, beta: number, c: Float32Array): void {
  if (m <= 0 || n <= 0) return;
  if (beta === 0) c.fill(0, 0, m * n); // BLAS: C is not read when beta = 0 (drops NaN)
  else if (beta !== 1) for (let i = 0, mn = m * n; i < mn; i++) c[i] *= beta;
  if (k <= 0 || alpha === 0) return;

  // One strided code path serves all four layouts: op(A)[i, p] = a[i·ai + p·ap] and
  // op(B)[p, j] = b[p·bp + j·bj]. Per k step the 4×4 tile reads 4 elements of op(A)
  // and 4 of op(B), each either 4 adjacent floats or 4 streams advancing by one float,
  // so every combination walks contiguous memory.
  const ai = transA ? 1 : k, ap = transA ? m : 1;
  const bp = transB ? 1 : n, bj = transB ? k : 1;
  const m4 = m - (m & 3), n4 = n - (n & 3);
  for (let jc = 0; jc < n4; jc += NC) {
    const jEnd = jc + NC < n4 ? jc + NC : n4;
    for (let pc = 0; pc < k; pc += KC) {
      tiles4x4(m4, jc, jEnd, pc, pc + KC < k ? pc + KC : k, alpha, a, ai, ap, b, bp, bj, c, n);
    }
  }
  // What does not fill a 4×4 tile: right-hand columns of the tiled rows, then the last rows.
  if (n4 < n) edge(0, m4, n4, n, k, alpha, a, ai, ap, b, bp, bj, c, n);
  if (m4 < m) edge(m4, m, 0, n, k, alpha, a, ai, ap, b, bp, bj, c, n);
}

/** C[i0.., j0..j1) += alpha·op(A)·op(B) over k in [p0, p1), rows [0, m4) in 4×4 register tiles. */
function tiles4x4(m4: number, j0: number, j1: number, p0: number, p1: number, alpha: number,
  a: Float32Array, ai: number, ap: number, b: Float32Array, bp: number, bj: number,
  c: Float32Array, n: number): void {
  const kk = p1 - p0;
  for (let i = 0; i < m4; i += 4) {
    const a0 = i * ai + p0 * ap, a1 = a0 + ai, a2 = a1 + ai, a3 = a2 + ai;
    for (let j = j0; j < j1; j += 4) {
      const b0 = j * bj + p0 * bp, b1 = b0 + bj, b2 = b1 + bj, b3 = b2 + bj;
      let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
      let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
      for (let p = 0, x = 0, y = 0; p < kk; p++, x += ap, y += bp) {
        const x0 = a[a0 + x], x1 = a[a1 + x], x2 = a[a2 + x], x3 = a[a3 + x];
        const y0 = b[b0 + y], y1 = b[b1 + y], y2 = b[b2 + y], y3 = b[b3 + y];
        c00 += x0 * y0; c01 += x0 * y1; c02 += x0 * y2; c03 += x0 * y3;
        c10 += x1 * y0; c11 += x1 * y1; c12 += x1 * y2; c13 += x1 * y3;
        c20 += x2 * y0; c21 += x2 * y1; c22 += x2 * y2; c23 += x2 * y3;
        c30 += x3 * y0; c31 += x3 * y1; c32 += x3 * y2; c33 += x3 * y3;
      }
      let o = i * n + j;
      c[o] += alpha * c00; c[o + 1] += alpha * c01; c[o + 2] += alpha * c02; c[o + 3] += alpha * c03;
      o += n;
      c[o] += alpha * c10; c[o + 1] += alpha * c11; c[o + 2] += alpha * c12; c[o + 3] += alpha * c13;
      o += n;
      c[o] += alpha * c20; c[o + 1] += alpha * c21; c[o + 2] += alpha * c22; c[o + 3] += alpha * c23;
      o += n;
      c[o] += alpha * c30; c[o + 1] += alpha * c31; c[o + 2] += alpha * c32; c[o + 3] += alpha * c33;
    }
  }
}

/** C[i, j] += alpha·Σ_p op(A)[i, p]·op(B)[p, j] for rows [i0, i1), columns [j0, j1): one dot each. */
function edge(i0: number, i1: number, j0: number, j1: number, k: number, alpha: number,
  a: Float32Array, ai: number, ap: number, b: Float32Array, bp: number, bj: number,
  c: Float32Array, n: number): void {
  for (let i = i0; i < i1; i++) {
    for (let j = j0; j < j1; j++) {
      let s = 0;
      for (let p = 0, x = i * ai, y = j * bj; p < k; p++, x += ap, y += bp) s += a[x] * b[y];
      c[i * n + j] += alpha * s;
    }
  }
}

// ---------------------------------------------------------------------------
// erf / erfc

// erfc from fdlibm's s_erf.c (same method and coefficients; error below 1 ulp in double):
// ====================================================
// Copyright (C) 1993 by Sun Microsystems, Inc. All rights reserved.
//
// Developed at SunPro, a Sun Microsystems, Inc. business.
// Permission to use, copy, modify, and distribute this
// software is freely granted, provided that this notice
// is preserved.
// ====================================================
const ERX = 8.45062911510467529297e-01;
// erf(x) = x + x·P/Q on |x| < 0.84375
const PP0 = 1.28379167095512558561e-01, PP1 = -3.25042107247001499370e-01,
  PP2 = -2.84817495755985104766e-02, PP3 = -5.77027029648944159157e-03,
  PP4 = -2.37630166566501626084e-05;
const QQ1 = 3.97917223959155352819e-01, QQ2 = 6.50222499887672944485e-02,
  QQ3 = 5.08130628187576562776e-03, QQ4 = 1.32494738004321644526e-04,
  QQ5 = -3.96022827877536812320e-06;
// erf(1 + s) = ERX + P/Q on 0.84375 ≤ |x| < 1.25
const PA0 = -2.36211856075265944077e-03, PA1 = 4.14856118683748331666e-01,
  PA2 = -3.72207876035701323847e-01, PA3 = 3.18346619901161753674e-01,
  PA4 = -1.10894694282396677476e-01, PA5 = 3.54783043256182359371e-02,
  PA6 = -2.16637559486879084300e-03;
const QA1 = 1.06420880400844228286e-01, QA2 = 5.40397917702171048937e-01,
  QA3 = 7.18286544141962662868e-02, QA4 = 1.26171219808761642112e-01,
  QA5 = 1.36370839120290507362e-02, QA6 = 1.19844998467991074170e-02;
// erfc(x) = exp(−x² − 0.5625 + R/S)/x on 1.25 ≤ |x| < 1/0.35 (RA/SA) and beyond (RB/SB)
const RA0 = -9.86494403484714822705e-03, RA1 = -6.93858572707181764372e-01,
  RA2 = -1.05586262253232909814e+01, RA3 = -6.23753324503260060396e+01,
  RA4 = -1.62396669462573470355e+02, RA5 = -1.84605092906711035994e+02,
  RA6 = -8.12874355063065934246e+01, RA7 = -9.81432934416914548592e+00;
const SA1 = 1.96512716674392571292e+01, SA2 = 1.37657754143519042600e+02,
  SA3 = 4.34565877475229228821e+02, SA4 = 6.45387271733267880336e+02,
  SA5 = 4.29008140027567833386e+02, SA6 = 1.08635005541779435134e+02,
  SA7 = 6.57024977031928170135e+00, SA8 = -6.04244152148580987438e-02;
const RB0 = -9.86494292470009928597e-03, RB1 = -7.99283237680523006574e-01,
  RB2 = -1.77579549177547519889e+01, RB3 = -1.60636384855821916062e+02,
  RB4 = -6.37566443368389627722e+02, RB5 = -1.02509513161107724954e+03,
  RB6 = -4.83519191608651397019e+02;
const SB1 = 3.03380607434824582924e+01, SB2 = 3.25792512996573918826e+02,
  SB3 = 1.53672958608443695994e+03, SB4 = 3.19985821950859553908e+03,
  SB5 = 2.55305040643316442583e+03, SB6 = 4.74528541206955367215e+02,
  SB7 = -2.24409524465858183362e+01;

/** Complementary error function 1 − erf(x), accurate in both tails. */
export function erfc(x: number): number {
  const ax = Math.abs(x);
  if (ax < 0.84375) {
    const z = x * x;
    const r = PP0 + z * (PP1 + z * (PP2 + z * (PP3 + z * PP4)));
    const s = 1 + z * (QQ1 + z * (QQ2 + z * (QQ3 + z * (QQ4 + z * QQ5))));
    const y = r / s;
    return x < 0.25 ? 1 - (x + x * y) : 0.5 - (x * y + (x - 0.5));
  }
  if (ax < 1.25) {
    const s = ax - 1;
    const p = PA0 + s * (PA1 + s * (PA2 + s * (PA3 + s * (PA4 + s * (PA5 + s * PA6)))));
    const q = 1 + s * (QA1 + s * (QA2 + s * (QA3 + s * (QA4 + s * (QA5 + s * QA6)))));
    return x > 0 ? 1 - ERX - p / q : 1 + ERX + p / q;
  }
  if (ax < 28) {
    if (x < -6) return 2;
    const s = 1 / (ax * ax);
    let r: number, q: number;
    if (ax < 1 / 0.35) {
      r = RA0 + s * (RA1 + s * (RA2 + s * (RA3 + s * (RA4 + s * (RA5 + s * (RA6 + s * RA7))))));
      q = 1 + s * (SA1 + s * (SA2 + s * (SA3 + s * (SA4 + s * (SA5 + s * (SA6 + s * (SA7 + s * SA8)))))));
    } else {
      r = RB0 + s * (RB1 + s * (RB2 + s * (RB3 + s * (RB4 + s * (RB5 + s * RB6)))));
      q = 1 + s * (SB1 + s * (SB2 + s * (SB3 + s * (SB4 + s * (SB5 + s * (SB6 + s * SB7))))));
    }
    // Split x² exactly: z has 24 significant bits, so z·z is exact and
    // −x² = −z² + (z − x)(z + x) keeps full precision in exp (fdlibm clears the low word instead).
    const z = Math.fround(ax);
    const e = Math.exp(-z * z - 0.5625) * Math.exp((z - ax) * (z + ax) + r / q) / ax;
    return x > 0 ? e : 2 - e;
  }
  return x > 0 ? 0 : x < 0 ? 2 : x; // NaN stays NaN
}

/** Error function. */
export function erf(x: number): number {
  return 1 - erfc(x);
}

const INV_SQRT_2PI = 0.3989422804014327;

/** Standard normal CDF Φ(x) = ½·erfc(−x/√2): no cancellation in the lower tail. */
function normalCdf(x: number): number {
  return 0.5 * erfc(-x * Math.SQRT1_2);
}

// ---------------------------------------------------------------------------
// bias and activations

function biasActivation(rows: number, cols: number, z: Float32Array, bias: Float32Array,
  act: Activation, h: Float32Array): void {
  for (let r = 0, o = 0; r < rows; r++) {
    for (let j = 0; j < cols; j++, o++) z[o] += bias[j];
  }
  // A second pass reads back the float32 z, so h is exactly act(stored z), the value backward sees.
  const n = rows * cols;
  switch (act) {
    case 'identity':
      if (h !== z) for (let i = 0; i < n; i++) h[i] = z[i];
      return;
    case 'relu':
      for (let i = 0; i < n; i++) { const v = z[i]; h[i] = v < 0 ? 0 : v; } // NaN propagates
      return;
    case 'tanh':
      for (let i = 0; i < n; i++) h[i] = Math.tanh(z[i]);
      return;
    case 'sigmoid':
      for (let i = 0; i < n; i++) h[i] = 1 / (1 + Math.exp(-z[i]));
      return;
    case 'gelu':
      for (let i = 0; i < n; i++) { const v = z[i]; h[i] = v * normalCdf(v); }
      return;
    default:
      throw badActivation(act);
  }
}

function activationBackward(n: number, act: Activation, z: Float32Array, h: Float32Array,
  dh: Float32Array, dz: Float32Array): void {
  switch (act) {
    case 'identity':
      if (dz !== dh) for (let i = 0; i < n; i++) dz[i] = dh[i];
      return;
    case 'relu':
      for (let i = 0; i < n; i++) dz[i] = h[i] > 0 ? dh[i] : 0;
      return;
    case 'tanh':
      for (let i = 0; i < n; i++) { const t = h[i]; dz[i] = dh[i] * (1 - t * t); }
      return;
    case 'sigmoid':
      for (let i = 0; i < n; i++) { const s = h[i]; dz[i] = dh[i] * s * (1 - s); }
      return;
    case 'gelu':
      // d/dx x·Φ(x) = Φ(x) + x·φ(x)
      for (let i = 0; i < n; i++) {
        const v = z[i];
        dz[i] = dh[i] * (normalCdf(v) + v * INV_SQRT_2PI * Math.exp(-0.5 * v * v));
      }
      return;
    default:
      throw badActivation(act);
  }
}

function badActivation(act: string): Error {
  return new RangeError(`unknown activation '${act}'`);
}

function biasGrad(rows: number, cols: number, dy: Float32Array, db: Float32Array): void {
  // Four columns at a time: sums stay in float64 registers while rows stream by.
  const c4 = cols - (cols & 3);
  for (let j = 0; j < c4; j += 4) {
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (let r = 0, o = j; r < rows; r++, o += cols) {
      s0 += dy[o]; s1 += dy[o + 1]; s2 += dy[o + 2]; s3 += dy[o + 3];
    }
    db[j] = s0; db[j + 1] = s1; db[j + 2] = s2; db[j + 3] = s3;
  }
  for (let j = c4; j < cols; j++) {
    let s = 0;
    for (let r = 0, o = j; r < rows; r++, o += cols) s += dy[o];
    db[j] = s;
  }
}

// ---------------------------------------------------------------------------
// losses

function loss(kind: LossKind, rows: number, cols: number, pred: Float32Array, target: Float32Array,
  gradScale: number, grad: Float32Array, stats: Float64Array, classWeights?: Float32Array | null): void {
  const weights = classWeights ?? null;
  if (weights !== null && weights.length < cols) {
    throw new RangeError(`${kind}: classWeights has ${weights.length} elements, needs cols = ${cols}`);
  }
  switch (kind) {
    case 'cross_entropy': return crossEntropy(rows, cols, pred, target, gradScale, grad, stats, weights);
    case 'bce_with_logits': return bceWithLogits(rows, cols, pred, target, gradScale, grad, stats, weights);
    case 'bce': return bce(rows, cols, pred, target, gradScale, grad, stats, weights);
    case 'mse': case 'l1': case 'smooth_l1':
      if (weights !== null) throw new RangeError(`${kind}: a regression loss takes no class weights`);
      return regression(kind, rows * cols, pred, target, gradScale, grad, stats);
    default:
      throw new RangeError(`unknown loss '${kind as string}'`);
  }
}

function writeStats(stats: Float64Array, sum: number, count: number, metric: number, weightSum = count): void {
  stats[LOSS_SUM] = sum;
  stats[LOSS_COUNT] = count;
  stats[LOSS_METRIC] = metric;
  stats[LOSS_WEIGHT] = weightSum;
}

function crossEntropy(rows: number, cols: number, pred: Float32Array, target: Float32Array,
  gradScale: number, grad: Float32Array, stats: Float64Array, weights: Float32Array | null): void {
  let sum = 0, count = 0, correct = 0, weightSum = 0;
  for (let r = 0, o = 0; r < rows; r++, o += cols) {
    const t = target[r];
    if (t !== t) { // unlabelled row
      for (let j = 0; j < cols; j++) grad[o + j] = 0;
      continue;
    }
    if (!(t >= 0 && t < cols && Math.floor(t) === t)) {
      throw new RangeError(`cross_entropy: target of row ${r} is ${t}, not a class index in [0, ${cols})`);
    }
    // the row's class weight (×1 leaves the unweighted figures bit for bit)
    const w = weights === null ? 1 : weights[t];
    // argmax with ties to the lowest index (strict >), doubling as the max for log-sum-exp
    let max = pred[o], arg = 0;
    for (let j = 1; j < cols; j++) { const v = pred[o + j]; if (v > max) { max = v; arg = j; } }
    let se = 0;
    for (let j = 0; j < cols; j++) se += Math.exp(pred[o + j] - max);
    sum += w * (max + Math.log(se) - pred[o + t]);
    count++;
    weightSum += w;
    if (arg === t) correct++;
    const ws = gradScale * w;
    const s = ws / se;
    for (let j = 0; j < cols; j++) grad[o + j] = s * Math.exp(pred[o + j] - max);
    grad[o + t] = s * Math.exp(pred[o + t] - max) - ws;
  }
  writeStats(stats, sum, count, correct, weightSum);
}

/*
 * pos_weight p (per column) weights the positive term: ℓ_p = ℓ − (p − 1)·y·log σ, with
 * σ = σ(z) for bce_with_logits and the probability itself for bce. Entries with
 * (p − 1)·y = 0 (no pos_weight, p = 1, or y = 0) take the unweighted arithmetic as it is.
 */

function bceWithLogits(rows: number, cols: number, pred: Float32Array, target: Float32Array,
  gradScale: number, grad: Float32Array, stats: Float64Array, weights: Float32Array | null): void {
  let sum = 0, count = 0, correct = 0;
  for (let i = 0, n = rows * cols; i < n; i++) {
    const y = target[i];
    if (y !== y) { grad[i] = 0; continue; }
    const z = pred[i];
    const e = Math.exp(-Math.abs(z)); // in (0, 1]: never overflows
    let l = (z > 0 ? z : 0) - z * y + Math.log1p(e);
    const sig = z >= 0 ? 1 / (1 + e) : e / (1 + e);
    let g = sig - y;
    const extra = weights === null ? 0 : (weights[i % cols] - 1) * y;
    if (extra !== 0) {
      l += extra * ((z < 0 ? -z : 0) + Math.log1p(e)); // −log σ(z) = softplus(−z)
      g -= extra * (z >= 0 ? e / (1 + e) : 1 / (1 + e)); // ∂(−log σ(z))/∂z = −σ(−z), stably
    }
    sum += l;
    count++;
    if ((z > 0) === (y > 0.5)) correct++;
    grad[i] = gradScale * g;
  }
  writeStats(stats, sum, count, correct);
}

function bce(rows: number, cols: number, pred: Float32Array, target: Float32Array,
  gradScale: number, grad: Float32Array, stats: Float64Array, weights: Float32Array | null): void {
  let sum = 0, count = 0, correct = 0;
  for (let i = 0, n = rows * cols; i < n; i++) {
    const y = target[i];
    if (y !== y) { grad[i] = 0; continue; }
    const p = pred[i];
    // BCELoss clamps each log at −100 so p = 0 or 1 gives a finite loss
    let lp = Math.log(p), lq = Math.log1p(-p);
    if (lp < -100) lp = -100;
    if (lq < -100) lq = -100;
    let l = -(y * lp + (1 - y) * lq);
    let num = p - y;
    const extra = weights === null ? 0 : (weights[i % cols] - 1) * y;
    if (extra !== 0) {
      l -= extra * lp;
      num -= extra * (1 - p); // ∂(−log p)/∂p = −(1 − p)/(p·(1 − p))
    }
    sum += l;
    count++;
    if ((p > 0.5) === (y > 0.5)) correct++;
    const pq = p * (1 - p);
    grad[i] = gradScale * num / (pq > 1e-12 ? pq : 1e-12); // BCELoss backward's EPSILON
  }
  writeStats(stats, sum, count, correct);
}

function regression(kind: 'mse' | 'l1' | 'smooth_l1', n: number, pred: Float32Array,
  target: Float32Array, gradScale: number, grad: Float32Array, stats: Float64Array): void {
  let sum = 0, count = 0, sse = 0;
  // Three loops rather than a per-element switch on kind.
  if (kind === 'mse') {
    for (let i = 0; i < n; i++) {
      const y = target[i];
      if (y !== y) { grad[i] = 0; continue; }
      const d = pred[i] - y, d2 = d * d;
      sum += d2; sse += d2; count++;
      grad[i] = gradScale * 2 * d;
    }
  } else if (kind === 'l1') {
    for (let i = 0; i < n; i++) {
      const y = target[i];
      if (y !== y) { grad[i] = 0; continue; }
      const d = pred[i] - y;
      sum += Math.abs(d); sse += d * d; count++;
      grad[i] = gradScale * Math.sign(d); // sign(0) = 0
    }
  } else {
    for (let i = 0; i < n; i++) {
      const y = target[i];
      if (y !== y) { grad[i] = 0; continue; }
      const d = pred[i] - y, ad = Math.abs(d);
      sum += ad < 1 ? 0.5 * d * d : ad - 0.5; sse += d * d; count++;
      grad[i] = gradScale * (ad < 1 ? d : Math.sign(d));
    }
  }
  writeStats(stats, sum, count, sse);
}

// ---------------------------------------------------------------------------
// vector ops

function gatherRows(width: number, src: Float32Array, indices: Int32Array, start: number, count: number,
  dst: Float32Array): void {
  if (start + count > indices.length) throw new RangeError(`gatherRows: indices has ${indices.length} elements, needs ${start + count} (start + count)`);
  if (count * width > dst.length) throw new RangeError(`gatherRows: dst has ${dst.length} elements, needs ${count * width} (count × width)`);
  const rows = width > 0 ? Math.floor(src.length / width) : 0;
  for (let r = start; r < start + count; r++) {
    const row = indices[r];
    if (!(row >= 0 && row < rows)) throw new RangeError(`gatherRows: indices[${r}] = ${row} is not a row of src (${rows} rows)`);
  }
  if (width >= GATHER_BY_VIEW) {
    for (let r = 0; r < count; r++) {
      const from = indices[start + r] * width;
      dst.set(src.subarray(from, from + width), r * width);
    }
    return;
  }
  // narrow rows (targets, few features): a view per row would cost more than the copy
  for (let r = 0, to = 0; r < count; r++) {
    const from = indices[start + r] * width;
    for (let c = 0; c < width; c++) dst[to++] = src[from + c];
  }
}

/** Rows at least this wide are copied through a subarray view each (a native copy). */
const GATHER_BY_VIEW = 64;

function axpy(n: number, alpha: number, x: Float32Array, y: Float32Array): void {
  for (let i = 0; i < n; i++) y[i] += alpha * x[i];
}

function scale(n: number, alpha: number, x: Float32Array): void {
  for (let i = 0; i < n; i++) x[i] *= alpha;
}

function dot(n: number, x: Float32Array, y: Float32Array): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += x[i] * y[i]; // a float32 product is exact in float64
  return s;
}

function norm(n: number, x: Float32Array): number {
  let s = 0;
  for (let i = 0; i < n; i++) { const v = x[i]; s += v * v; }
  return Math.sqrt(s);
}

// ---------------------------------------------------------------------------
// optimizers (PyTorch's single-tensor for-loop implementations; grad is read only)

function sgdStep(n: number, param: Float32Array, grad: Float32Array, buf: Float32Array, h: SgdHyper): void {
  sgdLoop(n, param, grad, undefined, buf, h);
}

/** Kernels.sgdStepSummed: the gradient is grad0 + grad1 rounded to float32, as axpy would store it. */
function sgdStepSummed(n: number, param: Float32Array, grad0: Float32Array, grad1: Float32Array, buf: Float32Array,
  h: SgdHyper): void {
  sgdLoop(n, param, grad0, grad1, buf, h);
}

function sgdLoop(n: number, param: Float32Array, grad: Float32Array, grad1: Float32Array | undefined, buf: Float32Array,
  h: SgdHyper): void {
  const { lr, momentum, dampening, nesterov, weightDecay: wd, firstStep } = h;
  const gradAt = (i: number) => (grad1 === undefined ? grad[i] : Math.fround(grad[i] + grad1[i]));
  if (momentum === 0) {
    for (let i = 0; i < n; i++) param[i] -= lr * (gradAt(i) + wd * param[i]);
    return;
  }
  const keep = 1 - dampening;
  for (let i = 0; i < n; i++) {
    const p = param[i];
    const g = gradAt(i) + wd * p;
    const m = firstStep ? g : momentum * buf[i] + keep * g;
    buf[i] = m;
    param[i] = p - lr * (nesterov ? g + momentum * m : m);
  }
}

/** Also used on float64 arrays (the loss weightings' Adam, via optim/adam.ts): the arithmetic is the array's. */
export function adamStep<A extends Float32Array | Float64Array>(n: number, param: A, grad: A, m: A, v: A, h: AdamHyper): void {
  adamLoop(n, param, grad, undefined, m, v, h);
}

/** Kernels.adamStepSummed: the gradient is grad0 + grad1 rounded to float32, as axpy would store it. */
export function adamStepSummed(n: number, param: Float32Array, grad0: Float32Array, grad1: Float32Array, m: Float32Array,
  v: Float32Array, h: AdamHyper): void {
  adamLoop(n, param, grad0, grad1, m, v, h);
}

function adamLoop<A extends Float32Array | Float64Array>(n: number, param: A, grad: A, grad1: Float32Array | undefined,
  m: A, v: A, h: AdamHyper): void {
  const { lr, beta1, beta2, eps, weightDecay: wd, decoupled, step } = h;
  const stepSize = lr / (1 - Math.pow(beta1, step));
  const sqrtBc2 = Math.sqrt(1 - Math.pow(beta2, step));
  const decay = decoupled ? 1 - lr * wd : 1; // AdamW shrinks p before the Adam update
  const l2 = decoupled ? 0 : wd; // Adam adds wd·p to the gradient
  const c1 = 1 - beta1, c2 = 1 - beta2;
  for (let i = 0; i < n; i++) {
    const p = param[i];
    const g = (grad1 === undefined ? grad[i] : Math.fround(grad[i] + grad1[i])) + l2 * p;
    const mi = beta1 * m[i] + c1 * g;
    const vi = beta2 * v[i] + c2 * g * g;
    m[i] = mi;
    v[i] = vi;
    param[i] = p * decay - stepSize * mi / (Math.sqrt(vi) / sqrtBc2 + eps);
  }
}

// ---------------------------------------------------------------------------

export const jsKernels: Kernels = {
  backend: 'js',
  isa: 'js',
  gemm,
  biasActivation,
  activationBackward,
  biasGrad,
  loss,
  gatherRows,
  axpy,
  scale,
  dot,
  norm,
  sgdStep,
  sgdStepSummed,
  adamStep,
  adamStepSummed,
};
