// AVX2 + FMA: 6×16 register tile (12 ymm accumulators, 2 B vectors, 1 broadcast).
// Also the test-only "avx2-wide" table: the AVX-512 table's shapes (12×32 tile,
// 16-float vectors) with AVX2 instructions, so the AVX-512 packing, edge and tail
// logic is tested on machines without AVX-512.
#include "common.h"

#if defined(__x86_64__) || defined(__i386__)

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

// Every function defined from here on is compiled for this instruction set.
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma,prfchw")
#endif

namespace mt {
namespace {

#include "avx2_transpose.h"

struct Ops {
  using V = __m256;
  static constexpr int VL = 8;
  static inline __attribute__((always_inline)) V zero() { return _mm256_setzero_ps(); }
  static inline __attribute__((always_inline)) V load(const float* p) { return _mm256_loadu_ps(p); }
  static inline __attribute__((always_inline)) void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static inline __attribute__((always_inline)) V bcast(float x) { return _mm256_set1_ps(x); }
  static inline __attribute__((always_inline)) V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static inline __attribute__((always_inline)) V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static constexpr bool kTranspose8 = true;
  static inline __attribute__((always_inline)) void transpose8(const float* s, idx lds, int rows, int lanes,
                                                               float* d, idx ldd) {
    transpose8_rows(s, lds, rows, lanes, d, ldd);
  }
};

namespace tile6x16 {
constexpr int MR = 6, NV = 2;
constexpr idx KC = 256, MC = 144, NC = 2048;
#include "gemm_impl.h"
}  // namespace tile6x16

// Test-only: the AVX-512 table's shapes — 12×32 GEMM tile, 16-float element-wise
// vectors (GCC splits each into two ymm operations) — run with AVX2 instructions.
namespace wide {
constexpr int MR = 12, NV = 4;
constexpr idx KC = 256, MC = 144, NC = 2048;
#include "gemm_impl.h"
typedef float VF __attribute__((vector_size(64)));
typedef std::uint32_t VU __attribute__((vector_size(64)));
#include "elementwise_impl.h"
}  // namespace wide

typedef float VF __attribute__((vector_size(32)));
typedef std::uint32_t VU __attribute__((vector_size(32)));
#include "elementwise_impl.h"

const KernelTable kTable{"avx2",      tile6x16::gemm, bias_activation, activation_backward,
                         bias_grad,   axpy,           scale,           dot,
                         sum_squares, sgd_step,       adam_step};
const KernelTable kWideTable{"avx2-wide",       wide::gemm,      wide::bias_activation,
                             wide::activation_backward, wide::bias_grad, wide::axpy,
                             wide::scale,       wide::dot,       wide::sum_squares,
                             wide::sgd_step,    wide::adam_step};

}  // namespace
}  // namespace mt

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

// Outside the instruction-set region: safe to call on any CPU.
namespace mt {
const KernelTable* avx2_table() { return &kTable; }
const KernelTable* avx2_wide_table() { return &kWideTable; }
}  // namespace mt

#else  // not x86

namespace mt {
const KernelTable* avx2_table() { return nullptr; }
const KernelTable* avx2_wide_table() { return nullptr; }
}  // namespace mt

#endif
