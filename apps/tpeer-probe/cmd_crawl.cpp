// tpeer-probe crawl: walks the network breadth-first from its seeds (and the
// genesis masternodes), one connection per node at a time, bounded in nodes,
// concurrency and time; prints the map (p2p/network_map.hpp): components,
// masternodes seen and missing, heights and tips; as text, JSON, Graphviz
// DOT, or a picture rendered by Graphviz.
#include <spawn.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "common/app.hpp"
#include "libcore/p2p/network_map.hpp"
#include "libcore/util/address.hpp"
#include "libcore/util/units.hpp"
#include "tpeer-probe/commands.hpp"
#include "tpeer-probe/output.hpp"
#include "tpeer-probe/probe_async.hpp"
#include "tpeer-probe/probe_network.hpp"
#include "tpeer-probe/probe_session.hpp"

extern char** environ;

namespace tpeer_probe {

namespace {

namespace asio = boost::asio;
namespace p2p = core::p2p;
using core::crypto::PublicKey;
using core::util::HostPort;
using core::util::Millis;
using nlohmann::json;

// The breadth-first walk: addresses in the order learnt, at most
// `concurrency` visits at once, no new visit after `max_nodes` addresses or
// past the deadline. All on one io_context thread.
class Crawl {
 public:
  Crawl(asio::io_context& io, const Network& net, Millis timeout, std::size_t max_nodes, std::size_t concurrency,
        Clock::time_point deadline)
      : io_(io), net_(net), timeout_(timeout), max_nodes_(max_nodes), concurrency_(concurrency), deadline_(deadline) {}

  void add(const HostPort& a) {
    const auto key = a.to_string();
    if (seen_.size() >= max_nodes_ || !seen_.insert(key).second) return;
    queue_.push_back(a);
  }

  std::vector<p2p::CrawlVisit> run() {
    pump();
    io_.run();
    return std::move(visits_);
  }

  // Addresses learnt but never dialled (the bounds stopped the walk).
  std::size_t left_over() const { return queue_.size(); }
  bool hit_node_limit() const { return seen_.size() >= max_nodes_; }
  bool hit_deadline() const { return Clock::now() >= deadline_; }

 private:
  void pump() {
    while (active_ < concurrency_ && !queue_.empty() && Clock::now() < deadline_) {
      auto address = queue_.front();
      queue_.pop_front();
      ++active_;
      const auto left = std::chrono::duration_cast<Millis>(deadline_ - Clock::now());
      const auto step = std::max(Millis{1}, std::min(timeout_, left));
      asio::co_spawn(io_, crawl_visit(address, net_, step), [this](const std::exception_ptr& e, p2p::CrawlVisit v) {
        --active_;
        if (e) std::rethrow_exception(e);  // a bug: out of io.run()
        if (v.connections)
          for (const auto& c : *v.connections)
            if (auto a = core::util::parse_host_port(c.address, kDefaultPeerPort); a && !c.address.empty()) add(*a);
        visits_.push_back(std::move(v));
        pump();
      });
    }
  }

