// `tnode init`: a node directory an operator only has to start.
#include <algorithm>
#include <filesystem>
#include <iostream>

#include "libcore/chain/block.hpp"
#include "libcore/chain/genesis.hpp"
#include "libcore/config/node_config.hpp"
#include "libcore/crypto/keys.hpp"
#include "libcore/util/files.hpp"
#include "tnode/tnode.hpp"

namespace tnode {

namespace {

namespace fs = std::filesystem;
using core::util::fail;
using core::util::Result;

constexpr const char* kDefaultDataDir = "~/.local/share/tnode";

// One file init writes, and what it holds.
struct Output {
  fs::path path;
  std::string content;
  unsigned mode = 0644;
};

// `path` as tnode.toml should name it: relative to the config's directory
// when it is inside it, absolute otherwise.
std::string relative_to(const fs::path& path, const fs::path& config_dir) {
  const auto rel = path.lexically_relative(config_dir);
  if (!rel.empty() && *rel.begin() != "..") return rel.string();
  return path.string();
}

// What init will write: the config, and the key and genesis copy when it
// makes them. Checks everything first, so that a refusal writes nothing.
struct Plan {
  core::config::NodeConfig config;
  std::vector<Output> outputs;
  std::optional<core::crypto::KeyPair> key;  // the node's key, when known
  fs::path key_path;
  std::optional<core::chain::GenesisSpec> genesis;
  std::vector<std::string> notes;
};

Result<Plan> make_plan(const InitSettings& s) {
  Plan plan;
  const fs::path data_dir =
      fs::absolute(core::util::expand_home(s.data_dir.empty() ? std::string(kDefaultDataDir) : s.data_dir))
          .lexically_normal();
  const fs::path config_path = s.config.empty() ? data_dir / "tnode.toml" : fs::absolute(s.config).lexically_normal();
  const fs::path config_dir = config_path.parent_path();

  // Shorthands go through the same path as `tnode --set`, so they are
  // checked, and named in errors, the same way.
  std::vector<std::string> sets;
  add_override(sets, "node.role", s.role);
  add_override(sets, "network.listen", s.listen);
  add_override(sets, "network.external_address", s.external_address);
  add_override(sets, "http.listen", s.http_listen);
  add_peers_override(sets, s.peers);
  core::config::NodeConfig c;
  c.base_dir = config_dir;
  c.data_dir = relative_to(data_dir, config_dir);
  if (c.data_dir.empty()) c.data_dir = ".";
  if (!s.genesis_hash.empty()) {
    auto hash = core::crypto::Hash32::from_hex(s.genesis_hash);
    if (!hash) return fail("--genesis-hash: " + hash.error().message);
    c.genesis_hash = *hash;
    c.genesis_file.clear();  // fetched from peers, unless --genesis names it
  }
  if (!s.genesis.empty()) {
    auto spec = core::chain::load_genesis_file(s.genesis);
    if (!spec) return fail("--genesis: " + spec.error().message);
    const auto hash = core::chain::genesis_hash(*spec);
    if (c.genesis_hash && *c.genesis_hash != hash)
      return fail("--genesis " + s.genesis + " has hash " + hash.hex() + ", not the --genesis-hash " +
                  c.genesis_hash->hex());
    c.genesis_hash = hash;
    const fs::path copy = data_dir / "genesis.toml";
    c.genesis_file = relative_to(copy, config_dir);
    std::error_code ec;
    if (!fs::equivalent(s.genesis, copy, ec)) plan.outputs.push_back({copy, core::chain::to_toml(*spec), 0644});
    plan.genesis = *spec;
  } else if (!c.genesis_hash) {
    plan.notes.push_back("no genesis yet: put the network's genesis.toml at " + (config_dir / c.genesis_file).string() +
                         " (tgenesis network writes it) before starting");
  }
  auto resolved = core::config::apply_overrides(c, sets);
  if (!resolved) return tl::unexpected(resolved.error());
  c = *resolved;
  const bool masternode = c.role == core::config::Role::Masternode;

  if (!s.key.empty()) {
    auto key = core::crypto::load_key_file(s.key);
    if (!key) return fail("--key: " + key.error().message);
    plan.key = *key;
    plan.key_path = fs::absolute(s.key).lexically_normal();
    c.key_file = plan.key_path.string();
  } else if (masternode && (plan.genesis || c.genesis_hash)) {
    // The genesis already lists the masternodes' keys: a new one could
    // never produce a block.
    return fail(
        "--role masternode with a genesis: a masternode runs with the key the genesis lists, and tnode init "
        "never generates one then; give --key FILE (the key file `tgenesis network` or `tgenesis keygen` wrote "
        "for this host)");
  } else {
    plan.key_path = data_dir / c.key_file;
    if (!s.print) {
      plan.key = core::crypto::KeyPair::generate();
      plan.outputs.push_back({plan.key_path, plan.key->seed().hex() + "\n", 0600});
    }
    if (masternode)
      plan.notes.push_back(
          "a new masternode key: its node id must be one of the masternodes of the genesis "
          "this network is created with (tgenesis new --masternode NAME:ID)");
  }
  if (masternode && plan.genesis && plan.key) {
    const auto& mns = plan.genesis->masternodes;
    if (std::none_of(mns.begin(), mns.end(), [&](const auto& mn) { return mn.pubkey == plan.key->public_key(); }))
      return fail("--key " + s.key + " (node id " + plan.key->public_key().hex() +
                  ") is not a masternode of the genesis " + s.genesis + "; give the key of one of its masternodes");
  }

  // The file must read back as exactly this configuration.
  const std::string text = core::config::to_commented_toml(c);
  auto parsed = core::config::parse_node_config(text, config_path.string(), config_dir);
  if (!parsed) return tl::unexpected(parsed.error());
  plan.outputs.insert(plan.outputs.begin(), Output{config_path, text, 0644});
  plan.config = c;
  return plan;
}

}  // namespace

int run_init(const InitSettings& s) {
  auto plan = make_plan(s);
  if (!plan) return app::report_error("tnode init", plan.error().message, app::kUsage);
  if (s.print) {
    std::cout << plan->outputs.front().content;
    return app::kOk;
  }
  for (const auto& out : plan->outputs) {
    std::error_code ec;
    if (fs::exists(out.path, ec))
      return app::report_error("tnode init",
                               out.path.string() +
                                   " already exists; tnode init never overwrites a file (move it "
                                   "away, or choose another --data-dir/--config)",
                               app::kFailure);
  }
  for (const auto& out : plan->outputs) {
    std::error_code ec;
    fs::create_directories(out.path.parent_path(), ec);
    if (ec)
      return app::report_error("tnode init", out.path.parent_path().string() + ": " + ec.message(), app::kFailure);
    if (auto ok = core::util::write_file_atomic(out.path, out.content, out.mode, /*overwrite=*/false); !ok)
      return app::report_error("tnode init", ok.error().message, app::kFailure);
    std::cout << "wrote " << out.path.string() << "\n";
  }
  const auto& c = plan->config;
  const fs::path config_path = plan->outputs.front().path;
  if (plan->key)
    std::cout << "node id " << plan->key->public_key().hex() << " (key " << plan->key_path.string() << ")\n";
  if (c.genesis_hash) std::cout << "genesis " << c.genesis_hash->hex() << "\n";
  std::cout << "role " << core::config::to_string(c.role) << ", peers on " << c.listen.to_string() << ", HTTP on "
            << c.http_listen.to_string() << "\n";
  for (const auto& note : plan->notes) std::cout << "note: " << note << "\n";
  std::cout << "start it with: tnode --config " << config_path.string() << "\n";
  return app::kOk;
}

}  // namespace tnode
