// libcore/metrics: the Prometheus registry (exact text exposition, escaping,
// order, the per-family cap) and NodeMetrics (every name of DESIGN.md
// section 8). `promtool check metrics` runs on NodeMetrics' output in the
// ctest test unit.promtool_check_metrics.

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "libcore/metrics/node_metrics.hpp"
#include "libcore/metrics/registry.hpp"

using Catch::Matchers::Contains;
using core::metrics::Counter;
using core::metrics::format_value;
using core::metrics::Histogram;
using core::metrics::kMaxChildrenPerFamily;
using core::metrics::Registry;

// -------------------------------------------------------------------- names

TEST_CASE("metric and label names follow the Prometheus rules", "[unit][metrics]") {
  using core::metrics::is_valid_label_name;
  using core::metrics::is_valid_metric_name;
  CHECK(is_valid_metric_name("tnode_handshakes_total"));
  CHECK(is_valid_metric_name("_x"));
  CHECK(is_valid_metric_name("a:b_c9"));
  CHECK(is_valid_metric_name(":recording_rule"));
  CHECK_FALSE(is_valid_metric_name(""));
  CHECK_FALSE(is_valid_metric_name("9lives"));
  CHECK_FALSE(is_valid_metric_name("tnode-bytes"));
  CHECK_FALSE(is_valid_metric_name("tnode bytes"));
  CHECK_FALSE(is_valid_metric_name("caf\xC3\xA9"));

  CHECK(is_valid_label_name("direction"));
  CHECK(is_valid_label_name("_class"));
  CHECK(is_valid_label_name("a9"));
  CHECK_FALSE(is_valid_label_name(""));
  CHECK_FALSE(is_valid_label_name("__name__"));  // reserved
  CHECK_FALSE(is_valid_label_name("a:b"));       // colons only in metric names
  CHECK_FALSE(is_valid_label_name("1st"));
  CHECK_FALSE(is_valid_label_name("peer-id"));
}

// ------------------------------------------------------------------ numbers

TEST_CASE("format_value spells numbers as the Go client does", "[unit][metrics]") {
  CHECK(format_value(0) == "0");
  CHECK(format_value(-0.0) == "0");
  CHECK(format_value(1) == "1");
  CHECK(format_value(-1) == "-1");
  CHECK(format_value(0.001) == "0.001");
  CHECK(format_value(0.0025) == "0.0025");
  CHECK(format_value(0.1) == "0.1");
  CHECK(format_value(2.5) == "2.5");
  CHECK(format_value(-2.5) == "-2.5");
  CHECK(format_value(10) == "10");
  CHECK(format_value(3600.5) == "3600.5");
  CHECK(format_value(123456) == "123456");
  CHECK(format_value(100000) == "100000");
  // Exponent form from 1e6 up and below 1e-4, with a two-digit exponent.
  CHECK(format_value(1e6) == "1e+06");
  CHECK(format_value(1234567) == "1.234567e+06");
  CHECK(format_value(1e21) == "1e+21");
  CHECK(format_value(0.0001) == "0.0001");
  CHECK(format_value(0.00001) == "1e-05");
  CHECK(format_value(1.5e-05) == "1.5e-05");
  CHECK(format_value(-1.5e-300) == "-1.5e-300");
  CHECK(format_value(0.1 + 0.2) == "0.30000000000000004");  // shortest round trip, not rounded
  CHECK(format_value(std::numeric_limits<double>::infinity()) == "+Inf");
  CHECK(format_value(-std::numeric_limits<double>::infinity()) == "-Inf");
  CHECK(format_value(std::nan("")) == "NaN");
}

// --------------------------------------------------------------- exposition

