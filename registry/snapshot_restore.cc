#include "registry/snapshot_restore.h"

#include <fcntl.h>
#include <rocksdb/db.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <ostream>
#include <string_view>
#include <vector>

#include "common/snapshot_file.h"
#include "kvstore/mvcc_store.h"
#include "raft/log_store.h"
#include "registry/cluster_id.h"
#include "registry/storage_engine.h"

namespace pharos::registry {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kUsage =
    "usage: pharosd snapshot-restore FILE --name NAME --data-dir DIR "
    "--initial-cluster NAME=HOST:PORT,...\n";

std::string Hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "%llx", static_cast<unsigned long long>(v));
  return buf;
}

// The directory under construction: removed, with any parent it had to create, unless Keep().
class Scratch {
 public:
  explicit Scratch(fs::path path) : path_(std::move(path)) {
    created_ = path_;
    while (created_.has_parent_path() && created_.parent_path() != created_ &&
           !fs::exists(created_.parent_path())) {
      created_ = created_.parent_path();
    }
  }
  ~Scratch() {
    if (kept_) return;
    std::error_code ec;
    fs::remove_all(created_, ec);
  }
  const fs::path& path() const { return path_; }
  // The highest directory this restore creates (path() itself when its parent existed).
  const fs::path& created() const { return created_; }
  void Keep() { kept_ = true; }

 private:
  fs::path path_;
  fs::path created_;  // the highest directory this restore creates
  bool kept_ = false;
};

Status SyncDirectory(const fs::path& dir) {
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::IoError("open " + dir.string() + ": " + std::strerror(errno));
  const int rc = fsync(fd);
  close(fd);
  if (rc != 0) return Status::IoError("fsync " + dir.string() + ": " + std::strerror(errno));
  return Status::Ok();
}

// The member table's record format (StorageEngine::members(): 8-byte big-endian id -> Member).
std::string MemberKey(uint64_t id) {
  std::string key(8, '\0');
  for (int i = 7; i >= 0; --i, id >>= 8) key[i] = static_cast<char>(id & 0xff);
  return key;
}

// Writes the new member's state into `dir`: the backup's key-value state, the member table, the
// new cluster id, and a Raft log that begins with a snapshot of all that at index N (N = the
// number of voters, term 1, the voters as its configuration). Starting from a snapshot point, not
// from membership entries at 1..N as a new cluster does, is what lets a member added later catch
// up: the leader has no entries below N+1 to send it, so it sends its state instead — entries
// 1..N would rebuild an empty store.
Status Populate(const fs::path& dir, const SnapshotContents& snapshot, const ServerConfig& config,
                uint64_t cluster_id) {
  auto storage = StorageEngine::Open(dir.string());
  if (!storage.ok()) return storage.status();
  rocksdb::DB* db = (*storage)->db();
  const uint64_t index = config.peers.size();

  auto store = kv::MvccStore::Open(db, (*storage)->kv_families());
  if (!store.ok()) return store.status();
  if (Status s = (*store)->Restore(snapshot.chunks); !s.ok()) return s;
  const SnapshotHeader& header = snapshot.info.header;
  if ((*store)->revision() != header.revision || (*store)->key_count() != header.key_count) {
    return Status::Corruption("the restored state does not match the snapshot's header (revision " +
                              std::to_string((*store)->revision()) + " vs " +
                              std::to_string(header.revision) + ", keys " +
                              std::to_string((*store)->key_count()) + " vs " +
                              std::to_string(header.key_count) + ")");
  }
  // The applied index in the backup counts the old cluster's log; this state is the new log's
  // snapshot point.
  if (Status s = (*store)->ApplyNoop(index); !s.ok()) return s;

  raftpb::SnapshotMetadata meta;
  meta.set_index(index);
  meta.set_term(1);
  for (const PeerSpec& p : config.peers) {
    meta.mutable_conf_state()->add_voters(p.id);
    pb::Member m;  // client addresses arrive when each member publishes itself
    m.set_id(p.id);
    m.set_name(p.name);
    m.add_peer_urls(p.peer_address);
    rocksdb::Status s = db->Put(rocksdb::WriteOptions(), (*storage)->members(), MemberKey(p.id),
                                m.SerializeAsString());
    if (!s.ok()) return Status::IoError("writing the member table: " + s.ToString());
  }
  if (Status s = SaveClusterId(**storage, cluster_id); !s.ok()) return s;

  // Last, synced, so it carries every write above to disk with it.
  auto log = raft::LogStore::Open(db, (*storage)->raft_log(), (*storage)->raft_meta(), {});
  if (!log.ok()) return log.status();
  raft::LogStore::Write w;
  w.snapshot = meta;
  raftpb::HardState hs;
  hs.set_term(1);
  hs.set_commit(index);
  w.hard_state = hs;
  w.sync = true;
  if (Status s = (*log)->WriteSync(std::move(w)); !s.ok()) return s;
  rocksdb::Status fs = db->FlushWAL(/*sync=*/true);
  if (!fs.ok()) return Status::IoError("syncing the restored data: " + fs.ToString());
  return Status::Ok();
}

}  // namespace

