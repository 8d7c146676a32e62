#pragma once
// Shared helpers of the unit tests: temporary directories that clean up after
// themselves, deterministic keys, a small valid genesis, forged chains.

#include <catch2/catch.hpp>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include <unistd.h>

#include <spdlog/spdlog.h>

#include "libcore/chain/block.hpp"
#include "libcore/chain/genesis.hpp"
#include "libcore/crypto/keys.hpp"
#include "libcore/store/chain_store.hpp"
#include "libcore/util/error.hpp"
#include "tools/forge.hpp"

namespace test {

namespace fs = std::filesystem;

// Turns the default logger off for the lifetime of the object (code under
// test that logs at info, e.g. sync progress), then restores its level.
class QuietLogs {
 public:
  QuietLogs() : level_(spdlog::get_level()) { spdlog::set_level(spdlog::level::off); }
  ~QuietLogs() { spdlog::set_level(level_); }
  QuietLogs(const QuietLogs&) = delete;
  QuietLogs& operator=(const QuietLogs&) = delete;

 private:
  spdlog::level::level_enum level_;
};

// A fresh directory under the system temp dir, removed with everything in it
// when the object goes out of scope (also when a REQUIRE fails).
class TempDir {
 public:
  TempDir() {
    static std::atomic<unsigned> counter{0};
    std::random_device rd;
    path_ = fs::temp_directory_path() /
            ("tnode-unit-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" + std::to_string(rd()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

// Sets an environment variable for the lifetime of the object, then restores it.
class EnvGuard {
 public:
  EnvGuard(std::string name, const char* value) : name_(std::move(name)) {
    if (const char* old = std::getenv(name_.c_str())) old_ = old;
    if (value)
      ::setenv(name_.c_str(), value, 1);
    else
      ::unsetenv(name_.c_str());
  }
  ~EnvGuard() {
    if (old_)
      ::setenv(name_.c_str(), old_->c_str(), 1);
    else
      ::unsetenv(name_.c_str());
  }
  EnvGuard(const EnvGuard&) = delete;
  EnvGuard& operator=(const EnvGuard&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

inline void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  REQUIRE(out.good());
}

inline std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The error message of a failed result; fails the test when it succeeded.
template <typename T, typename E>
std::string error_of(const tl::expected<T, E>& r) {
  REQUIRE_FALSE(r.has_value());
  if constexpr (std::is_same_v<E, core::util::Error>)
    return r.error().message;
  else
    return r.error().message();
}

// A key determined by one byte, so tests are reproducible.
inline core::crypto::KeyPair key(std::uint8_t n) {
  core::crypto::Seed seed;
  seed.bytes.fill(n);
  seed.bytes[0] = 0xA5;  // never all zeros
  return core::crypto::KeyPair::from_seed(seed);
}

inline std::vector<core::crypto::KeyPair> keys(std::size_t count, std::uint8_t first = 1) {
  std::vector<core::crypto::KeyPair> out;
  for (std::size_t i = 0; i < count; ++i) out.push_back(key(static_cast<std::uint8_t>(first + i)));
  return out;
}

// 2026-01-01T00:00:00Z: far enough in the past for any slot the tests use
// with a 1 s block time.
inline constexpr std::int64_t kGenesisMs = 1'767'225'600'000;

inline core::chain::GenesisSpec make_spec(const std::vector<core::crypto::KeyPair>& producers,
                                          const std::string& network = "unittest", std::int64_t block_time_ms = 1000,
                                          std::int64_t timestamp_ms = kGenesisMs) {
  core::chain::GenesisSpec spec;
  spec.network = network;
  spec.timestamp_ms = timestamp_ms;
  spec.block_time_ms = block_time_ms;
  for (std::size_t i = 0; i < producers.size(); ++i)
    spec.masternodes.push_back(core::chain::Masternode{"mn" + std::to_string(i + 1), producers[i].public_key(),
                                                       "10.0.0." + std::to_string(i + 1) + ":24100"});
  return spec;
}

inline forge::KeyRing ring(const std::vector<core::crypto::KeyPair>& producers) {
  forge::KeyRing out;
  for (const auto& k : producers) out.emplace(k.public_key(), k);
  return out;
}

// `count` valid blocks on top of `parent`, starting at `first_slot` (0: the
// slot after the parent's).
inline std::vector<core::chain::Block> forge_blocks(const core::chain::GenesisSpec& spec, const forge::KeyRing& keys,
                                                    const core::chain::BlockHeader& parent, std::uint64_t count,
                                                    std::uint64_t first_slot = 0) {
  forge::ForgeOptions options;
  options.count = count;
  options.first_slot = first_slot;
  auto blocks = forge::forge_chain(spec, keys, parent, options);
  INFO((blocks ? std::string() : blocks.error().message));
  REQUIRE(blocks.has_value());
  REQUIRE(blocks->size() == count);
  return *blocks;
}

// A chain store for `spec` created at `path` (REQUIREs that it opens).
inline std::unique_ptr<core::store::ChainStore> open_store(const fs::path& path, const core::chain::GenesisSpec& spec) {
  core::store::OpenOptions o;
  o.path = path;
  o.genesis = spec;
  auto s = core::store::ChainStore::open(o);
  INFO((s ? std::string() : s.error().message));
  REQUIRE(s.has_value());
  return std::move(*s);
}

}  // namespace test
