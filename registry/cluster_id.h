// The cluster id: which cluster a member's data directory belongs to. Every member of one cluster
// derives the same id from what they all share — the voter ids of --initial-cluster when a new
// cluster bootstraps, plus the backup's checksum when it is restored from a snapshot — so no
// member has to hear it from another, and a restored cluster never has its source's id. It is
// kept in the data directory (RocksDB's default column family, which no module owns) and stamped
// on every response header and every Raft message; a member drops Raft messages from another
// cluster, so a restored cluster and its source cannot mix even if their addresses overlap.
// Plain functions; the storage ones are thread-safe (RocksDB is).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace pharos::registry {

class StorageEngine;

// Never 0 (0 means "not known yet").
uint64_t DeriveClusterId(std::vector<uint64_t> voter_ids, std::string_view salt = {});

// The stored id, or 0 if the directory has none yet (a member that joins an existing cluster
// learns it from the first message of a member that knows it).
Result<uint64_t> LoadClusterId(StorageEngine& storage);
Status SaveClusterId(StorageEngine& storage, uint64_t id);

}  // namespace pharos::registry