Status RestoreSnapshot(const std::string& file, const ServerConfig& config, std::string* summary) {
  fs::path target = fs::path(config.data_dir).lexically_normal();
  if (target.has_filename() == false) target = target.parent_path();  // "dir/" -> "dir"
  std::error_code ec;
  const bool exists = fs::exists(target, ec);
  if (exists && (!fs::is_directory(target, ec) || !fs::is_empty(target, ec))) {
    return Status::FailedPrecondition("data directory " + target.string() +
                                      " already exists and is not empty; a restore makes a new "
                                      "member, so give it a new directory");
  }
  // Verify the whole file before anything is written.
  auto snapshot = LoadSnapshotFile(file);
  if (!snapshot.ok()) return snapshot.status();

  std::vector<uint64_t> voters;
  for (const PeerSpec& p : config.peers) voters.push_back(p.id);
  // Same file and membership on every member: the same id everywhere; never the source's.
  const uint64_t cluster_id = DeriveClusterId(voters, snapshot->info.sha256);

  Scratch scratch(target.string() + ".restoring-" + std::to_string(getpid()));
  if (fs::exists(scratch.path(), ec)) fs::remove_all(scratch.path(), ec);  // an old attempt's
  if (Status s = Populate(scratch.path(), *snapshot, config, cluster_id); !s.ok()) return s;
  if (exists) fs::remove(target, ec);  // empty: checked above
  fs::rename(scratch.path(), target, ec);
  if (ec) {
    return Status::IoError("cannot rename " + scratch.path().string() + " to " + target.string() +
                           ": " + ec.message());
  }
  // The new entries must be durable: the target's in its parent, and each directory this restore
  // created in the one above it. Synced only the parent, a power cut could lose a created
  // directory, and with it the restored member.
  const fs::path top =
      scratch.created().has_parent_path() ? scratch.created().parent_path() : fs::path(".");
  for (fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");;
       dir = dir.parent_path()) {
    if (Status s = SyncDirectory(dir); !s.ok()) {
      fs::remove_all(target, ec);  // all or nothing (the directories created above it: ~Scratch)
      return s;
    }
    if (dir == top || !dir.has_parent_path() || dir.parent_path() == dir) break;
  }
  scratch.Keep();

  std::string members;
  for (const PeerSpec& p : config.peers) members += (members.empty() ? "" : ",") + p.name;
  *summary = "Restored snapshot " + file + " (revision " +
             std::to_string(snapshot->info.header.revision) + ", " +
             std::to_string(snapshot->info.header.key_count) + " keys) into " + target.string() +
             ": member " + config.name + " (" + Hex(config.member_id) + ") of new cluster " +
             Hex(cluster_id) + " with members " + members + "\n";
  return Status::Ok();
}

int RunSnapshotRestore(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  if (argc >= 3 && (std::string_view(argv[2]) == "--help" || std::string_view(argv[2]) == "-h")) {
    out << kUsage
        << "Makes DIR a member of a new cluster holding FILE's keys; run on each member with its "
           "own --name, then start pharosd with the same flags.\n";
    return 0;
  }
  if (argc < 3 || argv[2][0] == '-') {
    err << "pharosd snapshot-restore: the snapshot FILE comes first\n" << kUsage;
    return 2;
  }
  const std::string file = argv[2];
  // The remaining flags are pharosd's own, checked as pharosd checks them at start.
  std::vector<const char*> flags = {"pharosd snapshot-restore"};
  flags.insert(flags.end(), argv + 3, argv + argc);
  ParseOutcome parsed = ParseServerConfig(static_cast<int>(flags.size()), flags.data(), out, err);
  if (!parsed.run) return parsed.exit_code;
  std::string summary;
  if (Status s = RestoreSnapshot(file, parsed.config, &summary); !s.ok()) {
    err << "pharosd snapshot-restore: " << s.message() << "; nothing was written\n";
    return 1;
  }
  out << summary;
  return 0;
}

}  // namespace pharos::registry
