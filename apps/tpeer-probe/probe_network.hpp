#pragma once
// The network the probe handshakes on (connect, stress), resolved from
// --genesis FILE, --config FILE (its [genesis]), or --network NAME with
// --genesis-hash HEX.

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "libcore/chain/genesis.hpp"
#include "libcore/crypto/hash.hpp"
#include "libcore/p2p/frame.hpp"
#include "libcore/util/address.hpp"
#include "libcore/util/error.hpp"
#include "tpeer-probe/tpeer_probe.hpp"

namespace tpeer_probe {

// The network the probe says it is on, and checks replies against.
struct Network {
  std::string name;
  core::crypto::Hash32 genesis_hash;
  // Known when the genesis itself was given: masternode claims are checked
  // against its list. Absent with only a hash.
  std::optional<core::chain::GenesisSpec> spec;
  std::size_t max_message_size = core::p2p::kDefaultMaxMessageSize;
  std::string source;  // where it came from, for the output
};

// The network from --genesis, --config or --network with --genesis-hash;
// nullopt when none was given (connect then stops after the TCP step).
// Fails, with a message for the user, when a file does not load, the options
// contradict each other or the config, or the name or hash is malformed.
core::util::Result<std::optional<Network>> resolve_network(const Settings& s);

// A peer to probe: how the output names it, and where it is dialled.
struct Target {
  std::string label;
  core::util::HostPort address;
};

// The targets as given (HOST[:PORT], default port 24100), or, with none,
// every masternode of the network's genesis that lists an address, labelled
// by its name. Fails, with a message for the user, on a malformed target,
// on no targets without a genesis, and on a genesis whose masternodes list
// no address.
core::util::Result<std::vector<Target>> targets_or_masternodes(const std::vector<std::string>& given,
                                                               const std::optional<Network>& net);

}  // namespace tpeer_probe
