// libcore/crypto: BLAKE2b-256, Ed25519 keys with domain separation, key files.

#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "libcore/crypto/hash.hpp"
#include "libcore/crypto/keys.hpp"
#include "libcore/crypto/types.hpp"
#include "libcore/util/files.hpp"
#include "libcore/util/hex.hpp"
#include "test_support.hpp"

using Catch::Matchers::Contains;
using core::crypto::Hash32;
using core::crypto::KeyPair;
using core::crypto::PublicKey;
using core::crypto::Seed;
using core::crypto::Signature;
using test::error_of;

namespace fs = std::filesystem;

namespace {
std::vector<std::uint8_t> bytes_of(std::string_view s) { return {s.begin(), s.end()}; }

unsigned mode_of(const fs::path& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return static_cast<unsigned>(st.st_mode & 07777);
}
}  // namespace

// ------------------------------------------------------------------ hashing

TEST_CASE("blake2b256 matches the published BLAKE2b-256 answers", "[unit][crypto]") {
  using core::crypto::blake2b256;
  CHECK(blake2b256(std::string_view("")).hex() == "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");
  CHECK(blake2b256(std::string_view("abc")).hex() ==
        "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319");
}

TEST_CASE("blake2b256 of bytes equals blake2b256 of the same text", "[unit][crypto]") {
  using core::crypto::blake2b256;
  auto abc = bytes_of("abc");
  CHECK(blake2b256(std::span<const std::uint8_t>(abc)) == blake2b256(std::string_view("abc")));
  CHECK(blake2b256(std::span<const std::uint8_t>()) == blake2b256(std::string_view("")));
  CHECK(blake2b256(std::string_view("abc")) != blake2b256(std::string_view("abd")));
  CHECK(blake2b256(std::string_view("abc")) != blake2b256(std::string_view("abc\0", 4)));
}

TEST_CASE("Hasher fed in pieces equals the one-shot hash", "[unit][crypto]") {
  using core::crypto::blake2b256;
  using core::crypto::Hasher;
  CHECK(Hasher().finish() == blake2b256(std::string_view("")));
  CHECK(Hasher().update("a").update("bc").finish().hex() ==
        "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319");

  std::string message;
  for (int i = 0; i < 300; ++i) message.push_back(static_cast<char>('a' + i % 26));
  const auto expected = blake2b256(std::string_view(message));
  // Every split point, with the second half fed as bytes; BLAKE2b's block is 128 bytes.
  for (std::size_t cut = 0; cut <= message.size(); ++cut) {
    INFO("cut at " << cut);
    auto tail = bytes_of(std::string_view(message).substr(cut));
    Hasher h;
    h.update(std::string_view(message).substr(0, cut)).update(std::span<const std::uint8_t>(tail));
    CHECK(h.finish() == expected);
  }
  // Byte by byte, with empty updates mixed in.
  Hasher h;
  for (char c : message) h.update(std::string_view(&c, 1)).update("");
  CHECK(h.finish() == expected);
}

// ------------------------------------------------------------- fixed bytes

TEST_CASE("FixedBytes parses exactly 2N hex digits", "[unit][crypto]") {
  auto h = Hash32::from_hex("0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8").value();
  CHECK(h == core::crypto::blake2b256(std::string_view("")));
  CHECK(h.short_hex() == "0e5751c026e543b2");
  CHECK(Hash32::from_hex(std::string(64, 'F')).value().hex() == std::string(64, 'f'));
  CHECK_THAT(error_of(Hash32::from_hex("abcd")), Contains("expected 64 hex digits, got 4"));
  CHECK_THAT(error_of(Hash32::from_hex(std::string(66, '0'))), Contains("expected 64 hex digits, got 66"));
  CHECK_THAT(error_of(Hash32::from_hex(std::string(63, '0') + "g")), Contains("invalid hex character 'g'"));
  CHECK_THAT(error_of(Signature::from_hex(std::string(64, '0'))), Contains("expected 128 hex digits, got 64"));
}

TEST_CASE("FixedBytes compares bytewise and knows zero", "[unit][crypto]") {
  Hash32 zero;
  CHECK(zero.is_zero());
  CHECK(zero.hex() == std::string(64, '0'));
  Hash32 last;
  last.bytes[31] = 1;
  Hash32 first;
  first.bytes[0] = 1;
  CHECK_FALSE(last.is_zero());
  CHECK(zero < last);
  CHECK(last < first);  // the first byte is most significant
  CHECK(first != last);
  CHECK(Hash32::from_span(first.span()) == first);
}