TEST_CASE("render gives the exact text exposition of a small registry", "[unit][metrics]") {
  Registry r;
  // Registered out of name order: render sorts families by name.
  auto& requests = r.counter("app_requests_total", "Requests handled.", {"method", "code"});
  auto& temperature = r.gauge("app_temperature_celsius", "Current temperature.");
  auto& latency = r.histogram("app_latency_seconds", "Request latency.", {0.25, 0.5, 1}, {"path"});

  requests.with({"post", "500"}).inc();
  requests.with({"get", "200"}).inc(3);
  requests.with({"get", "404"}).inc();
  temperature.with().set(-2.5);
  auto& slash = latency.with({"/"});
  for (double seconds : {0.25, 0.5, 0.125, 1.0, 4.0}) slash.observe(seconds);  // three on bucket edges
  latency.with({"/health"});                                                   // created, never observed

  CHECK(r.family_count() == 3);
  CHECK(r.render() ==
        "# HELP app_latency_seconds Request latency.\n"
        "# TYPE app_latency_seconds histogram\n"
        "app_latency_seconds_bucket{path=\"/\",le=\"0.25\"} 2\n"
        "app_latency_seconds_bucket{path=\"/\",le=\"0.5\"} 3\n"
        "app_latency_seconds_bucket{path=\"/\",le=\"1\"} 4\n"
        "app_latency_seconds_bucket{path=\"/\",le=\"+Inf\"} 5\n"
        "app_latency_seconds_sum{path=\"/\"} 5.875\n"
        "app_latency_seconds_count{path=\"/\"} 5\n"
        "app_latency_seconds_bucket{path=\"/health\",le=\"0.25\"} 0\n"
        "app_latency_seconds_bucket{path=\"/health\",le=\"0.5\"} 0\n"
        "app_latency_seconds_bucket{path=\"/health\",le=\"1\"} 0\n"
        "app_latency_seconds_bucket{path=\"/health\",le=\"+Inf\"} 0\n"
        "app_latency_seconds_sum{path=\"/health\"} 0\n"
        "app_latency_seconds_count{path=\"/health\"} 0\n"
        "# HELP app_requests_total Requests handled.\n"
        "# TYPE app_requests_total counter\n"
        "app_requests_total{method=\"get\",code=\"200\"} 3\n"
        "app_requests_total{method=\"get\",code=\"404\"} 1\n"
        "app_requests_total{method=\"post\",code=\"500\"} 1\n"
        "# HELP app_temperature_celsius Current temperature.\n"
        "# TYPE app_temperature_celsius gauge\n"
        "app_temperature_celsius -2.5\n");
}

TEST_CASE("a histogram without labels, and series that exist before any update", "[unit][metrics]") {
  Registry r;
  auto& duration = r.histogram("op_duration_seconds", "Op duration.", {0.001, 0.01}).with();
  duration.observe(0.001);
  duration.observe(0.0005);
  r.counter("events_total", "Events.");               // no labels: its one series reads 0
  r.gauge("queue_depth", "Queue depth.", {"queue"});  // labels, no children: HELP and TYPE only
  r.double_counter("busy_seconds_total", "Busy time.").with().inc(0.5);

  CHECK(r.render() ==
        "# HELP busy_seconds_total Busy time.\n"
        "# TYPE busy_seconds_total counter\n"
        "busy_seconds_total 0.5\n"
        "# HELP events_total Events.\n"
        "# TYPE events_total counter\n"
        "events_total 0\n"
        "# HELP op_duration_seconds Op duration.\n"
        "# TYPE op_duration_seconds histogram\n"
        "op_duration_seconds_bucket{le=\"0.001\"} 2\n"
        "op_duration_seconds_bucket{le=\"0.01\"} 2\n"
        "op_duration_seconds_bucket{le=\"+Inf\"} 2\n"
        "op_duration_seconds_sum 0.0015\n"
        "op_duration_seconds_count 2\n"
        "# HELP queue_depth Queue depth.\n"
        "# TYPE queue_depth gauge\n");
}

