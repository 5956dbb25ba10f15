// XxHash64: the 64-bit xxHash of a byte string (Yann Collet's XXH64, bit-exact with the reference
// implementation), written out here so the SDK needs no hashing dependency. Consistent hashing
// places ring points and keys with it: it is fast on short keys and its output is uniform enough
// that 160 points per instance give even shares. A pure function; safe from any thread.
#pragma once

#include <cstdint>
#include <string_view>

namespace pharos::client {

uint64_t XxHash64(std::string_view data, uint64_t seed = 0);

}  // namespace pharos::client
