#include "registry/cluster_id.h"

#include <rocksdb/db.h>

#include <algorithm>

#include "registry/storage_engine.h"

namespace pharos::registry {
namespace {

constexpr char kClusterIdKey[] = "cluster_id";

void Mix(uint64_t* h, std::string_view bytes) {
  for (unsigned char c : bytes) {
    *h ^= c;
    *h *= 1099511628211ULL;  // FNV-1a, as member ids
  }
}

}  // namespace

uint64_t DeriveClusterId(std::vector<uint64_t> voter_ids, std::string_view salt) {
  std::sort(voter_ids.begin(), voter_ids.end());  // the order of --initial-cluster is no matter
  uint64_t h = 1469598103934665603ULL;
  for (uint64_t id : voter_ids) {
    char bytes[8];
    for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>(id >> (8 * i));
    Mix(&h, std::string_view(bytes, 8));
  }
  Mix(&h, "|");
  Mix(&h, salt);
  return h == 0 ? 1 : h;
}

Result<uint64_t> LoadClusterId(StorageEngine& storage) {
  std::string value;
  rocksdb::Status s = storage.db()->Get(rocksdb::ReadOptions(), kClusterIdKey, &value);
  if (s.IsNotFound()) return uint64_t{0};
  if (!s.ok()) return Status::IoError("reading the cluster id: " + s.ToString());
  if (value.size() != 8) return Status::Corruption("cluster id record");
  uint64_t id = 0;
  for (int i = 0; i < 8; ++i) id = (id << 8) | static_cast<unsigned char>(value[i]);
  return id;
}

Status SaveClusterId(StorageEngine& storage, uint64_t id) {
  std::string value;
  for (int i = 7; i >= 0; --i) value.push_back(static_cast<char>((id >> (8 * i)) & 0xff));
  rocksdb::WriteOptions wo;
  wo.sync = true;  // identity, written once: durable before anything relies on it
  rocksdb::Status s = storage.db()->Put(wo, kClusterIdKey, value);
  if (!s.ok()) return Status::IoError("writing the cluster id: " + s.ToString());
  return Status::Ok();
}

}  // namespace pharos::registry
