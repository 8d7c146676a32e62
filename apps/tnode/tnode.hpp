#pragma once
// tnode: the masternode network daemon.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/app.hpp"

namespace tnode {

struct Settings {
  std::string config;                  // --config FILE
  std::vector<std::string> overrides;  // --set SECTION.KEY=VALUE, then the shorthand flags
  std::string log_file;                // --log-file FILE
  bool check_config = false;           // --check-config: print the resolved config and exit
  bool dev = false;                    // --dev: a one-node development network in dev_dir
  std::string dev_dir;                 // --data-dir with --dev (default ~/.local/share/tnode/dev)
  std::string block_time;              // --block-time: slot length of a new dev network
  std::string pid_file;                // --pid-file FILE: written at start, removed at exit
};

// Creates (or, when it exists, keeps) a development network in `dir`: a node
// key, a genesis with this node as its only masternode (timestamp now,
// `block_time`), and tnode.toml (masternode on 127.0.0.1:24100, HTTP on
// 24101). Returns the tnode.toml path.
core::util::Result<std::filesystem::path> prepare_dev(const std::filesystem::path& dir, const std::string& block_time);

// `tnode init`: writes a commented tnode.toml (every key, its default and
// its meaning: config::to_commented_toml) and a node key, optionally a copy
// of the network's genesis; refuses to overwrite any file, and writes
// nothing when it refuses. A masternode's key is never generated once its
// genesis is known: it must come with --key and be in that genesis.
struct InitSettings {
  std::string data_dir;      // default ~/.local/share/tnode
  std::string config;        // where tnode.toml goes; default DATA_DIR/tnode.toml
  std::string role;          // regular (default) | masternode
  std::string genesis;       // FILE: checked, copied to DATA_DIR/genesis.toml, its hash pinned
  std::string genesis_hash;  // pinned hash; alone: the genesis is fetched from peers
  std::string key;           // an existing key file to run with instead of a new one
  std::string listen, http_listen, external_address;
  std::vector<std::string> peers;
  bool print = false;  // print the tnode.toml to stdout, write nothing
};
int run_init(const InitSettings& s);

// The shorthand flags of tnode and tnode init become --set overrides:
// KEY=VALUE appended when VALUE is not empty; peers as the TOML array that
// replaces network.peers (none given: nothing appended).
void add_override(std::vector<std::string>& overrides, const char* key, const std::string& value);
void add_peers_override(std::vector<std::string>& overrides, const std::vector<std::string>& peers);

int run_tnode(const Settings& s);
int tnode_main(int argc, char** argv);

}  // namespace tnode
