// Server::HandleSnapshot: a backup of this member's key-value state, streamed to the client
// (DESIGN.md §5). The copy is consistent — one RocksDB snapshot taken on the apply thread, in
// order with applies — and read a chunk at a time on that thread, so applies interleave with a
// long backup instead of waiting for it. Each blob is one framed chunk (4-byte length + bytes),
// so the file keeps the chunk boundaries a restore needs; the last message carries the SHA-256 of
// all blobs.
#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include "common/asio.h"
#include "common/frame.h"
#include "kvstore/mvcc_store.h"
#include "registry/applier.h"
#include "registry/client_service.h"
#include "registry/server.h"

namespace pharos::registry {

namespace asio = boost::asio;

namespace {

constexpr size_t kSnapshotChunkBytes = 512 * 1024;  // well under the 1.5 MiB frame limit

struct SnapshotStream {
  std::unique_ptr<kv::MvccStore::SnapshotReader> reader;
  std::optional<std::string> next;  // read one ahead, to know which chunk is the last
  int64_t revision = 0;
  uint64_t sent_bytes = 0;
  EVP_MD_CTX* sha = nullptr;
  ~SnapshotStream() {
    if (sha) EVP_MD_CTX_free(sha);
  }
};

}  // namespace

void Server::HandleSnapshot(std::shared_ptr<Connection> c, pb::Envelope env) {
  auto stream = std::make_shared<SnapshotStream>();
  stream->sha = EVP_MD_CTX_new();
  EVP_DigestInit_ex(stream->sha, EVP_sha256(), nullptr);
  std::weak_ptr<bool> alive = alive_;
  // One step: on the apply thread take the next chunk, on the I/O thread send it, repeat.
  auto step = std::make_shared<std::function<void()>>();
  *step = [this, c, env, stream, alive, step] {
    applier_->Run(
        [this, c, env, stream, alive, step](kv::MvccStore& store, kv::WatchHub&, kv::Lessor&) {
          Status status = Status::Ok();
          std::optional<std::string> chunk;
          if (!stream->reader) {
            stream->reader = store.CreateSnapshot(kSnapshotChunkBytes);
            stream->revision = store.revision();
            auto first = stream->reader->Next();
            if (first.ok()) {
              stream->next = std::move(*first);
            } else {
              status = first.status();
            }
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
              *step = nullptr;  // breaks the step's reference to itself
              return Fail(c, env, status);
            }
            if (!c->open()) {
              *step = nullptr;
              return;
            }
            pb::Envelope out = Reply(env, Status::Ok());
            auto* r = out.mutable_snapshot_response();
            *r->mutable_header() = Header(stream->revision);
            if (chunk) {
              std::string blob;
              AppendFrame(&blob, *chunk);
              EVP_DigestUpdate(stream->sha, blob.data(), blob.size());
              stream->sent_bytes += blob.size();
              r->set_blob(std::move(blob));
            }
            const bool last = !stream->next.has_value();
            if (last) {
              unsigned char digest[EVP_MAX_MD_SIZE];
              unsigned int length = 0;
              EVP_DigestFinal_ex(stream->sha, digest, &length);
              r->set_checksum(std::string(reinterpret_cast<char*>(digest), length));
              r->set_remaining_bytes(0);
              spdlog::info("snapshot at revision {} sent to {}: {} bytes", stream->revision,
                           c->peer(), stream->sent_bytes);
              Respond(c, std::move(out));
              *step = nullptr;
              return;
            }
            r->set_remaining_bytes(stream->next->size() + kFrameHeaderBytes);  // at least that
            Respond(c, std::move(out), /*done=*/false);
            (*step)();
          });
        });
  };
  (*step)();
}

}  // namespace pharos::registry
