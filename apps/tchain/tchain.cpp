#include "tchain/tchain.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <functional>
#include <iostream>
#include <map>
#include <set>

#include "libcore/crypto/hash.hpp"
#include "libcore/node/peer_store.hpp"
#include "libcore/p2p/peer_records.hpp"
#include "libcore/store/block_json.hpp"
#include "libcore/store/chain_file.hpp"
#include "libcore/store/chain_store.hpp"
#include "libcore/store/verify.hpp"
#include "libcore/util/files.hpp"
#include "libcore/util/time.hpp"
#include "libcore/util/units.hpp"
#include "libcore/util/worker_pool.hpp"

namespace tchain {

namespace {

namespace fs = std::filesystem;
using core::store::ChainStore;
using nlohmann::json;

constexpr const char* kTool = "tchain";

int usage_error(const std::string& m) { return app::report_error(kTool, m, app::kUsage); }
int failure(const std::string& m) { return app::report_error(kTool, m, app::kFailure); }

// Blocks import reads and checks together (verify batches in libcore/store/verify.cpp).
constexpr std::size_t kImportBatch = 1024;

// Opens the store named by --data-dir/--config read-only; on failure prints
// the error and sets `code`.
std::unique_ptr<ChainStore> open_read_only(const fs::path& path, int& code) {
  core::store::OpenOptions options;
  options.path = path;
  options.mode = core::store::OpenMode::ReadOnly;
  auto store = ChainStore::open(options);
  if (!store) {
    code = failure(store.error().message);
    return nullptr;
  }
  return std::move(*store);
}

std::unique_ptr<ChainStore> open_settings_store(const Settings& s, int& code) {
  auto where = app::resolve_store(s.store);
  if (!where) {
    code = usage_error(where.error().message);
    return nullptr;
  }
  return open_read_only(where->path, code);
}

using core::store::header_json;
using core::store::producer_name;

int cmd_info(const Settings& s) {
  int code = 0;
  auto store = open_settings_store(s, code);
  if (!store) return code;
  auto tip = store->tip();
  auto tip_header = store->header(tip.hash);
  const auto& g = store->genesis();
  if (s.json) {
    app::print_json({{"store", store->path().string()},
                     {"network", g.network},
                     {"genesis", store->genesis_hash().hex()},
                     {"schema", core::store::kSchemaVersion},
                     {"block_time_ms", g.block_time_ms},
                     {"masternodes", g.masternodes.size()},
                     {"height", tip.height},
                     {"tip", tip.hash.hex()},
                     {"tip_time", core::util::format_rfc3339(tip_header->timestamp_ms)}});
    return app::kOk;
  }
  std::cout << "store       " << store->path().string() << "\n"
            << "network     " << g.network << "\n"
            << "genesis     " << store->genesis_hash().hex() << "\n"
            << "masternodes " << g.masternodes.size() << ", block time "
            << core::util::format_duration(core::util::Millis(g.block_time_ms)) << "\n"
            << "height      " << tip.height << "\n"
            << "tip         " << tip.hash.hex() << "\n"
            << "tip time    " << core::util::format_rfc3339(tip_header->timestamp_ms) << "\n";
  return app::kOk;
}

int cmd_block(const Settings& s) {
  int code = 0;
  auto store = open_settings_store(s, code);
  if (!store) return code;
  auto hash = core::store::find_block(*store, s.block_id);
  if (!hash)
    return hash.error().kind == core::store::BlockIdError::Malformed ? usage_error(hash.error().message)
                                                                     : failure(hash.error().message);
  auto block = store->block(*hash);
  if (!block) return failure("block " + hash->hex() + " is not in the store");
  const auto& h = block->header;
  auto on_main = store->hash_at(h.height);
  bool main_chain = on_main && *on_main == *hash;
  if (s.json) {
    json j = core::store::block_json(*store, *block);
    app::print_json(j);
    return app::kOk;
  }
  std::cout << "hash        " << hash->hex() << (main_chain ? "" : "  (not on the main chain)") << "\n"
            << "height      " << h.height << "\n"
            << "parent      " << h.parent.hex() << "\n"
            << "slot        " << h.slot << "\n"
            << "timestamp   " << core::util::format_rfc3339(h.timestamp_ms) << "\n"
            << "producer    " << producer_name(*store, h.producer) << " " << h.producer.hex() << "\n"
            << "tx_root     " << h.tx_root.hex() << "\n"
            << "signature   " << h.signature.hex() << "\n"
            << "txs         " << block->transactions.size() << "\n";
  for (const auto& tx : block->transactions)
    std::cout << "  coinbase  " << tx.amount << " -> " << tx.to.short_hex() << "\n";
  return app::kOk;
}

int cmd_headers(const Settings& s) {
  int code = 0;
  auto store = open_settings_store(s, code);
  if (!store) return code;
  const auto tip = store->tip().height;
  json rows = json::array();
  for (std::uint64_t h = s.from; h <= tip && h - s.from < s.count; ++h) {
    auto hash = store->hash_at(h);
    auto header = hash ? store->header(*hash) : std::nullopt;
    if (!header) return failure("main index has no header at height " + std::to_string(h));
    if (s.json) {
      json j = header_json(*header);
      j["producer_name"] = producer_name(*store, header->producer);
      rows.push_back(j);
    } else {
      std::cout << h << "  " << hash->hex() << "  slot " << header->slot << "  "
                << core::util::format_rfc3339(header->timestamp_ms) << "  " << producer_name(*store, header->producer)
                << "\n";
    }
  }
  if (s.json) app::print_json(rows);
  return app::kOk;
}

int cmd_verify(const Settings& s) {
  int code = 0;
  auto store = open_settings_store(s, code);
  if (!store) return code;
  app::Progress progress("verifying");
  const auto drift_ms =
      app::resolve_store(s.store).map([](const auto& r) { return r.max_clock_drift_ms; }).value_or(2000);
  core::util::WorkerPool pool(core::util::WorkerPool::default_workers());
  auto report = core::store::verify_store(
      *store, [&](std::uint64_t d, std::uint64_t t) { progress.update(d, t); }, drift_ms, &pool);
  progress.finish();
  if (s.json) {
    json j = {{"ok", report.ok()},
              {"blocks_checked", report.blocks_checked},
              {"height", report.tip.height},
              {"tip", report.tip.hash.hex()}};
    if (report.fault)
      j["fault"] = {{"height", report.fault->height}, {"hash", report.fault->hash}, {"reason", report.fault->reason}};
    app::print_json(j);
  } else if (report.ok()) {
    std::cout << "ok: " << report.blocks_checked << " blocks, tip " << report.tip.height << " " << report.tip.hash.hex()
              << "\n";
  }
  if (report.fault)
    return failure("block at height " + std::to_string(report.fault->height) +
                   (report.fault->hash.empty() ? "" : " (" + report.fault->hash + ")") + ": " + report.fault->reason);
  return app::kOk;
}

int cmd_export(const Settings& s) {
  int code = 0;
  auto store = open_settings_store(s, code);
  if (!store) return code;
  auto writer = core::store::ChainFileWriter::create(s.file, store->genesis());
  if (!writer) return failure(writer.error().message);
  const auto tip = store->tip().height;
  app::Progress progress("exporting");
  app::InterruptFlag interrupt;
  std::uint64_t written = 0;
  for (std::uint64_t h = std::max<std::uint64_t>(1, s.from); h <= tip && !interrupt.signal(); ++h) {
    auto hash = store->hash_at(h);
    auto block = hash ? store->block(*hash) : std::nullopt;
    if (!block) return failure("main index has no block at height " + std::to_string(h));
    if (auto r = writer->append(*block); !r) return failure(r.error().message);
    ++written;
    progress.update(h, tip);
  }
  progress.finish();
  if (const int signo = interrupt.signal()) {
    // Only a complete chain file may carry the name: the .partial goes.
    std::string what = "removed " + writer->partial_path().string();
    if (auto r = writer->abandon(); !r) what = r.error().message;
    return app::report_error(kTool,
                             "interrupted by " + app::InterruptFlag::name(signo) + " after " + std::to_string(written) +
                                 " blocks: " + what + "; " + s.file + " was not written",
                             app::InterruptFlag::exit_code(signo));
  }
  if (auto r = writer->finish(); !r) return failure(r.error().message);
  if (s.json)
    app::print_json({{"file", s.file}, {"blocks", written}, {"height", tip}});
  else
    std::cout << "exported " << written << " blocks (to height " << tip << ") to " << s.file << "\n";
  return app::kOk;
}

int cmd_import(const Settings& s) {
  auto where = app::resolve_store(s.store);
  if (!where) return usage_error(where.error().message);
  auto reader = core::store::ChainFileReader::open(s.file);
  if (!reader) return failure(reader.error().message);
  core::store::OpenOptions options;
  options.path = where->path;
  options.genesis = reader->genesis();
  if (!s.genesis_file.empty()) {
    auto spec = core::chain::load_genesis_file(s.genesis_file);
    if (!spec) return usage_error(spec.error().message);
    if (core::chain::genesis_hash(*spec) != core::chain::genesis_hash(reader->genesis()))
      return failure(s.file + ": the chain file belongs to genesis " +
                     core::chain::genesis_hash(reader->genesis()).hex() + ", not to " + s.genesis_file);
  }
  app::InterruptFlag interrupt;
  auto store = ChainStore::open(options);
  if (!store) return failure(store.error().message);
  app::Progress progress("importing");
  std::uint64_t imported = 0, known = 0, index = 0;
  // Two batches in turn: the pool checks the signatures and bodies of one
  // (on every core) while the store takes the one before it (one write
  // per kMaxBlocksPerBatch blocks).
  struct Batch {
    std::vector<core::chain::Block> blocks;
    std::vector<core::chain::Precheck> checks;
    std::vector<char> ok;
    std::shared_ptr<core::util::WorkerPool::Job> job;
  };
  Batch batches[2];
  core::util::WorkerPool pool(core::util::WorkerPool::default_workers());
  std::optional<std::string> read_error;
  bool end = false;
  auto read = [&](Batch& b) {
    b.blocks.clear();
    while (!end && !read_error && b.blocks.size() < kImportBatch) {
      auto next = reader->next();
      if (!next)
        read_error = next.error().message;
      else if (!*next)
        end = true;
      else
        b.blocks.push_back(std::move(**next));
    }
    b.checks.assign(b.blocks.size(), {});
    b.job = core::chain::start_precheck(b.blocks, b.checks, pool);
  };
  read(batches[0]);
  for (int cur = 0;; cur ^= 1) {
    Batch& b = batches[cur];
    pool.wait(*b.job);
    if (b.blocks.empty()) break;
    read(batches[cur ^ 1]);
    b.ok.resize(b.blocks.size());
    for (std::size_t i = 0; i < b.blocks.size(); ++i) b.ok[i] = b.checks[i].ok();
    auto result = (*store)->accept_blocks(b.blocks, {}, b.ok);
    for (const auto& r : result.results) ++(r.status == core::store::AcceptStatus::AlreadyKnown ? known : imported);
    index += result.results.size();
    if (result.error) {
      pool.wait(*batches[cur ^ 1].job);
      progress.finish();
      const auto& bad = b.blocks[result.results.size()];
      return failure(s.file + ": block " + std::to_string(index + 1) + " (height " + std::to_string(bad.header.height) +
                     ", " + bad.hash().hex() + ") is invalid: " + result.error->message() + " (" +
                     std::to_string(imported) + " blocks imported before it)");
    }
    progress.update(index, 0);
    if (interrupt.signal()) {  // between two atomic batches: the store is consistent
      pool.wait(*batches[cur ^ 1].job);
      break;
    }
  }
  if (read_error && !interrupt.signal()) {
    progress.finish();
    return failure(*read_error + " (" + std::to_string(imported) + " blocks imported before it)");
  }
  progress.finish();
  auto tip = (*store)->tip();
  const int signo = interrupt.signal();
  if (s.json) {
    json j = {{"file", s.file},
              {"imported", imported},
              {"already_known", known},
              {"height", tip.height},
              {"tip", tip.hash.hex()}};
    if (signo) j["interrupted"] = app::InterruptFlag::name(signo);
    app::print_json(j);
  } else {
    std::cout << (signo ? "interrupted: imported " : "imported ") << imported << " blocks (" << known
              << " already known); tip " << tip.height << " " << tip.hash.hex() << "\n";
  }
  if (!signo) return app::kOk;
  return app::report_error(kTool,
                           "interrupted by " + app::InterruptFlag::name(signo) + " after block " +
                               std::to_string(index) + " of " + s.file + ": the store is consistent at height " +
                               std::to_string(tip.height) +
                               " (blocks are imported in atomic batches); run the same import again to resume "
                               "(blocks already in the store are skipped)",
                           app::InterruptFlag::exit_code(signo));
}

int cmd_diff(const Settings& s) {
  int code = 0;
  auto a = open_read_only(app::store_path_of(core::util::expand_home(s.a)), code);
  if (!a) return code;
  auto b = open_read_only(app::store_path_of(core::util::expand_home(s.b)), code);
  if (!b) return code;
  if (a->genesis_hash() != b->genesis_hash())
    return failure("the stores belong to different networks: " + a->genesis_hash().hex() + " ('" +
                   a->genesis().network + "') vs " + b->genesis_hash().hex() + " ('" + b->genesis().network + "')");
  // Main chains agree up to the fork point and differ after it: binary search.
  std::uint64_t lo = 0, hi = std::min(a->tip().height, b->tip().height);
  while (lo < hi) {
    std::uint64_t mid = lo + (hi - lo + 1) / 2;
    if (a->hash_at(mid) == b->hash_at(mid))
      lo = mid;
    else
      hi = mid - 1;
  }
  const auto fork_hash = *a->hash_at(lo);
  const auto ta = a->tip(), tb = b->tip();
  const bool same = ta == tb;
  if (s.json) {
    app::print_json({{"same", same},
                     {"diverged", lo < ta.height && lo < tb.height},
                     {"fork_height", lo},
                     {"fork_hash", fork_hash.hex()},
                     {"a", {{"height", ta.height}, {"tip", ta.hash.hex()}, {"only", ta.height - lo}}},
                     {"b", {{"height", tb.height}, {"tip", tb.hash.hex()}, {"only", tb.height - lo}}}});
    return app::kOk;
  }
  const char* verdict = same              ? "same tip"
                        : lo == tb.height ? "B is a prefix of A (A is ahead)"
                        : lo == ta.height ? "A is a prefix of B (B is ahead)"
                                          : "diverged";
  std::cout << verdict << "\n"
            << "common      " << lo << " " << fork_hash.hex() << "\n"
            << "A           " << ta.height << " " << ta.hash.hex() << " (" << (ta.height - lo)
            << " blocks after the fork point)\n"
            << "B           " << tb.height << " " << tb.hash.hex() << " (" << (tb.height - lo)
            << " blocks after the fork point)\n";
  return app::kOk;
}

}  // namespace

json optional_time(const std::optional<std::int64_t>& ms) {
  return ms ? json(core::util::format_rfc3339(*ms)) : json(nullptr);
}

// The address book the node keeps in the store (`peers`), scores decayed to
// now with the node's score_half_life (--config; 10 min otherwise).
int cmd_peers(const Settings& s) {
  auto where = app::resolve_store(s.store);
  if (!where) return usage_error(where.error().message);
  int code = 0;
  auto store = open_read_only(where->path, code);
  if (!store) return code;
  const auto now_ms = core::util::now_ms();
  core::node::PeerStore records(*store);
  std::vector<core::node::UnreadableRecord> damaged;
  std::set<std::string> banned;
  for (const auto& b : records.bans(damaged))
    if (b.record.until_ms > now_ms) banned.insert(b.record.node_id.hex());
  damaged.clear();  // reported by `tchain bans`
  auto rows = json::array();
  for (const auto& [key, raw, r] : records.addresses(damaged)) {
    const double score = core::node::decayed_score(r, where->score_half_life_ms, now_ms);
    const std::string id = r.node_id ? r.node_id->hex() : "";
    json row = {{"address", r.address},
                {"node_id", r.node_id ? json(id) : json(nullptr)},
                {"class", core::p2p::to_string(r.dial.peer_class)},
                {"source", r.source},
                {"self", r.self},
                {"wrong_network", r.wrong_network},
                {"score", std::round(score * 10) / 10},
                {"attempts", r.dial.attempts},
                {"consecutive_failures", r.dial.consecutive_failures},
                {"total_attempts", r.total_attempts},
                {"total_failures", r.total_failures},
                {"breaker", core::p2p::to_string(core::node::breaker_at(r, now_ms))},
                {"cooldown_ms", r.dial.cooldown.count()},
                {"parked", r.dial.parked},
                {"banned", banned.count(id) > 0},
                {"last_attempt", optional_time(r.last_attempt_ms)},
                {"last_success", optional_time(r.last_success_ms)},
                {"last_error", r.last_error},
                {"recent_attempts_ms", r.recent_attempts_ms}};
    rows.push_back(std::move(row));
  }
  for (const auto& d : damaged)
    std::cerr << "tchain: warning: record " << d.key << " is unreadable: " << d.error << "\n";
  const std::size_t unreadable = damaged.size();
  if (s.json) {
    app::print_json({{"count", rows.size()}, {"unreadable", unreadable}, {"addresses", rows}});
    return app::kOk;
  }
  std::printf("%-22s %-17s %-10s %-7s %6s %5s %5s %-9s %-6s %-6s %s\n", "address", "node id", "class", "source",
              "score", "tries", "fails", "breaker", "parked", "banned", "last error");
  for (const auto& r : rows) {
    const std::string id = r["node_id"].is_null() ? "-" : r["node_id"].get<std::string>().substr(0, 16);
    std::printf("%-22s %-17s %-10s %-7s %6.1f %5llu %5llu %-9s %-6s %-6s %s\n", r["address"].get<std::string>().c_str(),
                id.c_str(), r["class"].get<std::string>().c_str(), r["source"].get<std::string>().c_str(),
                r["score"].get<double>(), static_cast<unsigned long long>(r["total_attempts"].get<std::uint64_t>()),
                static_cast<unsigned long long>(r["total_failures"].get<std::uint64_t>()),
                r["breaker"].get<std::string>().c_str(), r["parked"].get<bool>() ? "yes" : "no",
                r["banned"].get<bool>() ? "yes" : "no", r["last_error"].get<std::string>().c_str());
  }
  std::cout << rows.size() << " addresses\n";
  return app::kOk;
}

// The ban list the node keeps in the store (`bans`); expired bans are not shown.
int cmd_bans(const Settings& s) {
  int code = 0;
  auto store = open_settings_store(s, code);
  if (!store) return code;
  const auto now_ms = core::util::now_ms();
  auto rows = json::array();
  std::vector<core::node::UnreadableRecord> damaged;
  for (const auto& [key, b] : core::node::PeerStore(*store).bans(damaged)) {
    if (b.until_ms <= now_ms) continue;
    rows.push_back({{"node_id", b.node_id.hex()},
                    {"since", core::util::format_rfc3339(b.since_ms)},
                    {"until", core::util::format_rfc3339(b.until_ms)},
                    {"reason", b.reason}});
  }
  for (const auto& d : damaged) std::cerr << "tchain: warning: a ban record is unreadable: " << d.error << "\n";
  if (s.json) {
    app::print_json({{"count", rows.size()}, {"bans", rows}});
    return app::kOk;
  }
  for (const auto& r : rows)
    std::cout << r["node_id"].get<std::string>() << "  since " << r["since"].get<std::string>() << "  until "
              << r["until"].get<std::string>() << "  " << r["reason"].get<std::string>() << "\n";
  std::cout << rows.size() << " active bans\n";
  return app::kOk;
}

int run_tchain(const Settings& s) {
  core::crypto::init();
  static const std::map<std::string, std::function<int(const Settings&)>> kCommands = {
      {"info", cmd_info},     {"block", cmd_block},   {"headers", cmd_headers},
      {"verify", cmd_verify}, {"export", cmd_export}, {"import", cmd_import},
      {"diff", cmd_diff},     {"peers", cmd_peers},   {"bans", cmd_bans}};
  auto it = kCommands.find(s.command);
  if (it == kCommands.end()) return usage_error("unknown command '" + s.command + "'");
  try {
    return it->second(s);
  } catch (const core::store::StoreFailure& e) {
    return failure(e.what());
  }
}

int tchain_main(int argc, char** argv) {
  Settings s;
  CLI::App cli{"tchain: inspect, verify, export, import and compare tnode chain stores", kTool};
  app::add_tool_basics(cli, kTool, s.json);
  app::add_store_location(cli, s.store);

  cli.add_subcommand("info", "Network, genesis, tip height, hash and time");
  auto* block = cli.add_subcommand("block", "Show one block by height (main chain) or hash");
  block->add_option("id", s.block_id, "Height or 64-hex block hash")->required();
  auto* headers = cli.add_subcommand("headers", "List main-chain headers");
  headers->add_option("--from", s.from, "First height")->capture_default_str();
  headers->add_option("--count", s.count, "How many")->capture_default_str();
  cli.add_subcommand("verify", "Check linkage, schedule, signatures and indexes; exit 1 naming the first bad block");
  auto* exp = cli.add_subcommand("export", "Write the main chain to a chain file");
  exp->add_option("file", s.file, "Chain file to write")->required();
  exp->add_option("--from", s.from, "First height (default 1)");
  auto* imp = cli.add_subcommand("import",
                                 "Validate and import a chain file (atomic batches; signatures checked on every core)");
  imp->add_option("file", s.file, "Chain file to read")->required();
  imp->add_option("--genesis", s.genesis_file, "Require the chain file to belong to this genesis.toml");
  auto* diff = cli.add_subcommand("diff", "Fork point of two stores");
  cli.add_subcommand("peers", "The node's address book: class, score, attempts, breaker, parking, ban");
  cli.add_subcommand("bans", "The node's active bans: node id, until, reason");
  diff->add_option("a", s.a, "First data dir (or store dir)")->required();
  diff->add_option("b", s.b, "Second data dir (or store dir)")->required();

  if (auto code = app::parse_cli(cli, argc, argv)) return *code;
  s.command = cli.get_subcommands().front()->get_name();
  return run_tchain(s);
}

}  // namespace tchain
