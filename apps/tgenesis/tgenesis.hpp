#pragma once
// tgenesis: keys, a deterministic genesis, and ready-made local testnets.

#include <cstdint>
#include <string>
#include <vector>

namespace tgenesis {

struct Settings {
  std::string command;  // keygen | new | hash | verify | show | testnet
  bool json = false;

  std::string file;         // hash, verify, show: genesis.toml
  std::string out;          // keygen: key file; new: genesis.toml
  std::string expect_hash;  // verify --hash
  bool force = false;       // new, testnet: replace existing output

  // new
  std::string network = "testnet";
  std::string timestamp;  // RFC 3339; empty: now, truncated to the second
  std::string block_time = "10s";
  std::vector<std::string> masternodes;      // NAME:PUBKEY[@HOST:PORT]
  std::vector<std::string> masternode_keys;  // NAME:KEYFILE[@HOST:PORT]
  std::vector<std::string> allocations;      // PUBKEY:AMOUNT

  // testnet
  std::uint32_t nodes = 0;
  std::uint32_t masternode_count = 0;  // 0: all nodes
  std::uint32_t base_port = 24100;
  std::string dir;
};

// Runs one command; returns the exit code (0 ok, 1 failure, 2 usage/config).
int run_tgenesis(const Settings& s);

// Parses argv into Settings and runs it.
int tgenesis_main(int argc, char** argv);

}  // namespace tgenesis
