#pragma once
// tgenesis: keys, a deterministic genesis, and ready-made networks (local
// testnets, and one directory per host for real machines).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tgenesis {

struct Settings {
  std::string command;  // keygen | pubkey | new | hash | verify | show | testnet | network
  bool json = false;

  std::string file;         // hash, verify, show: genesis.toml; pubkey: key file
  std::string out;          // keygen: key file; new: genesis.toml
  std::string expect_hash;  // verify --hash
  bool force = false;       // new, testnet, network: replace existing output

  // new
  std::string network = "testnet";
  std::string timestamp;  // RFC 3339; empty: now, truncated to the second
  std::string block_time = "10s";
  std::vector<std::string> masternodes;      // NAME:PUBKEY[@HOST:PORT]
  std::vector<std::string> masternode_keys;  // NAME:KEYFILE[@HOST:PORT]
  std::vector<std::string> allocations;      // PUBKEY:AMOUNT

  // testnet and network
  std::optional<std::uint32_t> masternode_count;  // unset: all nodes (testnet: 0 too)
  std::string dir;

  // testnet
  std::uint32_t nodes = 0;
  std::uint32_t base_port = 24100;

  // network
  std::vector<std::string> hosts;  // NAME=ADDR[:PORT], one per machine
};

// Runs one command; returns the exit code (0 ok, 1 failure, 2 usage/config).
int run_tgenesis(const Settings& s);

// Parses argv into Settings and runs it.
int tgenesis_main(int argc, char** argv);

}  // namespace tgenesis