  asio::io_context& io_;
  const Network& net_;
  Millis timeout_;
  std::size_t max_nodes_, concurrency_;
  Clock::time_point deadline_;
  std::deque<HostPort> queue_;
  std::set<std::string> seen_;
  std::size_t active_ = 0;
  std::vector<p2p::CrawlVisit> visits_;
};

// How a node is named in the output: its genesis name, else its short id.
std::string name_of(const p2p::MapNode& n) { return n.name.empty() ? n.id.short_hex() : n.name; }

std::string first_address(const p2p::MapNode& n) { return n.addresses.empty() ? "-" : *n.addresses.begin(); }

std::size_t degree(const p2p::NetworkMap& m, const PublicKey& id) {
  return static_cast<std::size_t>(
      std::count_if(m.edges.begin(), m.edges.end(), [&](const auto& e) { return e.a == id || e.b == id; }));
}

// ------------------------------------------------------------------ JSON

json map_json(const p2p::NetworkMap& m) {
  json nodes = json::array();
  for (const auto& [id, n] : m.nodes) {
    json j = {{"node_id", id.hex()},
              {"name", n.name},
              {"role", std::string(p2p::to_string(n.role))},
              {"reached", n.reached},
              {"addresses", n.addresses},
              {"component", n.component},
              {"peers", degree(m, id)},
              {"reported_connections", n.reported_connections}};
    j["height"] = n.height ? json(*n.height) : json(nullptr);
    j["behind"] = n.height ? json(n.behind) : json(nullptr);
    j["tip"] = n.tip ? json(n.tip->hex()) : json(nullptr);
    if (n.reached) {
      j["user_agent"] = n.user_agent;
      j["protocol_version"] = n.protocol_version;
      j["tip_group"] = n.tip_group;
    }
    nodes.push_back(std::move(j));
  }
  json edges = json::array();
  for (const auto& e : m.edges)
    edges.push_back({{"a", e.a.hex()},
                     {"b", e.b.hex()},
                     {"claimed_by_a", e.claimed_by_a},
                     {"claimed_by_b", e.claimed_by_b},
                     {"a_dialled_b", e.a_dialled_b},
                     {"b_dialled_a", e.b_dialled_a},
                     {"confirmed", e.confirmed(m.nodes)}});
  json components = json::array();
  for (const auto& c : m.components) {
    json ids = json::array();
    for (const auto& id : c) ids.push_back(id.hex());
    components.push_back(std::move(ids));
  }
  json masternodes = json::array();
  for (const auto& mn : m.masternodes) {
    json j = {{"name", mn.name},
              {"node_id", mn.id.hex()},
              {"address", mn.address},
              {"state", std::string(p2p::to_string(mn.state))}};
    if (!mn.failure_class.empty()) j["failure_class"] = mn.failure_class;
    masternodes.push_back(std::move(j));
  }
  json tips = json::array();
  for (const auto& g : m.tips) {
    json ids = json::array();
    for (const auto& id : g.members) ids.push_back(id.hex());
    tips.push_back({{"height", g.height}, {"tip", g.tip.hex()}, {"nodes", ids}});
  }
  json unreachable = json::array();
  for (const auto& u : m.unreachable)
    unreachable.push_back({{"address", u.address}, {"class", u.failure_class}, {"detail", u.detail}});
  return {{"nodes", nodes},
          {"edges", edges},
          {"components", components},
          {"masternodes", masternodes},
          {"tips", tips},
          {"unreachable", unreachable}};
}

// ------------------------------------------------------------------ text

void print_text(const p2p::NetworkMap& m, const Network& net, std::size_t dialled, double ms, const Crawl& crawl) {
  std::cout << "crawl of " << net.name << " (genesis " << net.genesis_hash.short_hex() << "…): " << dialled
            << " addresses dialled in " << fmt_ms(ms) << "\n";
  if (crawl.left_over() > 0 || crawl.hit_node_limit())
    std::cout << "  (stopped by " << (crawl.hit_deadline() ? "--time-limit" : "--max-nodes") << "; "
              << crawl.left_over() << " addresses learnt but not dialled)\n";
  std::size_t masternodes = 0;
  for (const auto& [id, n] : m.nodes) masternodes += n.reached && n.role == p2p::Role::Masternode ? 1 : 0;
  std::cout << col("reached", 14) << m.reached() << " nodes (" << masternodes << " masternode"
            << (masternodes == 1 ? "" : "s") << "), " << m.nodes.size() - m.reached()
            << " more known from their peers, " << m.unreachable.size()
            << (m.unreachable.size() == 1 ? " address" : " addresses") << " unreachable\n";
  const auto confirmed =
      std::count_if(m.edges.begin(), m.edges.end(), [&](const auto& e) { return e.confirmed(m.nodes); });
  std::cout << col("connections", 14) << m.edges.size() << " (" << confirmed << " confirmed by both ends)\n";
  if (m.components.size() <= 1) {
    std::cout << col("components", 14) << m.components.size() << ": the network is connected\n";
  } else {
    std::cout << col("components", 14) << m.components.size() << ": PARTITION, the network is split\n";
    for (std::size_t i = 0; i < m.components.size(); ++i) {
      std::cout << "  side " << i + 1 << " (" << m.components[i].size() << " nodes):";
      for (const auto& id : m.components[i]) std::cout << " " << name_of(m.nodes.at(id));
      std::cout << "\n";
    }
  }
  if (!m.masternodes.empty()) {
    std::cout << col("masternodes", 14) << m.masternodes.size() - m.missing_masternodes() << " of "
              << m.masternodes.size() << " seen\n";
    for (const auto& mn : m.masternodes)
      if (mn.state != p2p::MasternodeState::seen)
        std::cout << "  " << col(mn.name, 12) << p2p::to_string(mn.state)
                  << (mn.state == p2p::MasternodeState::reported ? " (a peer is connected to it; we could not reach it)"
                                                                 : "")
                  << (mn.failure_class.empty()
                          ? ""
                          : "  " + (mn.address.empty() ? std::string("-") : mn.address) + ": " + mn.failure_class)
                  << "\n";
  }
  std::cout << col("heights", 14) << "best " << m.best_height << (m.split_tips() ? ", SPLIT: several tips at it" : "")
            << "\n";
  for (const auto& g : m.tips)
    std::cout << "  " << col("height " + std::to_string(g.height), 14) << g.tip.short_hex() << "…  " << g.members.size()
              << " node" << (g.members.size() == 1 ? "" : "s")
              << (g.height < m.best_height ? "  (behind by " + std::to_string(m.best_height - g.height) + ")" : "")
              << "\n";
  std::cout << "nodes\n";
  // By side, then masternodes by name, then the rest by id.
  std::vector<const p2p::MapNode*> order;
  for (const auto& [id, n] : m.nodes) order.push_back(&n);
  std::stable_sort(order.begin(), order.end(), [](const p2p::MapNode* x, const p2p::MapNode* y) {
    return std::tuple(x->component, x->name.empty(), x->name) < std::tuple(y->component, y->name.empty(), y->name);
  });
  for (const auto* node : order) {
    const auto& n = *node;
    const auto& id = n.id;
    std::cout << "  " << col(name_of(n), 18) << col(std::string(p2p::to_string(n.role)), 11)
              << col(first_address(n), 22) << col(n.height ? "height " + std::to_string(*n.height) : "height ?", 14)
              << col("peers " + std::to_string(degree(m, id)), 10);
    if (m.components.size() > 1) std::cout << "side " << n.component + 1 << "  ";
    if (!n.reached) std::cout << "not reached (known from its peers)";
    std::cout << "\n";
  }
  if (!m.unreachable.empty()) {
    std::cout << "unreachable\n";
    for (const auto& u : m.unreachable)
      std::cout << "  " << col(u.address, 22) << col(u.failure_class, kClassWidth) << u.detail << "\n";
  }
}

// ------------------------------------------------------------------ Graphviz

// Text inside a DOT string, with quotes and backslashes escaped.
std::string dot_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}
std::string dot_quote(const std::string& s) { return "\"" + dot_escape(s) + "\""; }

// Fill colour of a tip group: the best tip green, the others distinct.
const char* tip_colour(std::size_t group) {
  static constexpr const char* kColours[] = {"#b8e186", "#fdb863", "#92c5de", "#f4a582", "#c2a5cf", "#e0e0e0"};
  return kColours[std::min<std::size_t>(group, std::size(kColours) - 1)];
}

std::string to_dot(const p2p::NetworkMap& m, const Network& net) {
  std::ostringstream d;
  d << "graph network {\n"
    << "  graph [label="
    << dot_quote(net.name + ": " + std::to_string(m.reached()) + " nodes reached, " +
                 std::to_string(m.components.size()) + " component" + (m.components.size() == 1 ? "" : "s (SPLIT)") +
                 ", best height " + std::to_string(m.best_height))
    << ", labelloc=t, fontname=\"Helvetica\", fontsize=14];\n"
    << "  node [style=filled, fontname=\"Helvetica\", fontsize=10];\n";
  for (std::size_t i = 0; i < m.components.size(); ++i) {
    d << "  subgraph cluster_" << i << " {\n    label="
      << dot_quote("component " + std::to_string(i + 1) + " (" + std::to_string(m.components[i].size()) + " nodes)")
      << "; style=" << (m.components.size() > 1 ? "\"rounded,bold\"; color=\"#d7191c\"" : "rounded; color=\"#888888\"")
      << ";\n";
    for (const auto& id : m.components[i]) {
      const auto& n = m.nodes.at(id);
      std::string label = dot_escape(name_of(n)) + "\\n" + std::string(p2p::to_string(n.role));
      label += n.height ? "\\nheight " + std::to_string(*n.height) : std::string("\\nheight ?");
      if (n.behind > 0) label += " (-" + std::to_string(n.behind) + ")";
      if (!n.reached) label += "\\nnot reached";
      d << "    " << dot_quote(id.hex()) << " [label=\"" << label << "\""
        << ", shape=" << (n.role == p2p::Role::Masternode ? "box" : "ellipse")
        << ", color=" << (n.role == p2p::Role::Masternode ? "\"#2b5b9b\", penwidth=2.5" : "\"#555555\"")
        << ", fillcolor=\"" << (n.reached ? tip_colour(n.tip_group) : "#ffffff") << "\""
        << (n.reached ? "" : ", style=\"filled,dashed\"") << "];\n";
    }
    d << "  }\n";
  }
  for (const auto& mn : m.masternodes)
    if (mn.state == p2p::MasternodeState::missing)
      d << "  " << dot_quote("missing:" + mn.id.hex()) << " [label=\""
        << dot_escape(mn.name) + "\\nmasternode\\nMISSING" +
               (mn.failure_class.empty() ? "" : ": " + dot_escape(mn.failure_class))
        << "\", shape=box, color=\"#d7191c\", penwidth=2.5, style=\"dashed\", fillcolor=\"#ffffff\"];\n";
  for (const auto& e : m.edges)
    d << "  " << dot_quote(e.a.hex()) << " -- " << dot_quote(e.b.hex())
      << (e.confirmed(m.nodes) ? "" : " [style=dashed]") << ";\n";
  d << "}\n";
  return d.str();
}

core::util::Result<void> write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) return core::util::fail("cannot write " + path);
  f << text;
  f.close();
  if (!f) return core::util::fail("cannot write " + path);
  return {};
}

