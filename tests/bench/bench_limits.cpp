// bench_limits: the physical limits that benchmark figures are printed beside
// (TESTING.md, "Benchmarks"), measured on this machine in this run:
//
//   ed25519_verify  signature checks/s on one core: core::crypto::verify
//                   (libsodium) over real block headers' signing bytes
//   ed25519_verify_all_cores
//                   the same on every hardware thread at once (one
//                   std::thread each, same messages): the sum of their rates
//   handshake       the cryptography of one authenticated handshake
//                   (libcore/p2p/handshake): the responder signs its Hello
//                   (BLAKE2b-256 transcript + Ed25519 sign) and verifies the
//                   HelloAck; the initiator verifies the reply and signs the
//                   HelloAck. Per second for both sides (2 signs + 2
//                   verifies) and for the responder's side alone (what a
//                   node does per inbound handshake), on one core and on
//                   all cores
//   rocksdb_batch   WriteBatches/s shaped like one accepted block (block,
//                   header, main-index and tip Puts into four column
//                   families), with the chain store's WriteOptions
//   blake2b256      BLAKE2b-256 hashes/s of one encoded block header
//
// Each runs for about --seconds after a short warm-up. It never fails on a
// time: exit 1 only when a measurement cannot run (RocksDB cannot open its
// temporary directory, a signature that must verify does not), 2 on usage.
//
//   bench_limits [--json] [--seconds S] [--tmp DIR] [--threads N]

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "libcore/chain/block.hpp"
#include "libcore/crypto/hash.hpp"
#include "libcore/crypto/keys.hpp"
#include "libcore/p2p/handshake.hpp"
#include "libcore/store/chain_store.hpp"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr const char* kTool = "bench_limits";
constexpr int kOk = 0, kFailure = 1, kUsage = 2;

// Distinct forged blocks the measurements cycle through, so values differ
// the way real blocks do (RocksDB compresses repeated bytes).
constexpr std::size_t kPoolSize = 4096;
// The clock is read once per this many operations; even the cheapest
// operation (one hash, ~0.5 us) makes that negligible.
constexpr std::uint64_t kOpsPerClockRead = 64;
// Warm-up before each measurement (CPU frequency, caches, memtable), as a
// fraction of --seconds.
constexpr double kWarmupFraction = 0.1;
// Timestamps of the forged pool: 2026-01-01T00:00:00Z, one block a second.
constexpr std::int64_t kPoolStartMs = 1'767'225'600'000;
constexpr std::int64_t kPoolBlockMs = 1000;

volatile std::uint8_t g_observed = 0;

struct Settings {
  bool json = false;
  unsigned threads = 0;  // 0: std::thread::hardware_concurrency()
  double seconds = 1.0;
  fs::path tmp;  // parent of RocksDB's temporary directory; empty: the system's
};

struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Measurement {
  std::uint64_t ops = 0;
  double seconds = 0;
  double per_second() const { return seconds > 0 ? static_cast<double>(ops) / seconds : 0; }
};

// Runs `op(i)` for i = 0, 1, ... until `seconds` have passed, after a warm-up
// that is not counted.
template <class Op>
Measurement measure(double seconds, Op&& op) {
  auto run_for = [&](double s, std::uint64_t first) {
    const auto start = Clock::now();
    const auto until = start + std::chrono::duration<double>(s);
    std::uint64_t i = first;
    auto now = start;
    do {
      for (std::uint64_t k = 0; k < kOpsPerClockRead; ++k) op(i++);
      now = Clock::now();
    } while (now < until);
    return Measurement{i - first, std::chrono::duration<double>(now - start).count()};
  };
  auto warm = run_for(seconds * kWarmupFraction, 0);
  return run_for(seconds, warm.ops);
}

// A chain of real signed blocks on top of a zero parent, by one fresh key.
std::vector<core::chain::Block> forge_pool() {
  const auto key = core::crypto::KeyPair::generate();
  std::vector<core::chain::Block> pool;
  pool.reserve(kPoolSize);
  core::chain::BlockHeader parent;
  for (std::size_t i = 0; i < kPoolSize; ++i) {
    const auto timestamp_ms = kPoolStartMs + kPoolBlockMs * static_cast<std::int64_t>(i);
    pool.push_back(core::chain::make_block(parent, parent.slot + 1, timestamp_ms, key));
    parent = pool.back().header;
  }
  return pool;
}

