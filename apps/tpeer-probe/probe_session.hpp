#pragma once
// One probe connection to a peer: the identity the probe presents, the
// steps it reports (connect, handshake, ping), the ping, and how a
// connection whose step failed is closed.

#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <tl/expected.hpp>

#include "libcore/crypto/keys.hpp"
#include "libcore/node/wire.hpp"
#include "libcore/p2p/handshake.hpp"
#include "libcore/p2p/messages.hpp"
#include "tpeer-probe/probe_async.hpp"
#include "tpeer-probe/probe_network.hpp"

namespace tpeer_probe {

// Who the probe is for one connection: a fresh random key (role regular, not
// listening, at height 0 on the genesis block) and what it checks replies
// against.
struct ProbeIdentity {
  core::crypto::KeyPair key;
  core::p2p::Hello hello;
  core::p2p::LocalIdentity local;
};

// A fresh identity on `n` for one connection.
ProbeIdentity make_probe_identity(const Network& n);

enum class StepStatus { ok, failed, skipped };

struct Step {
  std::string name;  // connect | handshake | ping
  StepStatus status = StepStatus::ok;
  double ms = 0;
  std::optional<core::node::Failure> failure;
  std::string skip_reason;
};

// Closes a connection whose step failed: a locally found fault is told to
// the peer (it reads a reason, not a reset); after the peer's own Reject we
// shut down our side and wait for its close; a broken socket is just closed.
boost::asio::awaitable<void> close_after(core::node::WireStream& wire, const core::node::Failure& f);

// Ping -> Pong with the same nonce; returns the round-trip time in ms.
// Answers the peer's own Pings and skips other messages while it waits.
// Fails with the read or write failure, a peer's Reject, or a timeout.
boost::asio::awaitable<tl::expected<double, core::node::Failure>> ping(core::node::WireStream& wire,
                                                                       Clock::time_point deadline);

}  // namespace tpeer_probe
