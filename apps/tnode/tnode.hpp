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
};

// Creates (or, when it exists, keeps) a development network in `dir`: a node
// key, a genesis with this node as its only masternode (timestamp now,
// `block_time`), and tnode.toml (masternode on 127.0.0.1:24100, HTTP on
// 24101). Returns the tnode.toml path.
core::util::Result<std::filesystem::path> prepare_dev(const std::filesystem::path& dir, const std::string& block_time);

int run_tnode(const Settings& s);
int tnode_main(int argc, char** argv);

}  // namespace tnode