struct SignedInput {
  core::crypto::PublicKey key;
  core::codec::Bytes message;
  core::crypto::Signature signature;
};

std::vector<SignedInput> verify_inputs(const std::vector<core::chain::Block>& pool) {
  std::vector<SignedInput> inputs;
  inputs.reserve(pool.size());
  for (const auto& b : pool) inputs.push_back({b.header.producer, b.header.signing_bytes(), b.header.signature});
  return inputs;
}

Measurement bench_verify(const std::vector<core::chain::Block>& pool, double seconds) {
  const auto inputs = verify_inputs(pool);
  std::uint64_t bad = 0;
  auto m = measure(seconds, [&](std::uint64_t i) {
    const auto& in = inputs[i % inputs.size()];
    bad += !core::crypto::verify(in.key, core::chain::kHeaderSignDomain, in.message, in.signature);
  });
  // Every signature is good: anything else is a bug, and would mean the rate
  // measured the cheap rejection path.
  if (bad != 0) throw Failure("a forged header's signature did not verify");
  return m;
}

// The same measurement on `threads` threads at once: each builds its own
// operation with make_op() (no shared mutable state), they start together
// at a barrier (each then warms up and measures), and the result is the sum
// of their operations over the longest thread's time (a lower bound on the
// combined rate).
template <class MakeOp>
Measurement measure_threads(unsigned threads, double seconds, MakeOp&& make_op) {
  std::vector<Measurement> results(threads);
  std::barrier start(static_cast<std::ptrdiff_t>(threads));
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      auto op = make_op(t);
      start.arrive_and_wait();
      results[t] = measure(seconds, op);
    });
  for (auto& th : pool) th.join();
  Measurement sum;
  for (const auto& r : results) {
    sum.ops += r.ops;
    sum.seconds = std::max(sum.seconds, r.seconds);
  }
  return sum;
}

// ed25519_verify on every thread at once, each over the same messages.
Measurement bench_verify_all(const std::vector<core::chain::Block>& pool, double seconds, unsigned threads) {
  const auto inputs = verify_inputs(pool);
  std::atomic<std::uint64_t> bad{0};
  auto m = measure_threads(threads, seconds, [&](unsigned t) {
    return [&, i0 = std::uint64_t{t} * 977](std::uint64_t i) {
      const auto& in = inputs[(i + i0) % inputs.size()];
      if (!core::crypto::verify(in.key, core::chain::kHeaderSignDomain, in.message, in.signature))
        bad.fetch_add(1, std::memory_order_relaxed);
    };
  });
  if (bad != 0) throw Failure("a forged header's signature did not verify (all cores)");
  return m;
}

// Two parties of a handshake, with the Hellos a node and a probe exchange.
struct HandshakeParties {
  core::crypto::KeyPair initiator_key = core::crypto::KeyPair::generate();
  core::crypto::KeyPair responder_key = core::crypto::KeyPair::generate();
  core::p2p::Hello initiator, responder;

  HandshakeParties() {
    auto fill = [](core::p2p::Hello& h, const core::crypto::KeyPair& k) {
      h.network = "testnet";
      h.genesis_hash = core::crypto::blake2b256(core::codec::Bytes{1, 2, 3});
      h.node_id = k.public_key();
      h.listen_port = 24100;
      h.best_height = 100000;
      h.best_hash = core::crypto::blake2b256(core::codec::Bytes{4, 5, 6});
      h.session_nonce = core::p2p::new_session_nonce();
      h.user_agent = "tnode/bench";
    };
    fill(initiator, initiator_key);
    fill(responder, responder_key);
    responder.ack_nonce = initiator.session_nonce;
  }
};

