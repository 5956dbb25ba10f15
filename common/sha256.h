// Sha256: an incremental SHA-256 (libcrypto underneath), for the checksum that travels with a
// snapshot from the member that streams it to the file an operator keeps. Single-threaded object.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace pharos {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(std::string_view bytes);
  // The 32-byte digest of everything updated so far; the object is spent afterwards.
  std::string Final();

  static std::string Of(std::string_view bytes);

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

// Lower-case hex of `bytes` (a digest as people read it).
std::string HexOf(std::string_view bytes);

}  // namespace pharos
