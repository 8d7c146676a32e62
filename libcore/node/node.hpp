#pragma once
// The tnode daemon as a library call: load genesis and key, open the chain
// store, check resources, start the peer network and the HTTP endpoints, and
// run until SIGINT/SIGTERM (graceful: goodbye to peers, store flushed).
// Tells systemd when it is ready and stopping (node/service.hpp).
// SIGHUP reopens the log file. apps/tnode turns flags and tnode.toml into
// NodeOptions; tests may call run_node in-process.

#include <filesystem>
#include <optional>
#include <string>

#include "libcore/config/node_config.hpp"
#include "libcore/util/error.hpp"

namespace core::node {

struct NodeOptions {
  config::NodeConfig config;
  std::string version = "0";
  // Log to this file instead of stderr (reopened on SIGHUP, for logrotate).
  std::optional<std::filesystem::path> log_file;
  // Write the process id here at start; removed at exit (node/service.hpp).
  std::optional<std::filesystem::path> pid_file;
};

// Runs the node on the calling thread until a stop signal. Fails, without
// starting anything, with a message an operator can act on: missing or
// mismatched genesis, unreadable key, a masternode role without a genesis
// key, the store (locked, another genesis), the open-file limit, a port in
// use. Returns normally after a graceful shutdown.
util::Result<void> run_node(const NodeOptions& options);

}  // namespace core::node
