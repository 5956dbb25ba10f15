// Server::HandleSnapshot: a backup of this member's key-value state, streamed to the client
// (DESIGN.md §5). The copy is consistent — one RocksDB snapshot taken on the apply thread, in
// order with applies — and read a chunk at a time on that thread, so applies interleave with a
// long backup instead of waiting for it. Each blob is one frame (4-byte length + bytes): first the
// header of common/snapshot_file.h (revision, key count), then the store's chunks, so the file
// keeps the chunk boundaries a restore needs; the last message carries the SHA-256 of all blobs.
#include <spdlog/spdlog.h>

#include "common/asio.h"
#include "common/frame.h"
#include "common/metrics.h"
#include "common/sha256.h"
#include "common/snapshot_file.h"
#include "kvstore/mvcc_store.h"
#include "registry/applier.h"
#include "registry/client_service.h"
#include "registry/server.h"

namespace pharos::registry {

namespace asio = boost::asio;

namespace {

constexpr size_t kSnapshotChunkBytes = 512 * 1024;  // well under the 1.5 MiB frame limit
// The next chunk is read once the client has left at most this much unread: a client that
// stopped reading would otherwise get the whole store queued in the member's memory.
constexpr size_t kSnapshotUnsentBytes = 2 * kSnapshotChunkBytes;

struct SnapshotStream {
  std::unique_ptr<kv::MvccStore::SnapshotReader> reader;
  std::optional<std::string> next;  // read one ahead, to know which chunk is the last
  int64_t revision = 0;
  uint64_t sent_bytes = 0;
  Sha256 sha;
};

}  // namespace

void Server::HandleSnapshot(std::shared_ptr<Connection> c, pb::Envelope env) {
  auto stream = std::make_shared<SnapshotStream>();
  std::weak_ptr<bool> alive = alive_;
  // One step: on the apply thread take the next chunk, on the I/O thread send it, repeat. The
  // step is kept alive by whichever of its hops is pending, not by itself: a connection that
  // closes drops the hop waiting for it, and the stream's RocksDB snapshot goes with it.
  auto first = std::make_shared<std::function<void()>>();
  *first = [this, c, env, stream, alive, weak_step = std::weak_ptr(first)] {
    auto step = weak_step.lock();  // the caller holds it
    applier_->Run(
        [this, c, env, stream, alive, step](kv::MvccStore& store, kv::WatchHub&, kv::Lessor&) {
          Status status = Status::Ok();
          std::optional<std::string> chunk;
          if (!stream->reader) {
            // The header and the reader's view are taken together, in order with applies.
            stream->reader = store.CreateSnapshot(kSnapshotChunkBytes);
            stream->revision = store.revision();
            stream->next = EncodeSnapshotHeader({.revision = store.revision(),
                                                 .key_count = store.key_count(),
                                                 .compact_revision = store.compact_revision()});
          }
          if (status.ok()) {
            chunk = std::move(stream->next);
            stream->next.reset();
            if (chunk) {
              auto ahead = stream->reader->Next();
              if (ahead.ok()) {
                stream->next = std::move(*ahead);
              } else {
                status = ahead.status();
              }
            }
          }
          asio::post(io_, [this, c, env, stream, alive, step, status, chunk = std::move(chunk)] {
            if (alive.expired()) return;
            if (!status.ok()) {
              spdlog::error("snapshot for {} failed: {}", c->peer(), status.ToString());
              return Fail(c, env, status);
            }
            if (!c->open()) return;
            pb::Envelope out = Reply(env, Status::Ok());
            auto* r = out.mutable_snapshot_response();
            *r->mutable_header() = Header(stream->revision);
            if (chunk) {
              std::string blob;
              AppendFrame(&blob, *chunk);
              stream->sha.Update(blob);
              stream->sent_bytes += blob.size();
              r->set_blob(std::move(blob));
            }
            const bool last = !stream->next.has_value();
            if (last) {
              r->set_checksum(stream->sha.Final());
              r->set_remaining_bytes(0);
              spdlog::info("snapshot at revision {} sent to {}: {} bytes", stream->revision,
                           c->peer(), stream->sent_bytes);
              Respond(c, std::move(out));
              return;
            }
            r->set_remaining_bytes(stream->next->size() + kFrameHeaderBytes);  // at least that
            Respond(c, std::move(out), /*done=*/false);
            if (c->unsent_bytes() > kSnapshotUnsentBytes) {
              static Counter& paused = Metrics::Global().counter(
                  "pharos_snapshot_slow_reader_pauses_total",
                  "Times a snapshot stream waited for its client to read what was sent");
              paused.Inc();
            }
            c->WhenUnsentAtMost(kSnapshotUnsentBytes, [step, alive] {
              if (!alive.expired()) (*step)();
            });
          });
        });
  };
  (*first)();
}

}  // namespace pharos::registry
