// RunPharosd: the whole of pharosd's main — the offline snapshot-restore mode, or flags parsed,
// a member started and run until SIGINT / SIGTERM. Its own file so that a test build of pharosd
// (tests/cluster/crashable_pharosd_main.cc) runs exactly what the real one runs.
#pragma once

namespace pharos::registry {

// Returns the process's exit code.
int RunPharosd(int argc, char** argv);

}  // namespace pharos::registry
