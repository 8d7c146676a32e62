#pragma once
// Ed25519 identities (libsodium). A node's public key is its node id.

#include <filesystem>
#include <span>
#include <string_view>

#include "libcore/crypto/types.hpp"

namespace core::crypto {

using Seed = FixedBytes<32>;

class KeyPair {
 public:
  // A fresh random key.
  static KeyPair generate();
  // The key determined by a 32-byte seed (what key files hold).
  static KeyPair from_seed(const Seed& seed);

  const PublicKey& public_key() const { return public_; }
  const Seed& seed() const { return seed_; }

  // Signs `domain || message`. The domain string separates what a signature
  // may be used for (block headers, handshakes), so one can never be replayed
  // as the other.
  Signature sign(std::string_view domain, std::span<const std::uint8_t> message) const;

 private:
  Seed seed_;
  PublicKey public_;
  FixedBytes<64> secret_;
};

// Verifies a signature made by KeyPair::sign with the same domain.
bool verify(const PublicKey& key, std::string_view domain, std::span<const std::uint8_t> message,
            const Signature& signature);

// Key files hold the 32-byte seed as 64 hex digits on one line, mode 0600.
// Loading refuses a file that group or others can read (naming the path, its
// mode and the fix), a missing file, or malformed content.
util::Result<KeyPair> load_key_file(const std::filesystem::path& path);

// Writes a key file with mode 0600. Never overwrites an existing file.
util::Result<void> save_key_file(const std::filesystem::path& path, const KeyPair& key);

// Loads the key file, or, when there is none, generates a key and saves it
// there (`*created` says which, when given). Only for keys nothing else
// knows yet (a regular node's, a new dev network's): a masternode's key is
// the one its genesis lists, so the node never generates one (node.cpp).
util::Result<KeyPair> load_or_create_key_file(const std::filesystem::path& path, bool* created = nullptr);

// True when `text` is what a key file holds (64 hex digits on one line):
// lets a tool that expected another file say "this is a key file".
bool looks_like_key_file(std::string_view text);

}  // namespace core::crypto
