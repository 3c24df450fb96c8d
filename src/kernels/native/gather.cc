// Row gathering: the batch's rows copied out of the dataset, in the sampler's order.
// The rows lie anywhere in a matrix of megabytes, so each is usually a cache miss,
// and a plain loop waits for them one after another. Prefetching a few rows ahead
// keeps several misses in flight. One portable version serves every ISA.
#include <cstring>

#include "common.h"

namespace mt {
namespace {

// Rows in flight ahead of the one being copied.
constexpr idx kAhead = 8;
constexpr idx kLineFloats = 16;  // a 64-byte cache line

inline void prefetch_row(const float* row, idx width) {
  for (idx c = 0; c < width; c += kLineFloats) __builtin_prefetch(row + c);
}

}  // namespace

idx gather_rows(idx width, const float* src, idx src_rows, const std::int32_t* indices, idx count, float* dst) {
  // every index checked before anything is read or written
  for (idx r = 0; r < count; ++r)
    if (indices[r] < 0 || indices[r] >= src_rows) return r;
  for (idx r = 0; r < count && r < kAhead; ++r) prefetch_row(src + indices[r] * width, width);
  for (idx r = 0; r < count; ++r) {
    // read once and checked again: the indices may sit in shared memory another thread could change
    const idx row = indices[r];
    if (row < 0 || row >= src_rows) return r;
    if (r + kAhead < count) prefetch_row(src + indices[r + kAhead] * width, width);  // a prefetch never faults
    std::memcpy(dst + r * width, src + row * width, static_cast<std::size_t>(width) * sizeof(float));
  }
  return -1;
}

}  // namespace mt
