// Boards of shared GEMM tasks (see share.h).
//
// A board's claim word packs the job's generation (32 bits), its task count and the
// next task to hand out (16 bits each), so taking a task is one compare-and-swap that
// also checks the job is still the one the taker saw. The owner publishes a job with a
// release store of the claim word and takes its own tasks from it like everyone else;
// a helper that won a task reads the job after its (acquiring) compare-and-swap, and
// the owner cannot retire the job before the helper counts the task done, so the job
// it reads is the one it claimed from. The owner waits for the helpers' tasks to be
// counted (release/acquire), which also makes their writes to C visible to it.
#include "share.h"

#include <atomic>
#include <chrono>
#include <cstddef>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include "common.h"

namespace mt {
namespace {

constexpr int kBoards = 64;

struct alignas(64) Board {
  std::atomic<std::uint64_t> claim{0};  // generation << 32 | count << 16 | next
  std::atomic<TaskFn> fn{nullptr};
  std::atomic<const void*> job{nullptr};
  std::atomic<bool> taken{false};
  alignas(64) std::atomic<std::uint32_t> done{0};  // tasks helpers finished (own line: they write it)
};

Board boards[kBoards];
// Boards [0, in_use) may be taken: helpers look no further.
std::atomic<int> in_use{0};

inline void pause() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

inline int next_of(std::uint64_t c) { return static_cast<int>(c & 0xffff); }
inline int count_of(std::uint64_t c) { return static_cast<int>((c >> 16) & 0xffff); }

// The next task of the board's current job, or -1 when all are handed out.
int claim(Board& b) {
  std::uint64_t c = b.claim.load(std::memory_order_acquire);
  while (next_of(c) < count_of(c)) {
    if (b.claim.compare_exchange_weak(c, c + 1, std::memory_order_acq_rel, std::memory_order_acquire))
      return next_of(c);
  }
  return -1;
}

// This thread's board; given back when the thread exits.
struct Seat {
  Board* board = nullptr;
  void leave() {
    if (board != nullptr) board->taken.store(false, std::memory_order_release);
    board = nullptr;
  }
  ~Seat() { leave(); }
};
thread_local Seat seat;

}  // namespace

bool set_sharing(bool on) {
  if (!on) {
    seat.leave();
    return true;
  }
  if (seat.board != nullptr) return true;
  // Tasks must not allocate on a helper's thread (see share.h).
  scratch(0, static_cast<std::size_t>(kTaskScratchA));
  scratch(1, static_cast<std::size_t>(kTaskScratchB));
  for (int i = 0; i < kBoards; ++i) {
    bool free = false;
    if (boards[i].taken.compare_exchange_strong(free, true, std::memory_order_acq_rel)) {
      seat.board = &boards[i];
      int seen = in_use.load(std::memory_order_relaxed);
      while (seen < i + 1 && !in_use.compare_exchange_weak(seen, i + 1, std::memory_order_relaxed)) {
      }
      return true;
    }
  }
  return false;
}

bool sharing() { return seat.board != nullptr; }

void run_shared(TaskFn fn, const void* job, int count) {
  Board* b = seat.board;
  if (b == nullptr || count < 2 || count > kMaxTasks) {
    for (int t = 0; t < count; ++t) fn(job, t);
    return;
  }
  b->fn.store(fn, std::memory_order_relaxed);
  b->job.store(job, std::memory_order_relaxed);
  b->done.store(0, std::memory_order_relaxed);
  const std::uint64_t generation = (b->claim.load(std::memory_order_relaxed) >> 32) + 1;
  b->claim.store(generation << 32 | static_cast<std::uint64_t>(count) << 16, std::memory_order_release);
  int mine = 0;
  for (int t; (t = claim(*b)) >= 0; ++mine) fn(job, t);
  const auto theirs = static_cast<std::uint32_t>(count - mine);
  while (b->done.load(std::memory_order_acquire) != theirs) pause();
}

std::int64_t help_shared() {
  using Clock = std::chrono::steady_clock;
  std::int64_t spent = 0;
  if (seat.board == nullptr) return 0;  // its scratch is not reserved (see set_sharing)
  const int boards_in_use = in_use.load(std::memory_order_relaxed);
  for (int i = 0; i < boards_in_use; ++i) {
    Board& b = boards[i];
    if (&b == seat.board) continue;
    for (int t; (t = claim(b)) >= 0;) {
      const auto start = Clock::now();
      b.fn.load(std::memory_order_relaxed)(b.job.load(std::memory_order_relaxed), t);
      b.done.fetch_add(1, std::memory_order_release);
      spent += std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count();
    }
  }
  return spent;
}

}  // namespace mt
