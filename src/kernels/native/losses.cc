// Losses (PyTorch's definitions, see types.ts). Per element in float64 like the
// TypeScript reference: these run once per head per step on small arrays, and are
// bound by exp/log, not by SIMD width, so one portable version serves every ISA.
#include <algorithm>
#include <cmath>

#include "common.h"

namespace mt {
namespace {

inline double sign(double d) { return d > 0.0 ? 1.0 : (d < 0.0 ? -1.0 : 0.0); }

// Returns -1, or the first row whose target is neither NaN nor a class index.
// weights: one per class (CrossEntropyLoss's weight), or nullptr for all 1.
idx cross_entropy(idx rows, idx cols, const float* pred, const float* target, double scale,
                  const float* weights, float* grad, double* stats) {
  // Check every label before writing anything.
  for (idx r = 0; r < rows; ++r) {
    const double t = target[r];
    if (std::isnan(t)) continue;
    if (!(t >= 0.0 && t < static_cast<double>(cols) && t == std::floor(t))) return r;
  }
  double sum = 0.0, count = 0.0, correct = 0.0, weight_sum = 0.0;
  for (idx r = 0; r < rows; ++r) {
    const float* x = pred + r * cols;
    float* g = grad + r * cols;
    const double t = target[r];
    if (std::isnan(t) || cols == 0) {
      for (idx c = 0; c < cols; ++c) g[c] = 0.0f;
      continue;
    }
    const idx label = static_cast<idx>(t);
    // the row's class weight (×1 leaves the unweighted figures bit for bit)
    const double w = weights ? static_cast<double>(weights[label]) : 1.0;
    const double ws = scale * w;
    idx argmax = 0;
    double mx = x[0];
    for (idx c = 1; c < cols; ++c)
      if (x[c] > mx) { mx = x[c]; argmax = c; }
    double z = 0.0;
    for (idx c = 0; c < cols; ++c) z += std::exp(static_cast<double>(x[c]) - mx);
    const double lse = mx + std::log(z);
    sum += w * (lse - x[label]);
    count += 1.0;
    weight_sum += w;
    if (argmax == label) correct += 1.0;
    for (idx c = 0; c < cols; ++c) {
      const double p = std::exp(static_cast<double>(x[c]) - lse);
      g[c] = static_cast<float>(ws * (p - (c == label ? 1.0 : 0.0)));
    }
  }
  stats[0] = sum;
  stats[1] = count;
  stats[2] = correct;
  stats[3] = weight_sum;
  return -1;
}

// The elementwise losses; kWeighted: with pos_weights (bce, bce_with_logits), a
// compile-time switch so the unweighted loop stays as it was.
template <bool kWeighted>
void elementwise(int kind, idx rows, idx cols, const float* pred, const float* target, double scale,
                 const float* weights, float* grad, double* stats) {
  const idx n = rows * cols;
  double sum = 0.0, count = 0.0, metric = 0.0;
  for (idx i = 0; i < n; ++i) {
    const double y = target[i];
    if (std::isnan(y)) {
      grad[i] = 0.0f;
      continue;
    }
    const double p = pred[i];
    // pos_weight q weights the positive term: ℓ_q = ℓ − (q − 1)·y·log σ (σ: sigmoid of the
    // logit, or bce's probability); extra = 0 keeps the unweighted arithmetic as it is
    const double extra = kWeighted ? (static_cast<double>(weights[i % cols]) - 1.0) * y : 0.0;
    double l, dl;
    switch (kind) {
      case kBceWithLogits: {
        l = std::max(p, 0.0) - p * y + std::log1p(std::exp(-std::fabs(p)));
        const double s = p >= 0.0 ? 1.0 / (1.0 + std::exp(-p)) : std::exp(p) / (1.0 + std::exp(p));
        dl = s - y;
        if (extra != 0.0) {
          l += extra * (std::max(-p, 0.0) + std::log1p(std::exp(-std::fabs(p))));  // −log σ(z)
          dl -= extra * (p >= 0.0 ? std::exp(-p) / (1.0 + std::exp(-p)) : 1.0 / (1.0 + std::exp(p)));  // σ(−z)
        }
        if ((p > 0.0) == (y > 0.5)) metric += 1.0;
        break;
      }
      case kBce: {
        const double lp = std::max(std::log(p), -100.0);
        const double l1p = std::max(std::log1p(-p), -100.0);
        l = -(y * lp + (1.0 - y) * l1p);
        // torch's BCELoss backward: (p − y) / max(p·(1 − p), 1e-12)
        const double pq = p * (1.0 - p);
        double num = p - y;
        if (extra != 0.0) {
          l -= extra * lp;
          num -= extra * (1.0 - p);  // ∂(−log p)/∂p = −(1 − p)/(p·(1 − p))
        }
        dl = num / (pq > 1e-12 ? pq : 1e-12);
        if ((p > 0.5) == (y > 0.5)) metric += 1.0;
        break;
      }
      case kMse: {
        const double d = p - y;
        l = d * d;
        dl = 2.0 * d;
        metric += d * d;
        break;
      }
      case kL1: {
        const double d = p - y;
        l = std::fabs(d);
        dl = sign(d);
        metric += d * d;
        break;
      }
      case kSmoothL1:
      default: {
        const double d = p - y;
        const double ad = std::fabs(d);
        l = ad < 1.0 ? 0.5 * d * d : ad - 0.5;
        dl = ad < 1.0 ? d : sign(d);
        metric += d * d;
        break;
      }
    }
    sum += l;
    count += 1.0;
    grad[i] = static_cast<float>(scale * dl);
  }
  stats[0] = sum;
  stats[1] = count;
  stats[2] = metric;
  stats[3] = count;  // pos_weight keeps the mean over the labelled entries
}

}  // namespace

idx loss(int kind, idx rows, idx cols, const float* pred, const float* target, float grad_scale,
         const float* weights, float* grad, double* stats) {
  const double scale = grad_scale;
  if (kind == kCrossEntropy) return cross_entropy(rows, cols, pred, target, scale, weights, grad, stats);
  if (weights) elementwise<true>(kind, rows, cols, pred, target, scale, weights, grad, stats);
  else elementwise<false>(kind, rows, cols, pred, target, scale, nullptr, grad, stats);
  return -1;
}

}  // namespace mt