TEST_CASE("help text and label values are escaped", "[unit][metrics]") {
  using core::metrics::escape_help;
  using core::metrics::escape_label_value;
  CHECK(escape_help("a \\ b\nc \"quoted\"") == "a \\\\ b\\nc \"quoted\"");  // quotes stay in HELP
  CHECK(escape_label_value("a \\ b\nc \"quoted\"") == "a \\\\ b\\nc \\\"quoted\\\"");
  CHECK(escape_label_value("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80") == "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
  // Invalid UTF-8 (a stray continuation byte, a truncated sequence, an
  // overlong '/', a surrogate, 0xFF) becomes U+FFFD, one per bad byte.
  const std::string fffd = "\xEF\xBF\xBD";
  CHECK(escape_label_value("a\x80z") == "a" + fffd + "z");
  CHECK(escape_label_value("a\xC3") == "a" + fffd);
  CHECK(escape_label_value("\xC0\xAF") == fffd + fffd);
  CHECK(escape_label_value("\xED\xA0\x80") == fffd + fffd + fffd);
  CHECK(escape_label_value("\xFF") == fffd);

  Registry r;
  auto& g = r.gauge("peer_value", "Line one\nline two, with a \\ backslash.", {"peer"});
  g.with({"say \"hi\"\\\n"}).set(1);
  CHECK(r.render() ==
        "# HELP peer_value Line one\\nline two, with a \\\\ backslash.\n"
        "# TYPE peer_value gauge\n"
        "peer_value{peer=\"say \\\"hi\\\"\\\\\\n\"} 1\n");
}

TEST_CASE("render does not depend on the order of registration or first use", "[unit][metrics]") {
  const std::vector<std::vector<std::string>> label_sets = {{"b", "x"}, {"a", "y"}, {"a", "x"}, {"B", "z"}, {"", "x"}};

  Registry forward;
  auto& f_counter = forward.counter("zeta_total", "Zeta.", {"k", "v"});
  auto& f_gauge = forward.gauge("alpha", "Alpha.", {"k", "v"});
  for (const auto& labels : label_sets) {
    f_counter.with(labels).inc();
    f_gauge.with(labels).set(2);
  }

  Registry backward;
  auto& b_gauge = backward.gauge("alpha", "Alpha.", {"k", "v"});
  auto& b_counter = backward.counter("zeta_total", "Zeta.", {"k", "v"});
  for (auto it = label_sets.rbegin(); it != label_sets.rend(); ++it) {
    b_gauge.with(*it).set(2);
    b_counter.with(*it).inc();
  }

  const std::string text = forward.render();
  CHECK(text == backward.render());
  CHECK(text == forward.render());
  // Families by name, children by label values (byte order).
  CHECK(text.find("# HELP alpha") < text.find("# HELP zeta_total"));
  CHECK(text.find("alpha{k=\"\",v=\"x\"}") < text.find("alpha{k=\"B\",v=\"z\"}"));
  CHECK(text.find("alpha{k=\"B\",v=\"z\"}") < text.find("alpha{k=\"a\",v=\"x\"}"));
  CHECK(text.find("alpha{k=\"a\",v=\"x\"}") < text.find("alpha{k=\"a\",v=\"y\"}"));
  CHECK(text.find("alpha{k=\"a\",v=\"y\"}") < text.find("alpha{k=\"b\",v=\"x\"}"));
}

// ------------------------------------------------------------------ metrics

TEST_CASE("counters count exactly, gauges go both ways", "[unit][metrics]") {
  Registry r;
  auto& c = r.counter("big_total", "Big.").with();
  c.inc((std::uint64_t{1} << 53) + 1);  // not representable as a double
  c.inc();
  CHECK(c.value() == (std::uint64_t{1} << 53) + 2);
  CHECK_THAT(r.render(), Contains("big_total 9007199254740994\n"));

  auto& d = r.double_counter("work_seconds_total", "Work.").with();
  d.inc(0.25);
  d.inc();
  CHECK(d.value() == 1.25);

  auto& g = r.gauge("level", "Level.").with();
  g.set(5);
  g.inc();
  g.inc(1.5);
  g.dec();
  g.dec(10);
  CHECK(g.value() == -3.5);
  CHECK_THAT(r.render(), Contains("level -3.5\n"));
}

TEST_CASE("histogram buckets: edges, cumulative counts, infinities, NaN", "[unit][metrics]") {
  Histogram h({0.5, 1, 2, std::numeric_limits<double>::infinity()});  // a trailing +Inf is implicit
  CHECK(h.upper_bounds() == std::vector<double>{0.5, 1, 2});
  CHECK(h.cumulative_counts() == std::vector<std::uint64_t>{0, 0, 0, 0});

  h.observe(0.5);  // on an edge: counted in that bucket (le means <=)
  h.observe(0.5000001);
  h.observe(2);
  h.observe(-1);
  h.observe(-1);
  h.observe(3);
  h.observe(std::nan(""));  // ignored
  CHECK(h.cumulative_counts() == std::vector<std::uint64_t>{3, 4, 5, 6});
  CHECK(h.count() == 6);
  h.observe(std::numeric_limits<double>::infinity());
  CHECK(h.cumulative_counts() == std::vector<std::uint64_t>{3, 4, 5, 7});
  CHECK(h.count() == 7);
  CHECK(std::isinf(h.sum()));

  Histogram low({0});
  low.observe(-std::numeric_limits<double>::infinity());  // the first bucket
  CHECK(low.cumulative_counts() == std::vector<std::uint64_t>{1, 1});

  Histogram only_inf({});
  only_inf.observe(42);
  CHECK(only_inf.cumulative_counts() == std::vector<std::uint64_t>{1});
  CHECK(only_inf.sum() == 42);
}

TEST_CASE("with() returns a stable child; remove() drops it", "[unit][metrics]") {
  Registry r;
  auto& family = r.counter("hits_total", "Hits.", {"peer"});
  Counter& first = family.with({"p0"});
  first.inc();
  for (int i = 1; i < 200; ++i) family.with({"p" + std::to_string(i)}).inc();
  CHECK(&family.with({"p0"}) == &first);  // same child, no reallocation
  CHECK(first.value() == 1);
  CHECK(family.size() == 200);
  CHECK(family.name() == "hits_total");
  CHECK(family.help() == "Hits.");
  CHECK(family.label_names() == std::vector<std::string>{"peer"});

  CHECK(family.remove({"p0"}));
  CHECK_FALSE(family.remove({"p0"}));
  CHECK(family.size() == 199);
  CHECK_THAT(r.render(), !Contains("hits_total{peer=\"p0\"}"));
  CHECK(family.with({"p0"}).value() == 0);  // a new series starts at zero
}

TEST_CASE("a full family sends new label values to one overflow child", "[unit][metrics]") {
  Registry r;
  auto& family = r.counter("peer_messages_total", "Messages per peer.", {"peer", "type"});
  for (std::size_t i = 0; i < kMaxChildrenPerFamily; ++i) family.with({"peer" + std::to_string(i), "ping"}).inc();
  CHECK(family.size() == kMaxChildrenPerFamily);

  Counter& overflow = family.with({"newcomer", "ping"});
  overflow.inc();
  family.with({"another", "pong"}).inc(2);
  CHECK(&family.with({"yet another", "ping"}) == &overflow);
  CHECK(overflow.value() == 3);
  CHECK(family.size() == kMaxChildrenPerFamily + 1);  // the cap, plus the one overflow child

  // Existing children are still themselves.
  CHECK(family.with({"peer0", "ping"}).value() == 1);
  CHECK(&family.with({"peer0", "ping"}) != &overflow);

  const std::string text = r.render();
  CHECK_THAT(text, Contains("peer_messages_total{peer=\"_overflow\",type=\"_overflow\"} 3\n"));
  CHECK_THAT(text, !Contains("newcomer"));
  CHECK_THAT(text, !Contains("another"));

  // Removing a child frees a slot for a new label set.
  CHECK(family.remove({"peer0", "ping"}));
  CHECK(&family.with({"newcomer", "ping"}) != &overflow);
  CHECK(family.size() == kMaxChildrenPerFamily + 1);
  CHECK(&family.with({"latecomer", "ping"}) == &overflow);
}

// -------------------------------------------------------------- NodeMetrics

TEST_CASE("NodeMetrics registers every metric of DESIGN.md section 8", "[unit][metrics]") {
  core::metrics::NodeMetrics m("1.2.3");
  const std::string text = m.render();

  // name, # TYPE: written out here, independent of kNodeMetricNames.
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"tnode_handshakes_total", "counter"},
      {"tnode_handshake_failures_total", "counter"},
      {"tnode_handshake_duration_seconds", "histogram"},
      {"tnode_dial_errors_total", "counter"},
      {"tnode_connections", "gauge"},
      {"tnode_connections_max", "gauge"},
      {"tnode_reconnect_attempts_total", "counter"},
      {"tnode_disconnects_total", "counter"},
      {"tnode_partition_events_total", "counter"},
      {"tnode_masternodes", "gauge"},
      {"tnode_masternodes_seen", "gauge"},
      {"tnode_chain_height", "gauge"},
      {"tnode_chain_tip_timestamp_seconds", "gauge"},
      {"tnode_block_time_seconds", "gauge"},
      {"tnode_peer_height", "gauge"},
      {"tnode_blocks_produced_total", "counter"},
      {"tnode_blocks_received_total", "counter"},
      {"tnode_reorgs_total", "counter"},
      {"tnode_invalid_blocks_total", "counter"},
      {"tnode_sync_stalls_total", "counter"},
      {"tnode_bans_active", "gauge"},
      {"tnode_breakers_open", "gauge"},
      {"tnode_messages_total", "counter"},
      {"tnode_bytes_total", "counter"},
      {"tnode_http_connections", "gauge"},
      {"tnode_http_connections_refused_total", "counter"},
      {"tnode_http_connections_closed_total", "counter"},
      {"tnode_build_info", "gauge"},
      {"tnode_uptime_seconds", "gauge"},
  };
  for (const auto& [name, type] : expected) {
    INFO(name);
    CHECK_THAT(text, Contains("\n# HELP " + name + " ") || Catch::Matchers::StartsWith("# HELP " + name + " "));
    CHECK_THAT(text, Contains("\n# TYPE " + name + " " + type + "\n"));
  }
  CHECK(m.registry.family_count() == expected.size());
  REQUIRE(core::metrics::kNodeMetricNames.size() == expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) CHECK(core::metrics::kNodeMetricNames[i] == expected[i].first);

  // Label names, through series that exist from the start.
  CHECK_THAT(text, Contains("tnode_build_info{version=\"1.2.3\"} 1\n"));
  CHECK_THAT(text, Contains("tnode_handshakes_total{result=\"ok\"} 0\n"));
  CHECK_THAT(text, Contains("tnode_connections{direction=\"outbound\",class=\"masternode\"} 0\n"));
  CHECK_THAT(text, Contains("tnode_reconnect_attempts_total{class=\"discovered\"} 0\n"));
  CHECK_THAT(text, Contains("tnode_messages_total{type=\"get_headers\",direction=\"received\"} 0\n"));
  CHECK_THAT(text, Contains("tnode_bytes_total{direction=\"sent\"} 0\n"));
  CHECK_THAT(text, Contains("tnode_chain_height 0\n"));
  CHECK(m.handshakes.label_names() == std::vector<std::string>{"result"});
  CHECK(m.handshake_failures.label_names() == std::vector<std::string>{"reason"});
  CHECK(m.dial_errors.label_names() == std::vector<std::string>{"reason"});
  CHECK(m.connections.label_names() == std::vector<std::string>{"direction", "class"});
  CHECK(m.reconnect_attempts.label_names() == std::vector<std::string>{"class"});
  CHECK(m.disconnects.label_names() == std::vector<std::string>{"reason"});
  CHECK(m.peer_height.label_names() == std::vector<std::string>{"peer"});
  CHECK(m.messages.label_names() == std::vector<std::string>{"type", "direction"});
  CHECK(m.bytes.label_names() == std::vector<std::string>{"direction"});
  CHECK(m.build_info.label_names() == std::vector<std::string>{"version"});
  CHECK(m.http_refused.label_names() == std::vector<std::string>{"reason"});
  CHECK(m.http_closed.label_names() == std::vector<std::string>{"reason"});

  // Handshake durations: buckets from 1 ms to 10 s.
  CHECK_THAT(text, Contains("tnode_handshake_duration_seconds_bucket{le=\"0.001\"} 0\n"));
  CHECK_THAT(text, Contains("tnode_handshake_duration_seconds_bucket{le=\"10\"} 0\n"));
  CHECK_THAT(text, Contains("tnode_handshake_duration_seconds_bucket{le=\"+Inf\"} 0\n"));
}

