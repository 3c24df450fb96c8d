// AVX-512F: 12×32 register tile (24 zmm accumulators, 2 B vectors, 1 broadcast,
// out of 32 registers). The same generic code as avx2 with 16-float vectors; its
// blocking is tested on AVX2-only machines through the "avx2-wide" table.
#include "common.h"

#if defined(__x86_64__) || defined(__i386__)

#include <immintrin.h>

#include <algorithm>
#include <cmath>

// Every function defined from here on is compiled for this instruction set.
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx2,fma,prefer-vector-width=512")
#endif

namespace mt {
namespace {

struct Ops {
  using V = __m512;
  static constexpr int VL = 16;
  static inline __attribute__((always_inline)) V zero() { return _mm512_setzero_ps(); }
  static inline __attribute__((always_inline)) V load(const float* p) { return _mm512_loadu_ps(p); }
  static inline __attribute__((always_inline)) void store(float* p, V v) { _mm512_storeu_ps(p, v); }
  static inline __attribute__((always_inline)) V bcast(float x) { return _mm512_set1_ps(x); }
  static inline __attribute__((always_inline)) V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static inline __attribute__((always_inline)) V mul(V a, V b) { return _mm512_mul_ps(a, b); }
};

constexpr int MR = 12, NV = 2;
constexpr idx KC = 256, MC = 144, NC = 2048;
constexpr idx kDirectBMaxM = 128;

#include "gemm_impl.h"
#include "elementwise_impl.h"

const KernelTable kTable{"avx512",    gemm,     bias_activation, activation_backward,
                         bias_grad,   axpy,     scale,           dot,
                         sum_squares, sgd_step, adam_step};

}  // namespace

const KernelTable* avx512_table() { return &kTable; }

}  // namespace mt

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

#else  // not x86

namespace mt {
const KernelTable* avx512_table() { return nullptr; }
}  // namespace mt

#endif
