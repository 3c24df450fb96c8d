// Work sharing between the threads of one process (the step loop's workers): a thread
// running a large GEMM posts it as tasks on its board and runs them; a thread waiting
// at a barrier takes tasks from the other boards meanwhile. A task computes whole tiles
// of C with the same code as when one thread runs them all, so who runs it does not
// change a bit of the result.
#pragma once

#include <cstdint>

namespace mt {

using TaskFn = void (*)(const void* job, int task);

// Scratch floats a helping thread's task may pack into (slot 0: A, slot 1: B): a job's
// private packing must fit, so that no task allocates (set_sharing reserves them).
constexpr std::int64_t kTaskScratchA = 144 * 256;
constexpr std::int64_t kTaskScratchB = 2048 * 256;

// Whether this thread posts the GEMMs it runs (true: it takes a board; false: it gives
// it back). Returns false when every board is taken (the thread then runs alone).
bool set_sharing(bool on);
// Whether this thread has a board.
bool sharing();
// The most tasks a job may have.
constexpr int kMaxTasks = 0xffff;
// Runs tasks 0..count-1 of `job` (fn(job, t)), of which threads in help_shared() may take
// some; returns when all are done. Without a board, runs them all here.
void run_shared(TaskFn fn, const void* job, int count);
// Runs tasks other threads have posted, while any are open; returns the nanoseconds spent
// in them (0: there were none).
std::int64_t help_shared();

}  // namespace mt
