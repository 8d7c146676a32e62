// tpeer-probe connect: TCP connect, handshake and ping against each target,
// concurrently; each step timed and any failure classified. Without a
// network given, each target is first asked for its genesis and the
// handshake is made on that network; without targets, the masternodes of the
// given genesis are probed.
#include <algorithm>
#include <iostream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "common/app.hpp"
#include "libcore/p2p/messages.hpp"
#include "libcore/util/address.hpp"
#include "libcore/util/units.hpp"
#include "tpeer-probe/commands.hpp"
#include "tpeer-probe/output.hpp"
#include "tpeer-probe/probe_async.hpp"
#include "tpeer-probe/probe_network.hpp"
#include "tpeer-probe/probe_session.hpp"

namespace tpeer_probe {

namespace {

namespace asio = boost::asio;
namespace p2p = core::p2p;
using core::util::HostPort;
using core::util::Millis;
using nlohmann::json;

// One target's session, labelled with the target.
struct TargetReport : SessionReport {
  std::string target;             // as given
  std::string address;            // host:port probed
  std::optional<Network> learnt;  // the network the peer named (no network given)

  std::string result_class() const { return failure ? failure->label() : "ok"; }
};

// TCP connect, handshake, ping against one address, each step bounded by
// `timeout`. Without a network the peer is first asked for its genesis
// (step "genesis") and the session runs on that network.
asio::awaitable<TargetReport> probe_target(std::string target, HostPort address, const std::optional<Network>& given,
                                           Millis timeout) {
  if (given) {
    SessionReport session = co_await run_session(address, given, timeout, AfterHandshake::ping);
    co_return TargetReport{std::move(session), std::move(target), address.to_string(), std::nullopt};
  }
  auto learnt = co_await learn_network(address, timeout);
  if (!learnt.network) {
    SessionReport failed;
    failed.failure = learnt.step.failure;
    failed.steps.push_back(std::move(learnt.step));
    co_return TargetReport{std::move(failed), std::move(target), address.to_string(), std::nullopt};
  }
  SessionReport session = co_await run_session(address, learnt.network, timeout, AfterHandshake::ping);
  session.steps.insert(session.steps.begin(), std::move(learnt.step));
  co_return TargetReport{std::move(session), std::move(target), address.to_string(), std::move(learnt.network)};
}

json peer_json(const TargetReport& r) {
  const auto& h = *r.peer;
  json j = {{"node_id", h.node_id.hex()},           {"role", std::string(p2p::to_string(h.role))},
            {"role_checked", r.role_checked},       {"protocol_version", h.protocol_version},
            {"min_version", h.min_version},         {"network", h.network},
            {"genesis_hash", h.genesis_hash.hex()}, {"user_agent", h.user_agent},
            {"listen_port", h.listen_port},         {"best_height", h.best_height},
            {"best_hash", h.best_hash.hex()}};
  j["rtt_ms"] = r.rtt_ms ? json(round_ms(*r.rtt_ms)) : json(nullptr);
  return j;
}

json target_json(const TargetReport& r) {
  json steps = json::array();
  for (const auto& st : r.steps) steps.push_back(step_json(st));
  json j = {
      {"target", r.target}, {"address", r.address}, {"ok", !r.failure}, {"class", r.result_class()}, {"steps", steps}};
  j["peer"] = r.peer ? peer_json(r) : json(nullptr);
  if (r.learnt) j["network"] = network_json(r.learnt);
  if (r.failure) j["failure"] = failure_json(*r.failure);
  return j;
}

void print_target(const TargetReport& r) {
  std::cout << r.address << (r.target != r.address ? "  (" + r.target + ")" : "") << "\n";
  if (r.learnt)
    std::cout << "  " << col("network") << r.learnt->name << "  genesis " << r.learnt->genesis_hash.hex()
              << "  (the peer's own)\n";
  for (const auto& st : r.steps) {
    std::cout << "  " << col(st.name);
    switch (st.status) {
      case StepStatus::ok:
        std::cout << col("ok", kClassWidth) << fmt_ms(st.ms) << "\n";
        break;
      case StepStatus::failed:
        std::cout << col(st.failure->label(), kClassWidth) << fmt_ms(st.ms) << "  " << explain(*st.failure) << "\n";
        break;
      case StepStatus::skipped:
        std::cout << col("skipped", kClassWidth) << st.skip_reason << "\n";
        break;
    }
  }
  if (r.peer) {
    const auto& h = *r.peer;
    std::cout << "  " << col("node id") << h.node_id.hex() << "\n"
              << "  " << col("role") << p2p::to_string(h.role)
              << (h.role == p2p::Role::Masternode && !r.role_checked
                      ? " (claimed: not checked without the genesis masternode list)"
                      : "")
              << "\n"
              << "  " << col("protocol") << h.protocol_version << " (min " << h.min_version << ")\n"
              << "  " << col("user agent") << h.user_agent << "\n"
              << "  " << col("best") << "height " << h.best_height << "  " << h.best_hash.hex() << "\n";
    if (h.listen_port != 0) std::cout << "  " << col("listens on") << "port " << h.listen_port << "\n";
    if (r.rtt_ms) std::cout << "  " << col("rtt") << fmt_ms(*r.rtt_ms) << "\n";
  }
  std::cout << "  " << col("result") << r.result_class() << "\n";
}

}  // namespace

int cmd_connect(const Settings& s) {
  auto timeout = parse_timeout(s.timeout);
  if (!timeout) return usage_error(timeout.error().message);
  auto net = resolve_network(s);
  if (!net) return usage_error(net.error().message);
  auto targets = targets_or_masternodes(s.targets, *net);
  if (!targets) return usage_error(targets.error().message);

  asio::io_context io;
  auto reports = run_all<TargetReport>(io, targets->size(), [&](std::size_t i) {
    return probe_target((*targets)[i].label, (*targets)[i].address, *net, *timeout);
  });
  const auto failed = std::count_if(reports.begin(), reports.end(), [](const auto& r) { return r.failure; });

  if (s.json) {
    json targets = json::array();
    for (const auto& r : reports) targets.push_back(target_json(r));
    app::print_json(
        {{"ok", failed == 0}, {"network", network_json(*net)}, {"timeout_ms", timeout->count()}, {"targets", targets}});
  } else {
    if (*net)
      std::cout << "network " << (*net)->name << ", genesis " << (*net)->genesis_hash.hex() << "\n";
    else
      std::cout << "no network given: each peer is asked for its genesis, then handshaken on that network\n";
    for (const auto& r : reports) print_target(r);
  }
  if (failed > 0)
    return failure(std::to_string(failed) + " of " + std::to_string(reports.size()) + " target" +
                   (reports.size() == 1 ? "" : "s") + " failed");
  return app::kOk;
}

}  // namespace tpeer_probe
