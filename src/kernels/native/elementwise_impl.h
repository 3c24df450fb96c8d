// Element-wise kernels (activations, bias gradient, vector ops, optimizer steps),
// compiled once per instruction set: plain loops that GCC auto-vectorizes for the
// enclosing `#pragma GCC target` (-O3 -fno-math-errno lets sqrt vectorize too).
//
// Not a normal header: included by isa_*.cc inside an anonymous namespace, like
// gemm_impl.h. No include guard on purpose.

// --- activations --------------------------------------------------------------------

static inline float act_relu(float v) { return v > 0.0f ? v : 0.0f; }
static inline float act_sigmoid(float v) { return 1.0f / (1.0f + std::exp(-v)); }
// Exact GELU, z·Φ(z), with Φ(z) = ½·erfc(−z/√2): erfc keeps full relative precision
// in the far negative tail where 1 + erf(·) would cancel.
static inline float act_gelu(float v) {
  return 0.5f * v * std::erfc(-v * 0.70710678118654752f);
}

template <class F>
static inline void bias_act_rows(idx rows, idx cols, float* z, const float* bias, float* h, F f) {
  if (h == z) {
    // In place: a separate loop, because GCC's runtime alias check would send the
    // h == z case down the scalar fallback.
    for (idx r = 0; r < rows; ++r) {
      float* __restrict zr = z + r * cols;
      for (idx c = 0; c < cols; ++c) zr[c] = f(zr[c] + bias[c]);
    }
  } else {
    for (idx r = 0; r < rows; ++r) {
      float* __restrict zr = z + r * cols;
      float* __restrict hr = h + r * cols;
      for (idx c = 0; c < cols; ++c) {
        const float v = zr[c] + bias[c];
        zr[c] = v;
        hr[c] = f(v);
      }
    }
  }
}

static void bias_activation(idx rows, idx cols, float* z, const float* bias, int act, float* h) {
  switch (act) {
    case kIdentity: bias_act_rows(rows, cols, z, bias, h, [](float v) { return v; }); break;
    case kRelu: bias_act_rows(rows, cols, z, bias, h, act_relu); break;
    case kTanh: bias_act_rows(rows, cols, z, bias, h, [](float v) { return std::tanh(v); }); break;
    case kSigmoid: bias_act_rows(rows, cols, z, bias, h, act_sigmoid); break;
    case kGelu: bias_act_rows(rows, cols, z, bias, h, act_gelu); break;
    default: break;
  }
}

static void activation_backward(idx n, int act, const float* z, const float* h, const float* dh,
                                float* dz) {
  switch (act) {
    case kIdentity:
      if (dz != dh)
        for (idx i = 0; i < n; ++i) dz[i] = dh[i];
      break;
    case kRelu:
      for (idx i = 0; i < n; ++i) dz[i] = h[i] > 0.0f ? dh[i] : 0.0f;
      break;
    case kTanh:
      for (idx i = 0; i < n; ++i) dz[i] = dh[i] * (1.0f - h[i] * h[i]);
      break;
    case kSigmoid:
      for (idx i = 0; i < n; ++i) dz[i] = dh[i] * (h[i] * (1.0f - h[i]));
      break;
    case kGelu:
      // d/dz z·Φ(z) = Φ(z) + z·φ(z)
      for (idx i = 0; i < n; ++i) {
        const float x = z[i];
        const float cdf = 0.5f * std::erfc(-x * 0.70710678118654752f);
        const float pdf = 0.39894228040143268f * std::exp(-0.5f * x * x);
        dz[i] = dh[i] * (cdf + x * pdf);
      }
      break;
    default: break;
  }
}

// db[c] = Σ_r dy[r, c]: accumulate row by row so the inner loop runs along
// contiguous memory and vectorizes.
static void bias_grad(idx rows, idx cols, const float* dy, float* db) {
  for (idx c = 0; c < cols; ++c) db[c] = 0.0f;
  for (idx r = 0; r < rows; ++r) {
    const float* __restrict row = dy + r * cols;
    float* __restrict d = db;
    for (idx c = 0; c < cols; ++c) d[c] += row[c];
  }
}

// --- vector ops ---------------------------------------------------------------------

static void axpy(idx n, float alpha, const float* x, float* y) {
  for (idx i = 0; i < n; ++i) y[i] += alpha * x[i];
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

static void sgd_step(idx n, float* param, const float* grad, float* buf, const SgdHyper& h) {
  const float lr = static_cast<float>(h.lr);
  const float wd = static_cast<float>(h.weight_decay);
  const float mom = static_cast<float>(h.momentum);
  const float damp = static_cast<float>(1.0 - h.dampening);
  if (h.momentum == 0.0) {
    for (idx i = 0; i < n; ++i) {
      const float g = grad[i] + wd * param[i];
      param[i] -= lr * g;
    }
    return;
  }
  for (idx i = 0; i < n; ++i) {
    const float g = grad[i] + wd * param[i];
    const float b = h.first_step ? g : mom * buf[i] + damp * g;
    buf[i] = b;
    param[i] -= lr * (h.nesterov ? g + mom * b : b);
  }
}

static void adam_step(idx n, float* param, const float* grad, float* m, float* v,
                      const AdamHyper& h) {
  const float b1 = static_cast<float>(h.beta1), b2 = static_cast<float>(h.beta2);
  const float one_minus_b1 = static_cast<float>(1.0 - h.beta1);
  const float one_minus_b2 = static_cast<float>(1.0 - h.beta2);
  const float step_size = static_cast<float>(h.lr / (1.0 - std::pow(h.beta1, h.step)));
  const float bc2_sqrt = static_cast<float>(std::sqrt(1.0 - std::pow(h.beta2, h.step)));
  const float eps = static_cast<float>(h.eps);
  // Adam: g += wd·p (L2). AdamW: p *= 1 − lr·wd (decoupled). Exactly one applies.
  const float l2 = h.decoupled ? 0.0f : static_cast<float>(h.weight_decay);
  const float decay = h.decoupled ? static_cast<float>(1.0 - h.lr * h.weight_decay) : 1.0f;
  (void)b1;
  for (idx i = 0; i < n; ++i) {
    const float p = param[i] * decay;
    const float g = grad[i] + l2 * param[i];
    const float mi = m[i] + one_minus_b1 * (g - m[i]);  // lerp, as torch's exp_avg.lerp_
    const float vi = b2 * v[i] + one_minus_b2 * g * g;
    m[i] = mi;
    v[i] = vi;
    param[i] = p - step_size * (mi / (std::sqrt(vi) / bc2_sqrt + eps));
  }
}
