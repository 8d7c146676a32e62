#pragma once
// BLAKE2b-256 (libsodium crypto_generichash).

#include <span>
#include <string_view>

#include "libcore/crypto/types.hpp"

namespace core::crypto {

// Must run once before any other crypto call (sodium_init). Idempotent and
// thread-safe; aborts the process if libsodium cannot initialise.
void init();

Hash32 blake2b256(std::span<const std::uint8_t> data);
Hash32 blake2b256(std::string_view data);

// Incremental hashing over several pieces.
class Hasher {
 public:
  Hasher();
  Hasher& update(std::span<const std::uint8_t> data);
  Hasher& update(std::string_view data);
  Hash32 finish();

 private:
  alignas(64) unsigned char state_[384];
};

}  // namespace core::crypto