// --------------------------------------------------------------------- keys

TEST_CASE("KeyPair::from_seed derives the RFC 8032 public key", "[unit][crypto]") {
  // RFC 8032 section 7.1, test 1.
  auto seed = Seed::from_hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60").value();
  auto key = KeyPair::from_seed(seed);
  CHECK(key.public_key().hex() == "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  CHECK(key.seed() == seed);
  CHECK(KeyPair::from_seed(seed).public_key() == key.public_key());
}

TEST_CASE("generated keys are distinct", "[unit][crypto]") {
  std::set<PublicKey> seen;
  for (int i = 0; i < 16; ++i) seen.insert(KeyPair::generate().public_key());
  CHECK(seen.size() == 16);
  auto k = KeyPair::generate();
  CHECK(KeyPair::from_seed(k.seed()).public_key() == k.public_key());
}

TEST_CASE("a signature verifies with its key, domain and message", "[unit][crypto]") {
  auto key = test::key(1);
  auto msg = bytes_of("block header bytes");
  auto sig = key.sign("tnode/test/v1", msg);
  CHECK(core::crypto::verify(key.public_key(), "tnode/test/v1", msg, sig));
  // Ed25519 is deterministic.
  CHECK(key.sign("tnode/test/v1", msg) == sig);
  // An empty message and an empty domain are still signed and checked.
  auto empty_sig = key.sign("", {});
  CHECK(core::crypto::verify(key.public_key(), "", {}, empty_sig));
  CHECK_FALSE(core::crypto::verify(key.public_key(), "x", {}, empty_sig));
}

TEST_CASE("a signature under one domain fails under another", "[unit][crypto]") {
  auto key = test::key(2);
  auto msg = bytes_of("payload");
  auto sig = key.sign("tnode/block-header/v1", msg);
  CHECK(core::crypto::verify(key.public_key(), "tnode/block-header/v1", msg, sig));
  CHECK_FALSE(core::crypto::verify(key.public_key(), "tnode/handshake/v1", msg, sig));
  CHECK_FALSE(core::crypto::verify(key.public_key(), "tnode/block-header/v2", msg, sig));
  CHECK_FALSE(core::crypto::verify(key.public_key(), "", msg, sig));
  // The domain cannot run into the message: ("ab", "c") is not ("a", "bc").
  auto sig_ab = key.sign("ab", bytes_of("c"));
  CHECK(core::crypto::verify(key.public_key(), "ab", bytes_of("c"), sig_ab));
  CHECK_FALSE(core::crypto::verify(key.public_key(), "a", bytes_of("bc"), sig_ab));
  CHECK_FALSE(core::crypto::verify(key.public_key(), "abc", {}, sig_ab));
}

TEST_CASE("a tampered message, signature or key fails verification", "[unit][crypto]") {
  auto key = test::key(3);
  auto msg = bytes_of("the quick brown fox");
  auto sig = key.sign("d", msg);
  for (std::size_t i = 0; i < msg.size(); ++i) {
    auto bad = msg;
    bad[i] ^= 0x01;
    INFO("message byte " << i);
    CHECK_FALSE(core::crypto::verify(key.public_key(), "d", bad, sig));
  }
  auto longer = msg;
  longer.push_back(0);
  CHECK_FALSE(core::crypto::verify(key.public_key(), "d", longer, sig));
  auto shorter = msg;
  shorter.pop_back();
  CHECK_FALSE(core::crypto::verify(key.public_key(), "d", shorter, sig));
  for (std::size_t i = 0; i < Signature::kSize; i += 7) {
    auto bad = sig;
    bad.bytes[i] ^= 0x80;
    INFO("signature byte " << i);
    CHECK_FALSE(core::crypto::verify(key.public_key(), "d", msg, bad));
  }
  CHECK_FALSE(core::crypto::verify(test::key(4).public_key(), "d", msg, sig));
  CHECK_FALSE(core::crypto::verify(key.public_key(), "d", msg, Signature{}));
}

// ---------------------------------------------------------------- key files

TEST_CASE("a saved key file loads back as the same key, mode 0600", "[unit][crypto]") {
  test::TempDir dir;
  auto path = dir / "node.key";
  auto key = test::key(7);
  REQUIRE(core::crypto::save_key_file(path, key).has_value());
  CHECK(mode_of(path) == 0600);
  CHECK(test::read_text(path) == key.seed().hex() + "\n");
  auto loaded = core::crypto::load_key_file(path);
  REQUIRE(loaded.has_value());
  CHECK(loaded->public_key() == key.public_key());
  CHECK(loaded->seed() == key.seed());
  auto msg = bytes_of("m");
  CHECK(core::crypto::verify(key.public_key(), "d", msg, loaded->sign("d", msg)));
}

TEST_CASE("looks_like_key_file knows a key file's one line", "[unit][crypto]") {
  const auto hex = test::key(5).seed().hex();
  CHECK(core::crypto::looks_like_key_file(hex));
  CHECK(core::crypto::looks_like_key_file(hex + "\n"));
  CHECK(core::crypto::looks_like_key_file(hex + "\r\n"));
  CHECK_FALSE(core::crypto::looks_like_key_file(hex.substr(1)));
  CHECK_FALSE(core::crypto::looks_like_key_file("network = \"x\"\n"));
  CHECK_FALSE(core::crypto::looks_like_key_file(""));
}

TEST_CASE("save_key_file never overwrites", "[unit][crypto]") {
  test::TempDir dir;
  auto path = dir / "node.key";
  REQUIRE(core::crypto::save_key_file(path, test::key(1)).has_value());
  auto again = core::crypto::save_key_file(path, test::key(2));
  auto msg = error_of(again);
  CHECK_THAT(msg, Contains(path.string()));
  CHECK_THAT(msg, Contains("already exists"));
  CHECK(core::crypto::load_key_file(path).value().public_key() == test::key(1).public_key());
}

TEST_CASE("a key file readable by others is refused with the mode and the fix", "[unit][crypto]") {
  test::TempDir dir;
  auto path = dir / "node.key";
  REQUIRE(core::crypto::save_key_file(path, test::key(1)).has_value());
  for (auto [mode, text] : {std::pair{fs::perms(0644), "0644"}, std::pair{fs::perms(0640), "0640"},
                            std::pair{fs::perms(0604), "0604"}, std::pair{fs::perms(0666), "0666"}}) {
    INFO(text);
    fs::permissions(path, mode);
    auto msg = error_of(core::crypto::load_key_file(path));
    CHECK_THAT(msg, Contains(path.string()));
    CHECK_THAT(msg, Contains(std::string("mode ") + text));
    CHECK_THAT(msg, Contains("chmod 600 " + path.string()));
  }
  fs::permissions(path, fs::perms(0400));
  CHECK(core::crypto::load_key_file(path).has_value());
}

TEST_CASE("a malformed key file is refused", "[unit][crypto]") {
  test::TempDir dir;
  auto path = dir / "node.key";
  const std::string good = test::key(1).seed().hex();
  const std::string bad_contents[] = {"",
                                      "\n",
                                      "not a key\n",
                                      good.substr(0, 63) + "\n",
                                      good + "0\n",
                                      good + good + "\n",
                                      good.substr(0, 62) + "zz\n",
                                      " " + good + "\n",
                                      good + "\nextra\n"};
  for (const auto& content : bad_contents) {
    INFO("content: '" << content << "'");
    std::error_code ec;
    fs::remove(path, ec);
    REQUIRE(core::util::write_file_atomic(path, content, 0600).has_value());
    auto msg = error_of(core::crypto::load_key_file(path));
    CHECK_THAT(msg, Contains(path.string()));
    CHECK_THAT(msg, Contains("not a key file"));
  }
}

TEST_CASE("a key file tolerates trailing whitespace and upper-case hex", "[unit][crypto]") {
  test::TempDir dir;
  auto path = dir / "node.key";
  auto key = test::key(9);
  std::string hex = key.seed().hex();
  for (char& c : hex) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  REQUIRE(core::util::write_file_atomic(path, hex + " \r\n\n", 0600).has_value());
  CHECK(core::crypto::load_key_file(path).value().public_key() == key.public_key());
}

TEST_CASE("a missing key file is reported as not found", "[unit][crypto]") {
  test::TempDir dir;
  auto msg = error_of(core::crypto::load_key_file(dir / "absent.key"));
  CHECK_THAT(msg, Contains((dir / "absent.key").string()));
  CHECK_THAT(msg, Contains("not found"));
}

TEST_CASE("an oversized key file is refused", "[unit][crypto]") {
  test::TempDir dir;
  auto path = dir / "node.key";
  REQUIRE(core::util::write_file_atomic(path, std::string(5000, 'a'), 0600).has_value());
  CHECK_THAT(error_of(core::crypto::load_key_file(path)), Contains("too large"));
}