// One whole handshake's cryptography (both sides) when `both`, else the
// responder's side only (the initiator's signatures are made once, up front).
std::function<void(std::uint64_t)> handshake_op(bool both, std::atomic<std::uint64_t>& bad) {
  auto p = std::make_shared<HandshakeParties>();
  auto reply = p->responder;
  core::p2p::sign_responder_hello(reply, p->responder_key);
  const auto ack = core::p2p::make_hello_ack(p->initiator, reply, p->initiator_key);
  return [p, ack, both, &bad](std::uint64_t i) {
    auto r = p->responder;
    r.best_height = i;  // a fresh transcript each time
    core::p2p::sign_responder_hello(r, p->responder_key);
    if (both) {
      if (!core::p2p::verify_responder_hello(r, p->initiator)) bad.fetch_add(1, std::memory_order_relaxed);
      const auto a = core::p2p::make_hello_ack(p->initiator, r, p->initiator_key);
      if (!core::p2p::verify_hello_ack(a, p->initiator, r)) bad.fetch_add(1, std::memory_order_relaxed);
    } else {
      // The ack signs the initiator's Hello and the responder's nonce,
      // which is the same each time here: the verify costs the same.
      if (!core::p2p::verify_hello_ack(ack, p->initiator, r)) bad.fetch_add(1, std::memory_order_relaxed);
    }
  };
}

struct HandshakeLimits {
  Measurement both_one, both_all, responder_one, responder_all;
};

HandshakeLimits bench_handshake(double seconds, unsigned threads) {
  std::atomic<std::uint64_t> bad{0};
  HandshakeLimits h;
  h.both_one = measure(seconds, handshake_op(true, bad));
  h.both_all = measure_threads(threads, seconds, [&](unsigned) { return handshake_op(true, bad); });
  h.responder_one = measure(seconds, handshake_op(false, bad));
  h.responder_all = measure_threads(threads, seconds, [&](unsigned) { return handshake_op(false, bad); });
  if (bad != 0) throw Failure("a handshake signature did not verify");
  return h;
}

Measurement bench_hash(const std::vector<core::chain::Block>& pool, double seconds) {
  std::vector<core::codec::Bytes> headers;
  headers.reserve(pool.size());
  for (const auto& b : pool) headers.push_back(core::chain::encode(b.header));
  std::uint8_t sink = 0;
  auto m = measure(seconds,
                   [&](std::uint64_t i) { sink ^= core::crypto::blake2b256(headers[i % headers.size()]).bytes[0]; });
  g_observed = sink;  // the hashes are used, so they cannot be optimised away
  return m;
}

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

void check(const rocksdb::Status& s, const std::string& what) {
  if (!s.ok()) throw Failure("rocksdb: " + what + ": " + s.ToString());
}

// A RocksDB database in a fresh temporary directory, opened like the chain
// store opens its own; closed and removed on destruction.
class TempDb {
 public:
  static constexpr const char* kColumns[] = {"blocks", "headers", "main", "meta"};

