// tpeer-probe stress: many handshakes against one node, a bounded number at
// once: success rate, latency percentiles and failures by class.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "common/app.hpp"
#include "libcore/node/wire.hpp"
#include "libcore/util/address.hpp"
#include "tpeer-probe/commands.hpp"
#include "tpeer-probe/output.hpp"
#include "tpeer-probe/probe_async.hpp"
#include "tpeer-probe/probe_network.hpp"
#include "tpeer-probe/probe_session.hpp"

namespace tpeer_probe {

namespace {

namespace asio = boost::asio;
using core::node::Failure;
using core::util::HostPort;
using nlohmann::json;

// What the summary needs of one session. A run holds up to a million of
// these, so not the whole SessionReport (steps, the peer's Hello).
struct Attempt {
  std::optional<double> connect_ms;    // the TCP connect succeeded
  std::optional<double> handshake_ms;  // the handshake succeeded
  std::optional<Failure> failure;
};

// A stress run summed over its attempts.
struct StressSummary {
  std::uint64_t total = 0;                        // handshakes attempted
  std::uint64_t workers = 0;                      // at most this many at once
  std::vector<double> handshake_ms, connect_ms;   // of the steps that succeeded
  std::map<std::string, std::uint64_t> failures;  // attempts by failure class
  std::uint64_t succeeded = 0, failed = 0;
  double total_s = 0;       // wall time of the run
  double rate = 0;          // completed handshakes per second
  double success_rate = 0;  // succeeded / total
};

StressSummary summarize(const std::vector<Attempt>& attempts, std::uint64_t total, std::uint64_t workers,
                        double total_s) {
  StressSummary r;
  r.total = total;
  r.workers = workers;
  r.total_s = total_s;
  for (const auto& a : attempts) {
    if (a.connect_ms) r.connect_ms.push_back(*a.connect_ms);
    if (a.handshake_ms) r.handshake_ms.push_back(*a.handshake_ms);
    if (a.failure) ++r.failures[a.failure->label()];
  }
  r.succeeded = r.handshake_ms.size();
  r.failed = total - r.succeeded;
  r.rate = total_s > 0 ? static_cast<double>(r.succeeded) / total_s : 0;
  r.success_rate = static_cast<double>(r.succeeded) / static_cast<double>(total);
  return r;
}

json stress_json(const std::string& target, const HostPort& address, const std::optional<Network>& net,
                 const StressSummary& r, const std::vector<std::string>& sources) {
  return {{"target", target},
          {"sources", sources},
          {"address", address.to_string()},
          {"network", network_json(net)},
          {"ok", r.failed == 0},
          {"connections", r.total},
          {"concurrency", r.workers},
          {"succeeded", r.succeeded},
          {"failed", r.failed},
          {"success_rate", std::round(r.success_rate * 10000.0) / 10000.0},
          {"handshake_ms", percentiles_json(r.handshake_ms)},
          {"connect_ms", percentiles_json(r.connect_ms)},
          {"failures", r.failures},
          {"total_s", std::round(r.total_s * 1000.0) / 1000.0},
          {"handshakes_per_s", std::round(r.rate * 10.0) / 10.0}};
}

void print_stress(const HostPort& address, const StressSummary& r) {
  char line[160];
  std::cout << "stress " << address.to_string() << ": " << r.total << " handshakes, at most " << r.workers
            << " at once\n";
  std::snprintf(line, sizeof line, "%llu/%llu (%.1f%%)", static_cast<unsigned long long>(r.succeeded),
                static_cast<unsigned long long>(r.total), 100.0 * r.success_rate);
  std::cout << "  " << col("succeeded") << line << "\n"
            << "  " << col("handshake") << percentiles_text(r.handshake_ms) << "\n"
            << "  " << col("connect") << percentiles_text(r.connect_ms) << "\n";
  if (r.failures.empty()) std::cout << "  " << col("failures") << "none\n";
  for (auto it = r.failures.begin(); it != r.failures.end(); ++it)
    std::cout << "  " << col(it == r.failures.begin() ? "failures" : "") << it->second << "  " << it->first << "\n";
  std::snprintf(line, sizeof line, "%.2f s, %.1f handshakes/s", r.total_s, r.rate);
  std::cout << "  " << col("total") << line << "\n";
}

}  // namespace

int cmd_stress(const Settings& s) {
  auto timeout = parse_timeout(s.timeout);
  if (!timeout) return usage_error(timeout.error().message);
  auto address = core::util::parse_host_port(s.target, kDefaultPeerPort);
  if (!address) return usage_error("target '" + s.target + "': " + address.error().message);
  auto net = resolve_network(s);
  if (!net) return usage_error(net.error().message);
  if (!*net)
    return usage_error(
        "stress needs the network to handshake on: --genesis FILE, --config FILE, or --network NAME "
        "with --genesis-hash HEX");
  std::vector<boost::asio::ip::address> sources;
  for (const auto& text : s.sources) {
    boost::system::error_code ec;
    auto ip = boost::asio::ip::make_address(text, ec);
    if (ec) return usage_error("--source '" + text + "': not an IP address");
    sources.push_back(ip);
  }
  if (!sources.empty()) {
    boost::system::error_code ec;
    auto target_ip = boost::asio::ip::make_address(address->host, ec);
    if (ec) return usage_error("--source needs an IP address target, not '" + address->host + "'");
    for (const auto& ip : sources)
      if (ip.is_v4() != target_ip.is_v4())
        return usage_error("--source " + ip.to_string() + " and target " + address->host + " are not the same family");
  }
  const std::uint64_t total = s.connections;
  const std::uint64_t workers = std::min(s.concurrency, total);

  asio::io_context io;
  app::Progress progress("handshakes");
  std::vector<Attempt> attempts;
  attempts.reserve(total);
  std::uint64_t next = 0;
  // `workers` coroutines each run handshakes one after another, so at most
  // that many are in flight; all run on this thread (no locking needed).
  auto worker = [&](std::size_t w) -> asio::awaitable<int> {
    std::optional<asio::ip::address> source;
    if (!sources.empty()) source = sources[w % sources.size()];
    while (next < total) {
      ++next;
      const auto r = co_await run_session(*address, *net, *timeout, AfterHandshake::close, source);
      attempts.push_back(Attempt{r.ok_ms("connect"), r.ok_ms("handshake"), r.failure});
      progress.update(attempts.size(), total);
    }
    co_return 0;
  };
  const auto start = Clock::now();
  run_all<int>(io, workers, worker);
  const double total_s = ms_since(start) / 1000.0;
  progress.finish();

  const auto summary = summarize(attempts, total, workers, total_s);
  if (s.json)
    app::print_json(stress_json(s.target, *address, *net, summary, s.sources));
  else
    print_stress(*address, summary);
  if (summary.failed > 0)
    return failure(std::to_string(summary.failed) + " of " + std::to_string(total) + " handshakes failed");
  return app::kOk;
}

}  // namespace tpeer_probe
