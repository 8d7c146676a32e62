// Formatting shared by the subcommands: label columns, milliseconds, JSON of
// networks, failures and steps, and percentiles (see output.hpp).
#include "tpeer-probe/output.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace tpeer_probe {

namespace {

using core::node::Failure;
using core::node::FailureKind;
using nlohmann::json;

struct Percentiles {
  double p50 = 0, p90 = 0, p99 = 0, max = 0, mean = 0;
};

// Nearest-rank percentiles of a non-empty sample.
Percentiles percentiles(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  auto rank = [&](double p) {
    auto k = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
    return v[std::clamp<std::size_t>(k, 1, v.size()) - 1];
  };
  Percentiles out;
  out.p50 = rank(50);
  out.p90 = rank(90);
  out.p99 = rank(99);
  out.max = v.back();
  double sum = 0;
  for (double x : v) sum += x;
  out.mean = sum / static_cast<double>(v.size());
  return out;
}

}  // namespace

double round_ms(double ms) { return std::round(ms * 1000.0) / 1000.0; }

std::string fmt_ms(double ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, ms < 10 ? "%.2f ms" : "%.1f ms", ms);
  return buf;
}

std::string col(const std::string& label, std::size_t width) {
  return label.size() >= width ? label + " " : label + std::string(width - label.size(), ' ');
}

json network_json(const std::optional<Network>& n) {
  if (!n) return nullptr;
  return {{"name", n->name},
          {"genesis_hash", n->genesis_hash.hex()},
          {"source", n->source},
          {"masternodes_known", n->spec.has_value()}};
}

std::string explain(const Failure& f) {
  if (f.kind == FailureKind::rejected) return (f.by_peer ? "the peer said: " : "we refused the peer: ") + f.detail;
  if (f.code == "http_server") return f.detail;
  if (f.kind == FailureKind::protocol_error && f.code == "bad_magic")
    return "the peer sent: " + f.detail + " (a node of another network, or not a tnode)";
  if (f.kind == FailureKind::protocol_error && f.to_send) return "the peer sent: " + f.detail;
  return f.detail;
}

json failure_json(const Failure& f) {
  json j = {{"class", f.label()}, {"kind", core::node::to_string(f.kind)}, {"detail", f.detail}};
  if (!f.code.empty()) j["code"] = f.code;
  if (f.kind == FailureKind::rejected) j["by_peer"] = f.by_peer;
  return j;
}

json step_json(const Step& st) {
  json j = {{"step", st.name}, {"ok", st.status == StepStatus::ok}};
  switch (st.status) {
    case StepStatus::ok:
      j["status"] = "ok";
      j["ms"] = round_ms(st.ms);
      break;
    case StepStatus::failed:
      j["status"] = "failed";
      j["ms"] = round_ms(st.ms);
      j.update(failure_json(*st.failure));
      break;
    case StepStatus::skipped:
      j["status"] = "skipped";
      j["reason"] = st.skip_reason;
      break;
  }
  return j;
}

json percentiles_json(const std::vector<double>& v) {
  if (v.empty()) return nullptr;
  auto p = percentiles(v);
  return {{"p50", round_ms(p.p50)}, {"p90", round_ms(p.p90)},   {"p99", round_ms(p.p99)},
          {"max", round_ms(p.max)}, {"mean", round_ms(p.mean)}, {"count", v.size()}};
}

std::string percentiles_text(const std::vector<double>& v) {
  if (v.empty()) return "-";
  auto p = percentiles(v);
  return "p50 " + fmt_ms(p.p50) + "  p90 " + fmt_ms(p.p90) + "  p99 " + fmt_ms(p.p99) + "  max " + fmt_ms(p.max);
}

}  // namespace tpeer_probe
