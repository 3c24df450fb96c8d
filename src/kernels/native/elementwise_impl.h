// Element-wise kernels (activations, bias gradient, vector ops, optimizer steps),
// compiled once per instruction set. Activations are written on VF — a GCC vector of
// kLanes floats (plain float in the scalar table) — so the same source becomes AVX2 or
// AVX-512 code; the rest are plain loops that GCC auto-vectorizes for the enclosing
// `#pragma GCC target` (-O3 -fno-math-errno lets sqrt vectorize too).
//
// Not a normal header: included by isa_*.cc inside an anonymous namespace after
// defining VF and VU (unsigned 32-bit lanes of the same width), like gemm_impl.h.
// No include guard on purpose.

// --- activations --------------------------------------------------------------------
//
// tanh and sigmoid use Cephes' single-precision algorithms (≤ 2 ulps measured, like
// libm's float functions, but vectorized: libm's tanhf costs ~20 ns/element), GELU the
// erfc fit below.

constexpr int kLanes = static_cast<int>(sizeof(VF) / sizeof(float));

template <class To, class From>
static inline To bit_cast_to(From f) {
  static_assert(sizeof(To) == sizeof(From), "size mismatch");
  To t;
  std::memcpy(&t, &f, sizeof t);
  return t;
}

static inline VF vload(const float* p) {
  VF v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
static inline void vstore(float* p, VF v) { std::memcpy(p, &v, sizeof v); }
static inline VF vsplat(float x) { return VF{} + x; }

// e^x (Cephes expf) for |x| ≤ 87: x = n·ln2 + r, e^r by a degree-6 polynomial, 2^n
// through the exponent bits.
static inline VF vexp_core(VF x) {
  // round(x·log2 e) by the 1.5·2^23 trick: the integer lands in the low mantissa bits
  const VF magic = vsplat(12582912.0f);
  const VF t = x * vsplat(1.44269504088896341f) + magic;
  const VF n = t - magic;
  const VU ni = bit_cast_to<VU>(t) - 0x4B400000u;  // unsigned: wraps, no UB
  VF r = x - n * vsplat(0.693359375f);
  r = r - n * vsplat(-2.12194440e-4f);
  const VF r2 = r * r;
  VF y = vsplat(1.9875691500e-4f);
  y = y * r + vsplat(1.3981999507e-3f);
  y = y * r + vsplat(8.3334519073e-3f);
  y = y * r + vsplat(4.1665795894e-2f);
  y = y * r + vsplat(1.6666665459e-1f);
  y = y * r + vsplat(5.0000001201e-1f);
  y = y * r2 + r + vsplat(1.0f);
  return y * bit_cast_to<VF>((ni + 127u) << 23);
}

// e^x for any x: results below the smallest normal float are computed as
// e^(x + 64 ln 2)·2^−64 (denormals, then 0); the top saturates at e^88.38. NaN
// propagates (the comparisons are false for NaN).
static inline VF vexp(VF x) {
  const VF lo = vsplat(-87.3365447504019f), hi = vsplat(88.3762626647949f);
  const auto tiny = x < lo;
  x = tiny ? x + vsplat(44.3614195558365f) : x;
  x = x > hi ? hi : x;
  x = x < lo ? lo : x;
  const VF y = vexp_core(x);
  return tiny ? y * vsplat(5.421010862427522e-20f) : y;
}

// tanh (Cephes tanhf): odd polynomial below |x| = 0.625, else 1 − 2/(e^{2|x|} + 1)
// with the sign of x. |x| ≥ 9 rounds to ±1 in float anyway.
static inline VF vtanh(VF x) {
  const VU sign_mask = VU{} + 0x80000000u;
  const VU xi = bit_cast_to<VU>(x);
  VF ax = bit_cast_to<VF>(xi & ~sign_mask);
  const VF z = x * x;
  VF p = vsplat(-5.70498872745e-3f);
  p = p * z + vsplat(2.06390887954e-2f);
  p = p * z + vsplat(-5.37397155531e-2f);
  p = p * z + vsplat(1.33314422036e-1f);
  p = p * z + vsplat(-3.33332819422e-1f);
  const VF small = p * z * x + x;
  ax = ax > vsplat(9.0f) ? vsplat(9.0f) : ax;
  const VF big_abs = vsplat(1.0f) - vsplat(2.0f) / (vexp_core(ax + ax) + vsplat(1.0f));
  const VF big = bit_cast_to<VF>(bit_cast_to<VU>(big_abs) | (xi & sign_mask));
  return ax > vsplat(0.625f) ? big : small;
}

// σ(x) = 1/(1 + e^−|x|) for x ≥ 0 and e^x/(1 + e^x) for x < 0, so the far negative
// side keeps its relative precision down to the smallest normal float.
static inline VF vsigmoid(VF x) {
  const VU ax_bits = bit_cast_to<VU>(x) & (VU{} + 0x7FFFFFFFu);
  const VF e = vexp(-bit_cast_to<VF>(ax_bits));
  const VF s = vsplat(1.0f) / (vsplat(1.0f) + e);
  return x < vsplat(0.0f) ? e * s : s;  // NaN: s is NaN
}
static inline VF vrelu(VF x) { return x < vsplat(0.0f) ? vsplat(0.0f) : x; }  // NaN propagates

// Exact (erf-based, not the tanh approximation) GELU z·Φ(z) and its derivative
// Φ(z) + z·φ(z), vectorized. Φ(−a) = ½·erfc(a/√2) for a = |z| uses the Chebyshev fit of
// Numerical Recipes' erfcc, erfc(x) = t·exp(−x² + P(t)), t = 1/(1 + x/2), whose relative
// error is below 1.2e-7 over the whole range, so the far negative tail keeps its
// relative precision. e^(−z²/2) is computed without rounding z²: z = hi + lo with hi
// holding 12 significant bits, hi² is exact, and e^(−z²/2) = e^(−hi²/2)·e^(−(z−hi)(z+hi)/2).
// Measured against float64 erfc: ≤ 1e-6 relative (a few float ulps) for every z.
struct GeluParts {
  VF cdf;  // Φ(z)
  VF pdf;  // φ(z) = e^(−z²/2)/√(2π)
};

static inline GeluParts gelu_parts(VF z) {
  VF a = bit_cast_to<VF>(bit_cast_to<VU>(z) & (VU{} + 0x7FFFFFFFu));
  a = a > vsplat(20.0f) ? vsplat(20.0f) : a;  // Φ(−20) ≈ 3e-89: 0 in float; keeps a − hi finite
  const VF t = vsplat(1.0f) / (vsplat(1.0f) + vsplat(0.35355339059327376f) * a);  // 1/(1 + x/2), x = a/√2
  VF p = vsplat(0.17087277f);
  p = p * t + vsplat(-0.82215223f);
  p = p * t + vsplat(1.48851587f);
  p = p * t + vsplat(-1.13520398f);
  p = p * t + vsplat(0.27886807f);
  p = p * t + vsplat(-0.18628806f);
  p = p * t + vsplat(0.09678418f);
  p = p * t + vsplat(0.37409196f);
  p = p * t + vsplat(1.00002368f);
  p = p * t + vsplat(-1.26551223f);
  const VF hi = bit_cast_to<VF>(bit_cast_to<VU>(a) & (VU{} + 0xFFFFF000u));
  // e^(−z²/2); the second factor's argument is small (|a − hi| < a·2^-11)
  const VF e = vexp(vsplat(-0.5f) * (hi * hi)) * vexp_core(vsplat(-0.5f) * ((a - hi) * (a + hi)));
  const VF tail = vsplat(0.5f) * t * e * vexp_core(p);  // Φ(−|z|) = ½·erfc(|z|/√2); p ∈ (−1.3, 0.2)
  return GeluParts{z < vsplat(0.0f) ? tail : vsplat(1.0f) - tail, e * vsplat(0.39894228040143268f)};
}

static inline VF vgelu(VF z) { return z * gelu_parts(z).cdf; }
static inline VF vgelu_grad(VF z) {
  const GeluParts g = gelu_parts(z);
  return g.cdf + z * g.pdf;
}

// Function objects rather than lambdas or function pointers: each instantiation
// inlines its activation, and no lambda-to-pointer thunk is emitted outside the
// instruction-set region.
struct Identity { VF operator()(VF v) const { return v; } };
struct Relu { VF operator()(VF v) const { return vrelu(v); } };
struct Tanh { VF operator()(VF v) const { return vtanh(v); } };
struct Sigmoid { VF operator()(VF v) const { return vsigmoid(v); } };
struct Gelu { VF operator()(VF v) const { return vgelu(v); } };

// z[r, c] += bias[c]; h[r, c] = f(z[r, c]), a vector at a time. The ragged end of a
// row goes through a zero-padded vector, so every element gets the same arithmetic.
// h may equal z (then z ends up holding h, as in the reference).
template <class F>
static inline void bias_act_vec(idx rows, idx cols, float* z, const float* bias, float* h, F f) {
  for (idx r = 0; r < rows; ++r) {
    float* zr = z + r * cols;
    float* hr = h + r * cols;
    idx c = 0;
    for (; c + kLanes <= cols; c += kLanes) {
      const VF v = vload(zr + c) + vload(bias + c);
      vstore(zr + c, v);
      vstore(hr + c, f(v));  // after z: when h == z, h wins
    }
    if (c < cols) {
      alignas(64) float zt[kLanes] = {}, bt[kLanes] = {};
      const idx rest = cols - c;
      for (idx i = 0; i < rest; ++i) { zt[i] = zr[c + i]; bt[i] = bias[c + i]; }
      const VF v = vload(zt) + vload(bt);
      alignas(64) float ht[kLanes];
      vstore(zt, v);
      vstore(ht, f(v));
      for (idx i = 0; i < rest; ++i) { zr[c + i] = zt[i]; hr[c + i] = ht[i]; }
    }
  }
}

static void bias_activation(idx rows, idx cols, float* z, const float* bias, int act, float* h) {
  switch (act) {
    case kIdentity: bias_act_vec(rows, cols, z, bias, h, Identity{}); break;
    case kRelu: bias_act_vec(rows, cols, z, bias, h, Relu{}); break;
    case kTanh: bias_act_vec(rows, cols, z, bias, h, Tanh{}); break;
    case kSigmoid: bias_act_vec(rows, cols, z, bias, h, Sigmoid{}); break;
    case kGelu: bias_act_vec(rows, cols, z, bias, h, Gelu{}); break;
    default: break;
  }
}

// dz = f(x, dh) a vector at a time, x being h or z. dz may alias dh (each vector is
// loaded before it is stored; a plain loop would fail GCC's overlap check and run
// scalar). The tail goes through zero-padded vectors, like bias_act_vec.
template <class F>
static inline void backward_vec(idx n, const float* x, const float* dh, float* dz, F f) {
  idx i = 0;
  for (; i + kLanes <= n; i += kLanes) vstore(dz + i, f(vload(x + i), vload(dh + i)));
  if (i < n) {
    alignas(64) float xt[kLanes] = {}, dt[kLanes] = {};
    const idx rest = n - i;
    for (idx j = 0; j < rest; ++j) { xt[j] = x[i + j]; dt[j] = dh[i + j]; }
    vstore(dt, f(vload(xt), vload(dt)));
    for (idx j = 0; j < rest; ++j) dz[i + j] = dt[j];
  }
}

struct ReluGrad { VF operator()(VF h, VF dh) const { return h > vsplat(0.0f) ? dh : vsplat(0.0f); } };
struct TanhGrad { VF operator()(VF h, VF dh) const { return dh * (vsplat(1.0f) - h * h); } };
struct SigmoidGrad { VF operator()(VF h, VF dh) const { return dh * h * (vsplat(1.0f) - h); } };
struct GeluGrad { VF operator()(VF z, VF dh) const { return dh * vgelu_grad(z); } };

static void activation_backward(idx n, int act, const float* z, const float* h, const float* dh,
                                float* dz) {
  switch (act) {
    case kIdentity:
      if (dz != dh)
        for (idx i = 0; i < n; ++i) dz[i] = dh[i];
      break;
    case kRelu: backward_vec(n, h, dh, dz, ReluGrad{}); break;
    case kTanh: backward_vec(n, h, dh, dz, TanhGrad{}); break;
    case kSigmoid: backward_vec(n, h, dh, dz, SigmoidGrad{}); break;
    case kGelu: backward_vec(n, z, dh, dz, GeluGrad{}); break;
    default: break;
  }
}

// db[c] = Σ_r dy[r, c], summed in float64 like the reference. Row by row over a block
// of columns, so the inner loop runs along contiguous memory and vectorizes.
static void bias_grad(idx rows, idx cols, const float* dy, float* db) {
  constexpr idx kBlock = 512;
  double acc[kBlock];
  for (idx c0 = 0; c0 < cols; c0 += kBlock) {
    const idx w = std::min<idx>(kBlock, cols - c0);
    for (idx c = 0; c < w; ++c) acc[c] = 0.0;
    for (idx r = 0; r < rows; ++r) {
      const float* __restrict row = dy + r * cols + c0;
      for (idx c = 0; c < w; ++c) acc[c] += static_cast<double>(row[c]);
    }
    for (idx c = 0; c < w; ++c) db[c0 + c] = static_cast<float>(acc[c]);
  }
}

// --- prefetching the streams another core wrote -------------------------------------
//
// The fused step's update and the shards' sum run right after the barrier, on vectors
// the other core just used: it read these parameters in its forward pass and wrote the
// other shard's gradient. A plain loop stalls on each line's transfer or change of
// owner, which the hardware prefetcher does not hide across cores. So the loops below
// run in blocks, and each block first asks for the lines kPrefetchAhead elements on:
// the vector it writes with intent to write, the other shard's to read (the fused
// 2-worker step: 1.02-1.06x with it, ab-builds.js; alone on one core, with nothing to
// fetch, the prefetches cost a little). The arithmetic is unchanged; a prefetch past
// the end never faults.

constexpr idx kStreamBlock = 64;
constexpr idx kPrefetchAhead = 256;

// body(i) for every i in [0, n), prefetching `written` (to write) and `read` (to read,
// unless null) ahead of each block.
template <class Body>
static inline __attribute__((always_inline)) void prefetched_blocks(idx n, const float* written,
                                                                   const float* read, Body body) {
  constexpr idx kLineFloats = 16;
  const idx whole = n - n % kStreamBlock;
  for (idx start = 0; start < whole; start += kStreamBlock) {
    for (idx q = 0; q < kStreamBlock; q += kLineFloats) {
      __builtin_prefetch(written + start + kPrefetchAhead + q, 1, 3);
      if (read != nullptr) __builtin_prefetch(read + start + kPrefetchAhead + q, 0, 3);
    }
    // A constant trip count makes each block straight vector code; ivdep drops the
    // per-block overlap checks (element-wise: no element reads another's result, so
    // operands may be the same array but must not overlap at an offset: types.ts).
#pragma GCC ivdep
    for (idx i = start; i < start + kStreamBlock; ++i) body(i);
  }
  for (idx i = whole; i < n; ++i) body(i);
}

// --- vector ops ---------------------------------------------------------------------

static void axpy(idx n, float alpha, const float* x, float* y) {
  prefetched_blocks(n, y, x, [&](idx i) { y[i] += alpha * x[i]; });
}

static void scale(idx n, float alpha, float* x) {
  for (idx i = 0; i < n; ++i) x[i] *= alpha;
}

// float64 accumulation in 16 independent lanes (a float·float product is exact in
// double, so only the additions round); the lanes vectorize and hide add latency.
static double dot(idx n, const float* x, const float* y) {
  double acc[16] = {0};
  idx i = 0;
  for (; i + 16 <= n; i += 16)
#pragma GCC unroll 16
    for (int j = 0; j < 16; ++j)
      acc[j] += static_cast<double>(x[i + j]) * static_cast<double>(y[i + j]);
  double s = 0.0;
  for (; i < n; ++i) s += static_cast<double>(x[i]) * static_cast<double>(y[i]);
  for (int w = 8; w >= 1; w /= 2)
    for (int j = 0; j < w; ++j) acc[j] += acc[j + w];
  return acc[0] + s;
}

static double sum_squares(idx n, const float* x) { return dot(n, x, x); }

// --- optimizers (PyTorch's single-tensor update rules, in float32 like PyTorch) -------

// grad2 as in adam_loop: the gradient is grad + grad2, summed in float32 in the same pass.
template <bool kSummed>
static inline __attribute__((always_inline)) void sgd_loop(idx n, float* param, const float* grad,
                                                           const float* grad2, float* buf,
                                                           const SgdHyper& h) {
  const float lr = static_cast<float>(h.lr);
  const float wd = static_cast<float>(h.weight_decay);
  const float mom = static_cast<float>(h.momentum);
  const float damp = static_cast<float>(1.0 - h.dampening);
  const auto grad_at = [&](idx i) {
    float gi = grad[i];
    if constexpr (kSummed) gi += grad2[i];
    return gi;
  };
  if (h.momentum == 0.0) {
    prefetched_blocks(n, param, grad2, [&](idx i) {
      const float g = grad_at(i) + wd * param[i];
      param[i] -= lr * g;
    });
    return;
  }
  prefetched_blocks(n, param, grad2, [&](idx i) {
    const float g = grad_at(i) + wd * param[i];
    const float b = h.first_step ? g : mom * buf[i] + damp * g;
    buf[i] = b;
    param[i] -= lr * (h.nesterov ? g + mom * b : b);
  });
}

static void sgd_step(idx n, float* param, const float* grad, const float* grad2, float* buf,
                     const SgdHyper& h) {
  if (grad2 != nullptr)
    sgd_loop<true>(n, param, grad, grad2, buf, h);
  else
    sgd_loop<false>(n, param, grad, nullptr, buf, h);
}

// grad2: the gradient is grad + grad2, summed in float32 as axpy(n, 1, grad2, grad) would
// (one rounding; the same bits whichever comes first), in the same pass.
template <bool kSummed>
static inline __attribute__((always_inline)) void adam_loop(idx n, float* param, const float* grad,
                                                            const float* grad2, float* m, float* v,
                                                            const AdamHyper& h) {
  const float b1 = static_cast<float>(h.beta1), b2 = static_cast<float>(h.beta2);
  const float c1 = static_cast<float>(1.0 - h.beta1), c2 = static_cast<float>(1.0 - h.beta2);
  const float step_size = static_cast<float>(h.lr / (1.0 - std::pow(h.beta1, h.step)));
  // 1/√(1 − β2^t) as a factor: one division per element instead of two (≤ 1 ulp apart).
  const float inv_bc2_sqrt = static_cast<float>(1.0 / std::sqrt(1.0 - std::pow(h.beta2, h.step)));
  const float eps = static_cast<float>(h.eps);
  // Adam: g += wd·p (L2). AdamW: p *= 1 − lr·wd before the update (decoupled).
  const float l2 = h.decoupled ? 0.0f : static_cast<float>(h.weight_decay);
  const float decay = h.decoupled ? static_cast<float>(1.0 - h.lr * h.weight_decay) : 1.0f;
  prefetched_blocks(n, param, grad2, [&](idx i) {
    const float p = param[i];
    float gi = grad[i];
    if constexpr (kSummed) gi += grad2[i];
    const float g = gi + l2 * p;
    const float mi = b1 * m[i] + c1 * g;
    const float vi = b2 * v[i] + c2 * g * g;
    m[i] = mi;
    v[i] = vi;
    param[i] = p * decay - step_size * mi / (std::sqrt(vi) * inv_bc2_sqrt + eps);
  });
}

static void adam_step(idx n, float* param, const float* grad, const float* grad2, float* m,
                      float* v, const AdamHyper& h) {
  if (grad2 != nullptr)
    adam_loop<true>(n, param, grad, grad2, m, v, h);
  else
    adam_loop<false>(n, param, grad, nullptr, m, v, h);
}