TEST_CASE("NodeMetrics members update the series render() shows", "[unit][metrics]") {
  core::metrics::NodeMetrics m("0.1.0");
  m.handshake_duration.observe(0.001);
  m.handshake_duration.observe(0.02);
  m.peer_height.with({"ab12"}).set(99);
  m.chain_height.set(100);
  m.partition_events.inc();
  m.uptime_seconds.set(12.5);
  m.disconnects.with({"timeout"}).inc();
  m.masternodes.set(4);
  m.masternodes_seen.set(1);
  m.chain_tip_timestamp.set(1767225600.5);
  m.block_time.set(0.5);

  const std::string text = m.render();
  CHECK_THAT(text, Contains("tnode_handshake_duration_seconds_bucket{le=\"0.001\"} 1\n"));
  CHECK_THAT(text, Contains("tnode_handshake_duration_seconds_bucket{le=\"0.01\"} 1\n"));
  CHECK_THAT(text, Contains("tnode_handshake_duration_seconds_bucket{le=\"0.025\"} 2\n"));
  CHECK_THAT(text, Contains("tnode_handshake_duration_seconds_count 2\n"));
  CHECK_THAT(text, Contains("tnode_peer_height{peer=\"ab12\"} 99\n"));
  CHECK_THAT(text, Contains("tnode_chain_height 100\n"));
  CHECK_THAT(text, Contains("tnode_partition_events_total 1\n"));
  CHECK_THAT(text, Contains("tnode_uptime_seconds 12.5\n"));
  CHECK_THAT(text, Contains("tnode_disconnects_total{reason=\"timeout\"} 1\n"));
  CHECK_THAT(text, Contains("tnode_masternodes 4\n"));
  CHECK_THAT(text, Contains("tnode_masternodes_seen 1\n"));
  CHECK_THAT(text, Contains("tnode_chain_tip_timestamp_seconds 1.7672256005e+09\n"));
  CHECK_THAT(text, Contains("tnode_block_time_seconds 0.5\n"));

  m.peer_height.remove({"ab12"});
  CHECK_THAT(m.render(), !Contains("tnode_peer_height{"));
}
