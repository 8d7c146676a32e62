#include "libcore/crypto/hash.hpp"

#include <sodium.h>
#include <cstdio>
#include <cstdlib>

namespace core::crypto {

static_assert(sizeof(crypto_generichash_state) <= 384, "Hasher state buffer too small");

void init() {
  if (sodium_init() < 0) {
    std::fprintf(stderr, "fatal: libsodium failed to initialise\n");
    std::abort();
  }
}

Hash32 blake2b256(std::span<const std::uint8_t> data) {
  Hash32 out;
  crypto_generichash(out.data(), out.kSize, data.data(), data.size(), nullptr, 0);
  return out;
}

Hash32 blake2b256(std::string_view data) {
  return blake2b256(std::span(reinterpret_cast<const std::uint8_t*>(data.data()), data.size()));
}

Hasher::Hasher() { crypto_generichash_init(reinterpret_cast<crypto_generichash_state*>(state_), nullptr, 0, 32); }

Hasher& Hasher::update(std::span<const std::uint8_t> data) {
  crypto_generichash_update(reinterpret_cast<crypto_generichash_state*>(state_), data.data(), data.size());
  return *this;
}

Hasher& Hasher::update(std::string_view data) {
  return update(std::span(reinterpret_cast<const std::uint8_t*>(data.data()), data.size()));
}

Hash32 Hasher::finish() {
  Hash32 out;
  crypto_generichash_final(reinterpret_cast<crypto_generichash_state*>(state_), out.data(), out.kSize);
  return out;
}

}  // namespace core::crypto
