#include "common/frame.h"

namespace pharos {

void AppendFrameHeader(std::string* out, size_t payload_bytes) {
  const uint32_t n = static_cast<uint32_t>(payload_bytes);
  out->push_back(static_cast<char>(n >> 24));
  out->push_back(static_cast<char>(n >> 16));
  out->push_back(static_cast<char>(n >> 8));
  out->push_back(static_cast<char>(n));
}

void AppendFrame(std::string* out, std::string_view payload) {
  AppendFrameHeader(out, payload.size());
  out->append(payload);
}

Result<std::optional<std::string>> FrameDecoder::Next() {
  if (buffer_.size() - consumed_ < kFrameHeaderBytes) return std::optional<std::string>();
  const auto* p = reinterpret_cast<const unsigned char*>(buffer_.data() + consumed_);
  const size_t n = (size_t{p[0]} << 24) | (size_t{p[1]} << 16) | (size_t{p[2]} << 8) | p[3];
  if (n > max_frame_bytes_) {
    return Status(StatusCode::kTooLarge, "frame of " + std::to_string(n) +
                                             " bytes exceeds the limit of " +
                                             std::to_string(max_frame_bytes_));
  }
  if (buffer_.size() - consumed_ < kFrameHeaderBytes + n) return std::optional<std::string>();
  std::string payload = buffer_.substr(consumed_ + kFrameHeaderBytes, n);
  consumed_ += kFrameHeaderBytes + n;
  // Compact once the consumed prefix dominates, so the buffer does not grow forever.
  if (consumed_ > 64 * 1024 && consumed_ * 2 > buffer_.size()) {
    buffer_.erase(0, consumed_);
    consumed_ = 0;
  }
  return std::optional<std::string>(std::move(payload));
}

}  // namespace pharos
