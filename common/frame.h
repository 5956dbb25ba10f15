// Framing of the wire protocol (DESIGN.md §5): each frame is a 4-byte big-endian length followed
// by that many bytes (a serialized Envelope). FrameDecoder turns a byte stream back into frames
// and refuses a frame longer than the configured limit before buffering it, so a bad peer cannot
// make us allocate without bound. Single-threaded objects.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace pharos {

inline constexpr size_t kFrameHeaderBytes = 4;
// The default limit on one frame: 1.5 MiB. Members refuse larger requests.
inline constexpr size_t kDefaultMaxFrameBytes = 3 * 512 * 1024;
// The limit on one answer a client accepts. Answers may be far larger than any request: a range
// over many values, a watch event with its previous value, a snapshot chunk that holds a large
// record. At the request limit, the client dropped the connection on such an answer, failing
// every other request on it, and a watcher resumed at the same event and failed again for good.
inline constexpr size_t kMaxAnswerFrameBytes = 64 << 20;

// Appends `payload` as one frame to `out`.
void AppendFrame(std::string* out, std::string_view payload);
// Appends the header of a frame whose `payload_bytes` the caller appends next (to serialize a
// message straight into `out` rather than into a string of its own first).
void AppendFrameHeader(std::string* out, size_t payload_bytes);

class FrameDecoder {
 public:
  explicit FrameDecoder(size_t max_frame_bytes = kDefaultMaxFrameBytes)
      : max_frame_bytes_(max_frame_bytes) {}

  void Append(std::string_view bytes) { buffer_.append(bytes); }
  // The next complete frame's payload; nullopt until one is complete; kTooLarge (and the stream
  // is unusable from then on) when a frame announces more than the limit.
  Result<std::optional<std::string>> Next();
  size_t buffered() const { return buffer_.size() - consumed_; }

 private:
  size_t max_frame_bytes_;
  std::string buffer_;
  size_t consumed_ = 0;
};

}  // namespace pharos
