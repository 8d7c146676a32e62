#pragma once
// How tpeer-probe shows results: the label column of the text output,
// milliseconds for people and for JSON, the JSON of a network, a failure and
// a step, and latency percentiles.

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "libcore/node/wire.hpp"
#include "tpeer-probe/probe_network.hpp"
#include "tpeer-probe/probe_session.hpp"

namespace tpeer_probe {

// Milliseconds rounded to microseconds, for JSON.
double round_ms(double ms);
// "1.23 ms" below 10 ms, "12.3 ms" from there.
std::string fmt_ms(double ms);

// Width of the result column in the human output: fits
// "rejected:genesis_mismatch" and most other classes.
inline constexpr std::size_t kClassWidth = 28;

// Left-aligned label column of the human output.
std::string col(const std::string& label, std::size_t width = 12);

// The network's name, genesis hash and source; null without a network.
nlohmann::json network_json(const std::optional<Network>& n);

// How a failure is explained to a human: whose decision a rejection was.
std::string explain(const core::node::Failure& f);
// {"class", "kind", "detail"}, with "code" and "by_peer" when they apply.
nlohmann::json failure_json(const core::node::Failure& f);
// {"step", "ok", "status"}, with "ms" and the failure's fields, or "reason".
nlohmann::json step_json(const Step& st);

// Nearest-rank p50, p90, p99, max and mean of a sample in ms, with its count
// (JSON) or on one line (text); null or "-" for an empty sample.
nlohmann::json percentiles_json(const std::vector<double>& v);
std::string percentiles_text(const std::vector<double>& v);

}  // namespace tpeer_probe
