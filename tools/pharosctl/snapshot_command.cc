// snapshot save FILE: a backup of one member's key-value state. The member streams it in chunks
// (proto SnapshotRequest/SnapshotResponse); the chunks go to FILE.part, the SHA-256 of all of
// them must match the checksum on the last chunk, and only then is that checksum appended (the
// trailer of common/snapshot_file.h, which `snapshot status` and `restore` verify) and the file
// synced and renamed to FILE — so FILE, if it exists, is always a whole, verified snapshot.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>

#include "common/sha256.h"
#include "common/snapshot_file.h"
#include "tools/pharosctl/context.h"

namespace pharos::pharosctl {
namespace {

using SteadyClock = std::chrono::steady_clock;

// FILE.part as it is written; removed unless Commit() renamed it.
class PartFile {
 public:
  explicit PartFile(std::string path)
      : path_(std::move(path)), part_(path_ + ".part"), dir_(DirectoryOf(path_)) {}
  ~PartFile() {
    if (fd_ >= 0) close(fd_);
    if (dir_fd_ >= 0) close(dir_fd_);
    if (!committed_) unlink(part_.c_str());
  }
  Status Open() {
    // The directory first: without it the rename cannot be made durable, and a save that
    // cannot be made durable must fail before anything is streamed or renamed.
    dir_fd_ = open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd_ < 0) return Error("open directory " + dir_ + " (to sync the rename)");
    fd_ = open(part_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    return fd_ < 0 ? Error("open " + part_) : Status::Ok();
  }
  Status Write(const std::string& data) {
    size_t done = 0;
    while (done < data.size()) {
      const ssize_t n = write(fd_, data.data() + done, data.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Error("write " + part_);
      done += static_cast<size_t>(n);
    }
    return Status::Ok();
  }
  // Durable before visible: data synced, then renamed, then the rename synced.
  Status Commit() {
    if (fsync(fd_) != 0) return Error("fsync " + part_);
    if (close(fd_) != 0) {
      fd_ = -1;
      return Error("close " + part_);
    }
    fd_ = -1;
    if (rename(part_.c_str(), path_.c_str()) != 0) return Error("rename to " + path_);
    committed_ = true;
    if (fsync(dir_fd_) != 0) {
      return Error("fsync directory " + dir_ + " (" + path_ +
                   " is whole, but its rename may not survive a crash)");
    }
    return Status::Ok();
  }

 private:
  static Status Error(const std::string& what) {
    return Status::IoError(what + ": " + std::strerror(errno));
  }
  static std::string DirectoryOf(const std::string& path) {
    std::string dir = std::filesystem::path(path).parent_path().string();
    return dir.empty() ? "." : dir;
  }
  std::string path_, part_, dir_;
  int fd_ = -1;
  int dir_fd_ = -1;
  bool committed_ = false;
};

// What the stream's callback hands to the main thread, which does the disk work.
struct Inbox {
  std::mutex mu;
  std::deque<pb::SnapshotResponse> chunks;
  std::optional<Status> error;
};

int RunSnapshotSave(Context& ctx, const std::string& path) {
  // A snapshot is one member's state: as etcdctl, exactly one endpoint.
  if (ctx.endpoints().size() != 1) {
    return UsageError("snapshot save needs exactly one endpoint (--endpoints=host:port)");
  }
  Signals& signals = ctx.signals();
  signals.Catch();  // a signal must not leave FILE.part behind
  PartFile file(path);
  if (Status s = file.Open(); !s.ok()) return Fail(s);
  Sha256 sha;

  auto inbox = std::make_shared<Inbox>();
  pb::Envelope request;
  request.mutable_snapshot();
  auto stream = ctx.client().OpenStream(
      std::move(request), ctx.endpoints()[0], [inbox, &signals](Result<pb::Envelope> r) {
        {
          std::lock_guard lock(inbox->mu);
          if (inbox->error) return;
          if (!r.ok()) {
            inbox->error = r.status();
          } else if (Status s = client::StatusOf(*r); !s.ok()) {
            inbox->error = s;
          } else if (!r->has_snapshot_response()) {
            inbox->error =
                Status::Internal("the member answered the snapshot with another message");
          } else {
            inbox->chunks.push_back(std::move(*r->mutable_snapshot_response()));
          }
        }
        signals.Notify();
      });
  struct CloseStream {
    std::shared_ptr<client::Client::Stream> s;
    ~CloseStream() { s->Close(); }
  } close_stream{stream};

  uint64_t bytes = 0;
  int64_t revision = 0;
  for (;;) {
    // The command timeout bounds the silence between chunks, not the whole transfer.
    const bool ready = signals.WaitUntil(
        [&] {
          std::lock_guard lock(inbox->mu);
          return !inbox->chunks.empty() || inbox->error || signals.received() > 0;
        },
        ctx.timeout());
    if (signals.received() > 0) return Fail("interrupted; " + path + " was not written");
    if (!ready)
      return Fail("no snapshot data from " + ctx.endpoints()[0] +
                  " within the command "
                  "timeout");
    std::deque<pb::SnapshotResponse> chunks;
    {
      std::lock_guard lock(inbox->mu);
      chunks.swap(inbox->chunks);
      if (chunks.empty() && inbox->error) return Fail(*inbox->error);
    }
    for (const auto& chunk : chunks) {
      if (Status s = file.Write(chunk.blob()); !s.ok()) return Fail(s);
      sha.Update(chunk.blob());
      bytes += chunk.blob().size();
      revision = std::max(revision, chunk.header().revision());
      if (chunk.remaining_bytes() != 0) continue;
      // The last chunk: its checksum covers every blob.
      const std::string actual = sha.Final();
      if (chunk.checksum().empty()) return Fail("the snapshot came without a checksum");
      if (chunk.checksum() != actual) {
        return Fail("snapshot checksum mismatch: expected " + HexOf(chunk.checksum()) + ", got " +
                    HexOf(actual));
      }
      const std::string trailer = SnapshotTrailer(actual);
      if (Status s = file.Write(trailer); !s.ok()) return Fail(s);
      bytes += trailer.size();
      if (Status s = file.Commit(); !s.ok()) return Fail(s);
      Emit(ctx.format() == Format::kJson
               ? "{\"path\":" + JsonQuote(path) + ",\"revision\":" + std::to_string(revision) +
                     ",\"size\":" + std::to_string(bytes) + "}\n"
               : "Snapshot saved at " + path + " (revision " + std::to_string(revision) + ", " +
                     std::to_string(bytes) + " bytes)\n");
      return kExitOk;
    }
  }
}

}  // namespace

void AddSnapshotCommand(CLI::App& app, Context& ctx) {
  auto* snapshot = app.add_subcommand("snapshot", "Snapshot commands");
  snapshot->require_subcommand(1);
  auto path = std::make_shared<std::string>();
  auto* save = snapshot->add_subcommand("save", "Saves a verified snapshot of one member to FILE");
  save->add_option("file", *path, "FILE")->required();
  ctx.Register(save, [&ctx, path] { return RunSnapshotSave(ctx, *path); });
  AddSnapshotFileCommands(*snapshot, ctx);
}

}  // namespace pharos::pharosctl
