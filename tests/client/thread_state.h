// Whether another thread has gone to sleep (blocked on a lock or a condition variable): with
// Eventually (tests/eventually.h), how a test waits for a thread to reach a blocking step without
// guessing how long it takes.
#pragma once

#include <sys/types.h>

namespace pharos::testing {

// The calling thread's kernel id, for ThreadIsAsleep.
pid_t CurrentThreadId();

// Whether the kernel has thread `tid` of this process asleep (state S): blocked rather than
// running or waiting for a CPU. A thread that sleeps right after some step has passed that step.
bool ThreadIsAsleep(pid_t tid);

}  // namespace pharos::testing
