// pharosd-crashable: pharosd exactly as shipped (RunPharosd), with its RocksDB file I/O going
// through CrashFileSystem — a test build, never installed. SIGUSR2 is a power cut: from that
// instant nothing more reaches the disk, every byte not yet synced is thrown away (the page cache
// may have written back any prefix of it: a random one is kept), and the process is gone at once
// (exit code 86, no destructor runs). SIGKILL alone keeps the page cache and so cannot show a
// missing fsync (DESIGN.md §10); this can. PHAROS_CRASH_SEED fixes the prefixes kept, for a replay;
// the seed used is printed either way.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <thread>

#include "registry/pharosd_run.h"
#include "registry/storage_engine.h"
#include "tests/raft/crash_file_system.h"

namespace {

constexpr int kPowerCutExitCode = 86;

uint64_t CrashSeed() {
  if (const char* fixed = std::getenv("PHAROS_CRASH_SEED"))
    return std::strtoull(fixed, nullptr, 10);
  return static_cast<uint64_t>(getpid()) * 1000003u +
         static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
}

}  // namespace

int main(int argc, char** argv) {
  // Lives as long as the process: the power cut ends the process without destroying anything.
  static pharos::testing::CrashFileSystem fs;
  pharos::registry::StorageEngine::UseEnvForTesting(fs.env());

  // Blocked before any other thread exists, so that every thread inherits the mask and only the
  // waiter below takes the signal.
  sigset_t power_cut;
  sigemptyset(&power_cut);
  sigaddset(&power_cut, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &power_cut, nullptr);
  std::thread([power_cut] {
    int sig = 0;
    if (sigwait(&power_cut, &sig) != 0) return;
    const uint64_t seed = CrashSeed();
    std::mt19937_64 rng(seed);
    const uint64_t unsynced = fs.CutPower(&rng);  // every other thread's I/O now waits forever
    std::fprintf(stderr, "power cut: %llu unsynced bytes dropped or torn (seed %llu)\n",
                 static_cast<unsigned long long>(unsynced), static_cast<unsigned long long>(seed));
    std::fflush(stderr);
    _exit(kPowerCutExitCode);
  }).detach();

  return pharos::registry::RunPharosd(argc, argv);
}
