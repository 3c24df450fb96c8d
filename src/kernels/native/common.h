// Shared declarations of the native kernel core.
//
// Each instruction set (scalar, AVX2+FMA, AVX-512) gets its own KernelTable, built
// by compiling the same generic code (gemm_impl.h, elementwise_impl.h) inside a
// `#pragma GCC target` region of its own translation unit (isa_*.cc). addon.cc
// picks a table at run time from what the CPU supports, so one binary runs on any
// x86-64 and nothing is compiled with -march=native.
#pragma once

#include <cstddef>
#include <cstdint>

namespace mt {

using idx = std::int64_t;

// Codes shared with src/kernels/native.ts (keep in the same order as ACTIVATIONS and
// LOSS_KINDS in types.ts).
enum Act : int { kIdentity = 0, kRelu = 1, kTanh = 2, kSigmoid = 3, kGelu = 4, kActCount = 5 };
enum LossKind : int {
  kCrossEntropy = 0, kBceWithLogits = 1, kBce = 2, kMse = 3, kL1 = 4, kSmoothL1 = 5, kLossCount = 6
};

struct SgdHyper {
  double lr, momentum, dampening, weight_decay;
  bool nesterov, first_step;
};

struct AdamHyper {
  double lr, beta1, beta2, eps, weight_decay;
  bool decoupled;
  double step;  // 1-based
};

// One implementation of every kernel for one instruction set. All pointers point to
// at least as many elements as the sizes need (addon.cc checks before calling).
struct KernelTable {
  const char* isa;
  // C = alpha·op(A)·op(B) + beta·C, row-major, contiguous; beta = 0 never reads C.
  void (*gemm)(bool trans_a, bool trans_b, idx m, idx n, idx k, float alpha, const float* a,
               const float* b, float beta, float* c);
  // z[r,c] += bias[c]; h = act(z). h may equal z.
  void (*bias_activation)(idx rows, idx cols, float* z, const float* bias, int act, float* h);
  // dz = dh·act'(·); dz may equal dh.
  void (*activation_backward)(idx n, int act, const float* z, const float* h, const float* dh,
                              float* dz);
  void (*bias_grad)(idx rows, idx cols, const float* dy, float* db);
  void (*axpy)(idx n, float alpha, const float* x, float* y);
  void (*scale)(idx n, float alpha, float* x);
  double (*dot)(idx n, const float* x, const float* y);
  double (*sum_squares)(idx n, const float* x);
  // grad2 nullptr, or a second gradient: the step is taken on grad + grad2 (see
  // elementwise_impl.h), which neither is overwritten with.
  void (*sgd_step)(idx n, float* param, const float* grad, const float* grad2, float* buf,
                   const SgdHyper& h);
  void (*adam_step)(idx n, float* param, const float* grad, const float* grad2, float* m, float* v,
                    const AdamHyper& h);
};

// nullptr when the instruction set was not compiled in (non-x86 builds). Whether the
// CPU can run it is decided by the caller (addon.cc).
const KernelTable* scalar_table();
const KernelTable* avx2_table();
const KernelTable* avx512_table();
// Test-only: the AVX-512 GEMM blocking (12×32 tile) run with AVX2 instructions, so
// that the AVX-512 packing/edge logic is exercised on machines without AVX-512.
const KernelTable* avx2_wide_table();

// Losses are dominated by exp/log and run once per head per step: one portable
// implementation (losses.cc), accumulated in float64 like the TypeScript reference.
// weights: `cols` class weights (cross_entropy) or pos_weights (bce, bce_with_logits), or
// nullptr (see types.ts). stats: [loss sum, labelled count, metric, weight sum].
// Returns -1, or the first row whose class index is invalid (cross_entropy).
idx loss(int kind, idx rows, idx cols, const float* pred, const float* target, float grad_scale,
         const float* weights, float* grad, double* stats);

// dst row r = src row indices[r] (rows of `width` floats) for r < count; src has
// src_rows rows. Returns -1, or the first r whose index is not a row of src (then
// nothing is written, unless another thread changed the indices meanwhile).
idx gather_rows(idx width, const float* src, idx src_rows, const std::int32_t* indices, idx count, float* dst);

// Per-thread, 64-byte aligned scratch buffers for packed panels (slot 0: A, 1: B).
// thread_local because several worker threads call the addon at once.
float* scratch(int slot, std::size_t floats);

}  // namespace mt