  explicit TempDb(const fs::path& parent) {
    std::string pattern = (parent / "bench_limits.XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw Failure("cannot create a temporary directory in " + parent.string());
    dir_ = pattern;
    rocksdb::DBOptions options;
    options.create_if_missing = true;
    options.create_missing_column_families = true;
    options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
    options.keep_log_file_num = 2;
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions());
    for (const char* name : kColumns) descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
    rocksdb::DB* raw = nullptr;
    check(rocksdb::DB::Open(options, dir_.string(), descriptors, &handles_, &raw), "open " + dir_.string());
    db_.reset(raw);
  }
  ~TempDb() {
    for (auto* h : handles_)
      if (db_ && h) db_->DestroyColumnFamilyHandle(h);
    if (db_) db_->Close();
    db_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  TempDb(const TempDb&) = delete;
  TempDb& operator=(const TempDb&) = delete;

  rocksdb::DB& db() { return *db_; }
  // i-th of kColumns (handles_[0] is the default family).
  rocksdb::ColumnFamilyHandle* cf(std::size_t i) { return handles_[i + 1]; }

 private:
  fs::path dir_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::unique_ptr<rocksdb::DB> db_;
};

struct BatchShape {
  std::size_t puts = 4;
  std::size_t bytes = 0;  // keys and values of one batch
  bool sync = false;
};

// What ChainStore::accept_block writes for a block that extends the tip:
// blocks[hash] = block, headers[hash] = header, main[height] = hash,
// meta["tip"] = hash, in one batch.
Measurement bench_batch(const std::vector<core::chain::Block>& pool, const fs::path& tmp, double seconds,
                        BatchShape& shape) {
  std::vector<std::string> blocks, headers;
  for (const auto& b : pool) {
    auto block = core::chain::encode(b);
    auto header = core::chain::encode(b.header);
    blocks.emplace_back(block.begin(), block.end());
    headers.emplace_back(header.begin(), header.end());
  }
  TempDb db(tmp);
  // The store's own default: a benchmark of the store uses its defaults.
  shape.sync = core::store::OpenOptions{}.sync_writes;
  rocksdb::WriteOptions write_options;
  write_options.sync = shape.sync;
  const std::string tip_key = "tip";
  const std::size_t hash_size = core::crypto::Hash32::kSize;
  shape.bytes =
      hash_size + blocks[0].size() + hash_size + headers[0].size() + 8 + hash_size + tip_key.size() + hash_size;
  std::string hash(hash_size, '\0');
  return measure(seconds, [&](std::uint64_t i) {
    // A unique, random-looking 32-byte key per block, as real hashes are.
    for (std::size_t w = 0; w < hash_size / 8; ++w) {
      const auto x = splitmix64(i * 4 + w);
      for (std::size_t b = 0; b < 8; ++b) hash[w * 8 + b] = static_cast<char>(x >> (8 * b));
    }
    const auto& block = blocks[i % blocks.size()];
    const auto& header = headers[i % headers.size()];
    rocksdb::WriteBatch batch;
    batch.Put(db.cf(0), hash, block);
    batch.Put(db.cf(1), hash, header);
    batch.Put(db.cf(2), core::store::height_key(i + 1), hash);
    batch.Put(db.cf(3), tip_key, hash);
    check(db.db().Write(write_options, &batch), "write batch");
  });
}

std::string fixed(double v, int digits) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(digits) << v;
  return out.str();
}

int run(const Settings& s) {
  core::crypto::init();
  const auto pool = forge_pool();
  const auto header_bytes = core::chain::encode(pool[0].header).size();
  const auto message_bytes = pool[0].header.signing_bytes().size();
  const auto block_bytes = core::chain::encode(pool[0]).size();

  const unsigned threads = s.threads ? s.threads : std::max(1u, std::thread::hardware_concurrency());
  const auto verify = bench_verify(pool, s.seconds);
  const auto verify_all = bench_verify_all(pool, s.seconds, threads);
  const auto hs = bench_handshake(s.seconds, threads);
  BatchShape shape;
  const auto batch = bench_batch(pool, s.tmp.empty() ? fs::temp_directory_path() : s.tmp, s.seconds, shape);
  const auto hash = bench_hash(pool, s.seconds);

  if (s.json) {
    auto entry = [](const Measurement& m) {
      return nlohmann::json{{"per_s", m.per_second()}, {"ops", m.ops}, {"seconds", m.seconds}};
    };
    auto j =
        nlohmann::json{{"ed25519_verify", entry(verify)}, {"rocksdb_batch", entry(batch)}, {"blake2b256", entry(hash)}};
    j["ed25519_verify"]["message_bytes"] = message_bytes;
    j["rocksdb_batch"]["puts"] = shape.puts;
    j["rocksdb_batch"]["bytes"] = shape.bytes;
    j["rocksdb_batch"]["block_bytes"] = block_bytes;
    j["rocksdb_batch"]["header_bytes"] = header_bytes;
    j["rocksdb_batch"]["sync"] = shape.sync;
    j["blake2b256"]["input_bytes"] = header_bytes;
    j["ed25519_verify_all_cores"] = entry(verify_all);
    j["ed25519_verify_all_cores"]["threads"] = threads;
    j["ed25519_verify_all_cores"]["message_bytes"] = message_bytes;
    j["handshake"] = entry(hs.both_one);
    j["handshake"]["signs"] = 2;
    j["handshake"]["verifies"] = 2;
    j["handshake"]["per_s_all_cores"] = hs.both_all.per_second();
    j["handshake"]["responder_per_s"] = hs.responder_one.per_second();
    j["handshake"]["responder_per_s_all_cores"] = hs.responder_all.per_second();
    j["handshake"]["threads"] = threads;
    std::cout << j.dump(2) << "\n";
    return kOk;
  }
  struct Row {
    const char* name;
    const Measurement& m;
    std::string what;
  };
  const Row rows[] = {
      {"ed25519 verify", verify,
       "1 core, libsodium via core::crypto::verify, " + std::to_string(message_bytes) + "-byte header message"},
      {"rocksdb batch", batch,
       std::to_string(shape.puts) + " Puts, " + std::to_string(shape.bytes) +
           " bytes, 4 CFs, sync=" + (shape.sync ? "true" : "false")},
      {"blake2b-256", hash, std::to_string(header_bytes) + "-byte header"},
      {"ed25519 verify*", verify_all, std::to_string(threads) + " threads at once, same messages"},
      {"handshake", hs.both_one, "1 core, both sides: 2 signs + 2 verifies + transcript hashes"},
      {"handshake*", hs.both_all, std::to_string(threads) + " threads, both sides"},
      {"handshake resp.", hs.responder_one, "1 core, the responder's side: 1 sign + 1 verify"},
      {"handshake resp.*", hs.responder_all, std::to_string(threads) + " threads, the responder's side"},
  };
  std::cout << std::left << std::setw(16) << "limit" << std::right << std::setw(14) << "per second" << std::setw(12)
            << "ops" << std::setw(9) << "seconds" << std::setw(10) << "us/op"
            << "  what\n";
  for (const auto& r : rows)
    std::cout << std::left << std::setw(16) << r.name << std::right << std::setw(14) << fixed(r.m.per_second(), 0)
              << std::setw(12) << r.m.ops << std::setw(9) << fixed(r.m.seconds, 2) << std::setw(10)
              << fixed(1e6 / r.m.per_second(), 2) << "  " << r.what << "\n";
  return kOk;
}

