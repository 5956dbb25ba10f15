// `pharosd snapshot-restore FILE [pharosd's flags]`: makes a member's data directory for a NEW
// cluster from a backup, offline (`pharosctl snapshot restore` runs it). Each member of the new
// cluster restores the same file with its own --name and the same --initial-cluster; then each
// starts pharosd on its directory as usual, and the cluster comes up with the backup's keys,
// revisions, versions and leases (which then expire unless kept alive), a new cluster id, and
// the membership of --initial-cluster.
//
// Nothing is written unless the whole file verifies: the directory is built under a temporary
// name beside DIR and renamed into place only when complete, and removed on any failure. DIR
// must not exist, or be empty.
//
// Thread rules: runs on main before anything else; blocking.
#pragma once

#include <iosfwd>
#include <string>

#include "common/status.h"
#include "registry/server_config.h"

namespace pharos::registry {

// argv[0] is the program and argv[1] "snapshot-restore". Returns the process exit code (0, 1 on a
// failed restore, 2 on a usage error) after writing what happened to `out` or `err`.
int RunSnapshotRestore(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

// The restore itself, for a parsed config (name, data_dir, peers). `summary` says what was made.
Status RestoreSnapshot(const std::string& file, const ServerConfig& config, std::string* summary);

}  // namespace pharos::registry
