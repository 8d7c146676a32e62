#include "libcore/crypto/keys.hpp"

#include <sodium.h>
#include <sys/stat.h>

#include <cstdio>
#include <vector>

#include "libcore/util/files.hpp"

namespace core::crypto {

static_assert(crypto_sign_SEEDBYTES == 32 && crypto_sign_PUBLICKEYBYTES == 32 && crypto_sign_SECRETKEYBYTES == 64 &&
              crypto_sign_BYTES == 64);

KeyPair KeyPair::generate() {
  Seed seed;
  randombytes_buf(seed.data(), seed.kSize);
  return from_seed(seed);
}

KeyPair KeyPair::from_seed(const Seed& seed) {
  KeyPair k;
  k.seed_ = seed;
  crypto_sign_seed_keypair(k.public_.data(), k.secret_.data(), seed.data());
  return k;
}

namespace {
std::vector<std::uint8_t> domain_message(std::string_view domain, std::span<const std::uint8_t> message) {
  std::vector<std::uint8_t> m;
  m.reserve(domain.size() + 1 + message.size());
  m.insert(m.end(), domain.begin(), domain.end());
  m.push_back(0);  // the domain can never run into the message
  m.insert(m.end(), message.begin(), message.end());
  return m;
}
}  // namespace

Signature KeyPair::sign(std::string_view domain, std::span<const std::uint8_t> message) const {
  auto m = domain_message(domain, message);
  Signature sig;
  crypto_sign_detached(sig.data(), nullptr, m.data(), m.size(), secret_.data());
  return sig;
}

bool verify(const PublicKey& key, std::string_view domain, std::span<const std::uint8_t> message,
            const Signature& signature) {
  auto m = domain_message(domain, message);
  return crypto_sign_verify_detached(signature.data(), m.data(), m.size(), key.data()) == 0;
}

namespace {
// A key file's one line, without its line end or trailing blanks.
std::string_view key_file_line(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.remove_suffix(1);
  return s;
}
}  // namespace

bool looks_like_key_file(std::string_view text) { return Seed::from_hex(key_file_line(text)).has_value(); }

util::Result<KeyPair> load_key_file(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return util::fail(path.string() + ": key file not found");
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return util::fail(path.string() + ": key file is readable by others (mode " + mode +
                      "); refusing to use it. Fix with: chmod 600 " + path.string());
  }
  auto text = util::read_file(path, 4096);
  if (!text) return tl::unexpected(text.error());
  auto seed = Seed::from_hex(key_file_line(*text));
  if (!seed)
    return util::fail(path.string() + ": not a key file (" + seed.error().message +
                      "; expected one line of 64 hex digits)");
  return KeyPair::from_seed(*seed);
}

util::Result<void> save_key_file(const std::filesystem::path& path, const KeyPair& key) {
  return util::write_file_atomic(path, key.seed().hex() + "\n", 0600, /*overwrite=*/false);
}

util::Result<KeyPair> load_or_create_key_file(const std::filesystem::path& path, bool* created) {
  std::error_code ec;
  const bool exists = std::filesystem::exists(path, ec);
  if (created) *created = !exists;
  if (exists) return load_key_file(path);
  auto key = KeyPair::generate();
  if (auto saved = save_key_file(path, key); !saved) return tl::unexpected(saved.error());
  return key;
}

}  // namespace core::crypto