int usage(const std::string& message) {
  std::cerr << kTool << ": " << message << "\nusage: " << kTool
            << " [--json] [--seconds S] [--tmp DIR] [--threads N]\n";
  return kUsage;
}

}  // namespace

int main(int argc, char** argv) {
  Settings s;
  const std::vector<std::string> args(argv + 1, argv + argc);
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto& a = args[i];
    const bool has_value = i + 1 < args.size();
    if (a == "-h" || a == "--help") {
      std::cout << "bench_limits: Ed25519 verify/s (one core, all cores), handshake crypto/s, RocksDB block-shaped "
                   "batch/s and "
                   "BLAKE2b-256 hash/s, measured now\n"
                << "usage: " << kTool << " [--json] [--seconds S] [--tmp DIR] [--threads N]\n"
                << "  --json        machine-readable output\n"
                << "  --seconds S   time per measurement (default 1)\n"
                << "  --tmp DIR     where RocksDB's temporary directory goes (default: the system's)\n"
                << "  --threads N   threads of the all-cores figures (default: hardware threads)\n";
      return kOk;
    } else if (a == "--json") {
      s.json = true;
    } else if (a == "--seconds" && has_value) {
      char* end = nullptr;
      s.seconds = std::strtod(args[++i].c_str(), &end);
      if (*end != '\0' || !(s.seconds > 0 && s.seconds <= 3600))
        return usage("--seconds wants a number of seconds in (0, 3600], not '" + args[i] + "'");
    } else if (a == "--threads" && has_value) {
      char* end = nullptr;
      const long n = std::strtol(args[++i].c_str(), &end, 10);
      if (*end != '\0' || n < 1 || n > 1024)
        return usage("--threads wants a number in [1, 1024], not '" + args[i] + "'");
      s.threads = static_cast<unsigned>(n);
    } else if (a == "--tmp" && has_value) {
      s.tmp = args[++i];
    } else {
      return usage("unknown or incomplete argument '" + a + "'");
    }
  }
  try {
    return run(s);
  } catch (const Failure& e) {
    std::cerr << kTool << ": " << e.what() << "\n";
    return kFailure;
  } catch (const std::exception& e) {  // e.g. a thread that cannot be started
    std::cerr << kTool << ": " << e.what() << "\n";
    return kFailure;
  }
}
