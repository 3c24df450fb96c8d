// AVX-512F: 12×32 register tile (24 zmm accumulators, 2 B vectors, 1 broadcast,
// out of 32 registers). The same generic code as avx2 with 16-float vectors: on
// AVX2-only machines the "avx2-wide" table tests this blocking and the 16-lane
// element-wise code, so only the Ops one-liners below are AVX-512-specific.
#include "common.h"

#if defined(__x86_64__) || defined(__i386__)

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

// Every function defined from here on is compiled for this instruction set.
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx2,fma,prfchw,prefer-vector-width=512")
#endif

namespace mt {
namespace {

#include "avx2_transpose.h"

struct Ops {
  using V = __m512;
  static constexpr int VL = 16;
  static inline __attribute__((always_inline)) V zero() { return _mm512_setzero_ps(); }
  static inline __attribute__((always_inline)) V load(const float* p) { return _mm512_loadu_ps(p); }
  static inline __attribute__((always_inline)) void store(float* p, V v) { _mm512_storeu_ps(p, v); }
  static inline __attribute__((always_inline)) V bcast(float x) { return _mm512_set1_ps(x); }
  static inline __attribute__((always_inline)) V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static inline __attribute__((always_inline)) V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static constexpr bool kTranspose8 = true;
  static inline __attribute__((always_inline)) void transpose8(const float* s, idx lds, int rows, int lanes,
                                                               float* d, idx ldd) {
    transpose8_rows(s, lds, rows, lanes, d, ldd);
  }
};

constexpr int MR = 12, NV = 2;
constexpr idx KC = 256, MC = 144, NC = 2048;

#include "gemm_impl.h"
typedef float VF __attribute__((vector_size(64)));
typedef std::uint32_t VU __attribute__((vector_size(64)));
#include "elementwise_impl.h"

const KernelTable kTable{"avx512",    gemm,     bias_activation, activation_backward,
                         bias_grad,   axpy,     scale,           dot,
                         sum_squares, sgd_step, adam_step};

}  // namespace
}  // namespace mt

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

// Outside the instruction-set region: safe to call on any CPU.
namespace mt {
const KernelTable* avx512_table() { return &kTable; }
}  // namespace mt

#else  // not x86

namespace mt {
const KernelTable* avx512_table() { return nullptr; }
}  // namespace mt

#endif
