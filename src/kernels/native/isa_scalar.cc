// Portable instruction set: plain C++ (whatever the compiler's baseline target
// vectorizes it to). Always available; the reference point for the SIMD paths.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "common.h"

namespace mt {
namespace {

struct Ops {
  using V = float;
  static constexpr int VL = 1;
  static V zero() { return 0.0f; }
  static V load(const float* p) { return *p; }
  static void store(float* p, V v) { *p = v; }
  static V bcast(float x) { return x; }
  static V fma(V a, V b, V c) { return a * b + c; }
  static V mul(V a, V b) { return a * b; }
  static constexpr bool kTranspose8 = false;
  static void transpose8(const float*, idx, int, int, float*, idx) {}
};

constexpr int MR = 4, NV = 4;  // 16 scalar accumulators
constexpr idx KC = 256, MC = 128, NC = 1024;

#include "gemm_impl.h"
// "Vectors" of one float: the element-wise code is written for GCC vector types.
using VF = float;
using VU = std::uint32_t;
#include "elementwise_impl.h"

const KernelTable kTable{"scalar", gemm,        bias_activation, activation_backward,
                         bias_grad, axpy,       scale,           dot,
                         sum_squares, sgd_step, adam_step};

}  // namespace

const KernelTable* scalar_table() { return &kTable; }

}  // namespace mt
