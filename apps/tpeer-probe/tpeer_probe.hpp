#pragma once
// tpeer-probe: connectivity tester for operators and scripts (DESIGN.md
// section 10). connect: TCP connect, handshake and ping against nodes, each
// step timed and any failure classified; crawl: the map of a whole network
// (components, missing masternodes, tips); health: a node's GET /health;
// stress: many handshakes against one node; local: this host's open-file
// limits, sockets on the node port and the ephemeral port range.

#include <cstdint>
#include <string>
#include <vector>

#include "common/app.hpp"

namespace tpeer_probe {

// The tool's name, in its error messages and its peers' view of its user agent.
inline constexpr const char* kTool = "tpeer-probe";

// Default ports of a node (DESIGN.md sections 5 and 8).
inline constexpr std::uint16_t kDefaultPeerPort = 24100;
inline constexpr std::uint16_t kDefaultHttpPort = 24101;

struct Settings {
  std::string command;  // connect | crawl | health | stress | local
  bool json = false;

  std::vector<std::string> targets;  // connect: HOST[:PORT]...; crawl: seeds
  std::string target;                // health: URL or HOST[:PORT]; stress: HOST[:PORT]
  std::string timeout = "5s";        // connect, stress: per step; health: the request

  // The network to handshake on (connect, stress): --genesis FILE, or
  // --config FILE (its [genesis]), or --network NAME with --genesis-hash HEX.
  std::string genesis_file;
  std::string config_file;  // also local: the node whose needs are checked
  std::string network;
  std::string genesis_hash;

  std::uint64_t connections = 100;   // stress: handshakes in total
  std::uint64_t concurrency = 8;     // stress, crawl: at most this many at once
  std::vector<std::string> sources;  // stress: local IP addresses to connect from, round robin

  // crawl: seeds are `targets`; the walk's bounds and the picture's files.
  std::uint64_t max_nodes = 1000;
  std::string time_limit = "60s";
  std::string dot_file, svg_file, png_file;

  std::uint16_t port = kDefaultPeerPort;  // local
  bool port_given = false;                // local: --port was given (overrides --config)
  std::string pid;                        // local: a running tnode's pid, or its pid file
};

// Runs one command; returns the exit code (0 all good, 1 a target failed,
// 2 usage or configuration error). Prints results on stdout and errors on
// stderr. Runs its own io_context on the calling thread.
int run_tpeer_probe(const Settings& s);
int tpeer_probe_main(int argc, char** argv);

}  // namespace tpeer_probe
