#pragma once
// One probe connection to a peer, the helper behind `connect` and `stress`:
// TCP connect, handshake with a fresh identity, optionally a ping; each step
// timed and recorded, and the first failure classified.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>

#include "libcore/node/wire.hpp"
#include "libcore/p2p/messages.hpp"
#include "libcore/p2p/network_map.hpp"
#include "libcore/util/address.hpp"
#include "libcore/util/units.hpp"
#include "tpeer-probe/probe_network.hpp"

namespace tpeer_probe {

enum class StepStatus { ok, failed, skipped };

struct Step {
  std::string name;  // connect | handshake | ping
  StepStatus status = StepStatus::ok;
  double ms = 0;
  std::optional<core::node::Failure> failure;
  std::string skip_reason;
};

// What one session found: its steps in order, and the peer's Hello.
struct SessionReport {
  std::vector<Step> steps;
  std::optional<core::p2p::Hello> peer;  // after a completed handshake
  bool role_checked = false;             // the masternode claim was checked against genesis
  std::optional<double> rtt_ms;
  std::optional<core::node::Failure> failure;  // the first failed step's

  // The time of step `name` when it succeeded; nullopt when it failed, was
  // skipped or did not run.
  std::optional<double> ok_ms(std::string_view name) const;
};

// The network a peer says it is on, learnt by asking it for its genesis
// (the pre-handshake genesis request: a connection of its own, bounded by
// `timeout`). The step is named "genesis"; on success `network` holds the
// peer's genesis (so its masternode list checks role claims), its source
// "asked the peer". Never fails: a failure is in the step.
struct LearntNetwork {
  Step step;
  std::optional<Network> network;
};
boost::asio::awaitable<LearntNetwork> learn_network(core::util::HostPort address, core::util::Millis timeout);

// The failure as the probe reports it: a bad magic that reads "HTTP" is
// code "http_server" ("this is an HTTP server"), not a protocol fault.
core::node::Failure probe_view(core::node::Failure f);

// What a session does once the handshake is done.
enum class AfterHandshake { close, ping };

// TCP connect to `address`, handshake on `net` with a fresh random key (so
// many sessions are as many distinct peers), then a ping if `then` asks for
// it; each step bounded by `timeout`. The first failed step ends the session:
// its failure is classified, recorded, and the connection closed so that the
// peer reads a reason where there is one. A completed session closes with
// Reject(shutdown, "probe done"). Without a network it stops after the TCP
// connect and reports the handshake (and the ping, if asked for) as skipped.
// Never fails: every failure is in the report. `net` must outlive the
// coroutine; run it on one strand. With `source`, the connection is made
// from that local IP address (bound before the connect; the target must
// then be an IP address of the same family).
boost::asio::awaitable<SessionReport> run_session(core::util::HostPort address, const std::optional<Network>& net,
                                                  core::util::Millis timeout, AfterHandshake then,
                                                  std::optional<boost::asio::ip::address> source = std::nullopt);

// One stop of a crawl: TCP connect, handshake on `net` (fresh key), then
// the peers the node is connected to now (GetConnections; GetPeers from a
// version-1 node), then a close with Reject(shutdown, "crawl done"). Each
// step bounded by `timeout`. Never fails: a node not reached has its
// failure class and detail in the visit; a node reached that did not say
// has no connections.
boost::asio::awaitable<core::p2p::CrawlVisit> crawl_visit(core::util::HostPort address, const Network& net,
                                                          core::util::Millis timeout);

}  // namespace tpeer_probe
