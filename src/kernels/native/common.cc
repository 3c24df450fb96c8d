// Per-thread scratch buffers for the packed GEMM panels.
#include <cstdlib>
#include <new>

#include "common.h"

namespace mt {
namespace {

// Grown on demand, never shrunk; freed when the thread (e.g. a piscina worker) exits.
struct AlignedBuffer {
  float* data = nullptr;
  std::size_t capacity = 0;  // floats
  ~AlignedBuffer() { std::free(data); }
};

thread_local AlignedBuffer buffers[2];

}  // namespace

float* scratch(int slot, std::size_t floats) {
  AlignedBuffer& buf = buffers[slot];
  if (floats > buf.capacity) {
    // Round up to whole cache lines (aligned_alloc needs a multiple of the alignment)
    // and leave headroom so slowly growing sizes do not reallocate every call.
    const std::size_t want = ((floats + floats / 4 + 15) / 16) * 16;
    void* p = std::aligned_alloc(64, want * sizeof(float));
    if (p == nullptr) throw std::bad_alloc();
    std::free(buf.data);
    buf.data = static_cast<float*>(p);
    buf.capacity = want;
  }
  return buf.data;
}

}  // namespace mt