// Renders `dot_text` with Graphviz's dot into `path` as `format` (svg, png).
core::util::Result<void> render(const std::string& dot_text, const std::string& format, const std::string& path) {
  const std::string source = path + ".dot.tmp";
  if (auto w = write_file(source, dot_text); !w) return w;
  std::vector<std::string> args = {"dot", "-T" + format, "-o", path, source};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int spawned = posix_spawnp(&pid, "dot", nullptr, nullptr, argv.data(), environ);
  int status = 0;
  if (spawned == 0) waitpid(pid, &status, 0);
  std::error_code ec;
  std::filesystem::remove(source, ec);
  if (spawned != 0)
    return core::util::fail("--" + format + " needs Graphviz's dot, which was not found (apt-get install graphviz)");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return core::util::fail("dot -T" + format + " failed to render " + path);
  return {};
}

}  // namespace

int cmd_crawl(const Settings& s) {
  auto timeout = parse_timeout(s.timeout);
  if (!timeout) return usage_error(timeout.error().message);
  auto limit = core::util::parse_duration(s.time_limit);
  if (!limit || limit->count() <= 0)
    return usage_error("--time-limit: '" + s.time_limit + "' is not a duration above zero");
  auto net = resolve_network(s);
  if (!net) return usage_error(net.error().message);
  auto seeds = targets_or_masternodes(s.targets, *net);
  if (!seeds) return usage_error(seeds.error().message);

  const auto start = Clock::now();
  asio::io_context io;
  // Without a network given, the first seed that answers names it.
  std::optional<Network> network = *net;
  std::string learn_errors;
  for (std::size_t i = 0; !network && i < seeds->size(); ++i) {
    auto learnt =
        run_all<LearntNetwork>(io, 1, [&](std::size_t) { return learn_network((*seeds)[i].address, *timeout); });
    io.restart();
    if (learnt[0].network)
      network = std::move(learnt[0].network);
    else
      learn_errors += "\n  " + (*seeds)[i].address.to_string() + ": " + learnt[0].step.failure->label();
  }
  if (!network) return failure("no seed answered a genesis request, so the network is unknown:" + learn_errors);

  Crawl crawl(io, *network, *timeout, s.max_nodes, s.concurrency, start + *limit);
  for (const auto& seed : *seeds) crawl.add(seed.address);
  if (network->spec)
    for (const auto& mn : network->spec->masternodes)
      if (auto a = core::util::parse_host_port(mn.address, kDefaultPeerPort); a && !mn.address.empty()) crawl.add(*a);
  const auto visits = crawl.run();
  const double ms = ms_since(start);
  const auto map = p2p::build_network_map(visits, network->spec ? &network->spec->masternodes : nullptr);

  const std::string dot_text = to_dot(map, *network);
  if (!s.dot_file.empty())
    if (auto w = write_file(s.dot_file, dot_text); !w) return failure(w.error().message);
  if (!s.svg_file.empty())
    if (auto r = render(dot_text, "svg", s.svg_file); !r) return failure(r.error().message);
  if (!s.png_file.empty())
    if (auto r = render(dot_text, "png", s.png_file); !r) return failure(r.error().message);

  if (s.json) {
    json j = map_json(map);
    j["ok"] = map.healthy();
    j["network"] = network_json(network);
    j["summary"] = {{"dialled", visits.size()},
                    {"reached", map.reached()},
                    {"known", map.nodes.size()},
                    {"unreachable", map.unreachable.size()},
                    {"components", map.components.size()},
                    {"masternodes", map.masternodes.size()},
                    {"masternodes_missing", map.missing_masternodes()},
                    {"best_height", map.best_height},
                    {"split_tips", map.split_tips()},
                    {"not_dialled", crawl.left_over()},
                    {"duration_ms", round_ms(ms)}};
    app::print_json(j);
  } else {
    print_text(map, *network, visits.size(), ms, crawl);
  }
  if (map.components.size() > 1)
    return failure("the network is split into " + std::to_string(map.components.size()) + " components");
  if (map.missing_masternodes() > 0)
    return failure(std::to_string(map.missing_masternodes()) + " of " + std::to_string(map.masternodes.size()) +
                   " masternodes not reached");
  if (map.components.empty()) return failure("no node reached");
  return app::kOk;
}

}  // namespace tpeer_probe
