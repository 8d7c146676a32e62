#include "libcore/metrics/registry.hpp"

#include <algorithm>
#include <array>
#include <cassert>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <system_error>
#include <utility>

namespace core::metrics {

namespace {

bool is_name_char(char c, bool colon_allowed, bool digit_allowed) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon_allowed && c == ':') ||
         (digit_allowed && c >= '0' && c <= '9');
}

// Length of the well-formed UTF-8 sequence at s[i] (RFC 3629: no overlong
// forms, no surrogates, nothing above U+10FFFF), or 0 if there is none.
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char lead = byte(i);
  if (lead < 0x80) return 1;
  std::size_t length = 0;
  unsigned char second_min = 0x80;
  unsigned char second_max = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) second_min = 0xA0;  // overlong
    if (lead == 0xED) second_max = 0x9F;  // surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) second_min = 0x90;  // overlong
    if (lead == 0xF4) second_max = 0x8F;  // above U+10FFFF
  } else {
    return 0;
  }
  if (i + length > s.size()) return 0;
  if (byte(i + 1) < second_min || byte(i + 1) > second_max) return 0;
  for (std::size_t k = 2; k < length; ++k)
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
  return length;
}

// Prometheus rejects invalid UTF-8, and label values may come from peers.
void append_escaped(std::string& out, std::string_view text, bool escape_quote) {
  static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD
  for (std::size_t i = 0; i < text.size();) {
    const char c = text[i];
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && escape_quote) {
      out += "\\\"";
    } else if (const std::size_t length = utf8_sequence_length(text, i); length == 0) {
      out += kReplacement;
    } else {
      out.append(text.substr(i, length));
      i += length;
      continue;
    }
    ++i;
  }
}

// `{a="x",b="y",le="0.5"}`, or nothing for a series without labels.
void append_labels(std::string& out, const std::vector<std::string>& names, const std::vector<std::string>& values,
                   std::string_view extra_name = {}, std::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) return;
  out += '{';
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ',';
    out += names[i];
    out += "=\"";
    append_escaped(out, values[i], true);
    out += '"';
  }
  if (!extra_name.empty()) {
    if (!names.empty()) out += ',';
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out += '"';
  }
  out += '}';
}

void append_sample(std::string& out, std::string_view name, std::string_view suffix,
                   const std::vector<std::string>& label_names, const std::vector<std::string>& label_values,
                   const std::string& value, std::string_view extra_name = {}, std::string_view extra_value = {}) {
  out += name;
  out += suffix;
  append_labels(out, label_names, label_values, extra_name, extra_value);
  out += ' ';
  out += value;
  out += '\n';
}

std::string format_sample(std::uint64_t value) { return std::to_string(value); }
std::string format_sample(double value) { return format_value(value); }

template <typename T>
void append_child(std::string& out, const std::string& name, const std::vector<std::string>& label_names,
                  const std::vector<std::string>& label_values, const BasicCounter<T>& counter) {
  append_sample(out, name, "", label_names, label_values, format_sample(counter.value()));
}

void append_child(std::string& out, const std::string& name, const std::vector<std::string>& label_names,
                  const std::vector<std::string>& label_values, const Gauge& gauge) {
  append_sample(out, name, "", label_names, label_values, format_value(gauge.value()));
}

void append_child(std::string& out, const std::string& name, const std::vector<std::string>& label_names,
                  const std::vector<std::string>& label_values, const Histogram& histogram) {
  const auto& bounds = histogram.upper_bounds();
  const auto cumulative = histogram.cumulative_counts();
  for (std::size_t i = 0; i < bounds.size(); ++i)
    append_sample(out, name, "_bucket", label_names, label_values, format_sample(cumulative[i]), "le",
                  format_value(bounds[i]));
  append_sample(out, name, "_bucket", label_names, label_values, format_sample(histogram.count()), "le", "+Inf");
  append_sample(out, name, "_sum", label_names, label_values, format_value(histogram.sum()));
  append_sample(out, name, "_count", label_names, label_values, format_sample(histogram.count()));
}

}  // namespace

bool is_valid_metric_name(std::string_view name) {
  if (name.empty() || !is_name_char(name.front(), true, false)) return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return is_name_char(c, true, true); });
}

bool is_valid_label_name(std::string_view name) {
  if (name.empty() || !is_name_char(name.front(), false, false) || name.starts_with("__")) return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return is_name_char(c, false, true); });
}

std::string format_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == 0) return "0";  // also -0, as the Go client writes it

  // Shortest round-trip digits and the decimal exponent, then Go's 'g' rule
  // for the shortest precision: exponent form when exp < -4 or exp >= 6.
  std::array<char, 64> buffer{};
  const auto [end, ec] =
      std::to_chars(buffer.data(), buffer.data() + buffer.size(), value, std::chars_format::scientific);
  assert(ec == std::errc{});
  std::string_view scientific(buffer.data(), static_cast<std::size_t>(end - buffer.data()));
  std::string out;
  if (scientific.front() == '-') {
    out += '-';
    scientific.remove_prefix(1);
  }
  const std::size_t e = scientific.find('e');
  std::string digits;
  for (char c : scientific.substr(0, e))
    if (c != '.') digits += c;
  // The exponent of %e output is always a valid integer: "e+06", "e-05".
  int exponent = 0;
  const auto exp_text = scientific.substr(e + 1);
  std::from_chars(exp_text.data() + (exp_text.front() == '+' ? 1 : 0), exp_text.data() + exp_text.size(), exponent);

  if (exponent < -4 || exponent >= 6) {
    out += digits.front();
    if (digits.size() > 1) {
      out += '.';
      out.append(digits, 1);
    }
    out += exponent < 0 ? "e-" : "e+";
    const int magnitude = std::abs(exponent);
    if (magnitude < 10) out += '0';
    out += std::to_string(magnitude);
    return out;
  }
  const int point = exponent + 1;  // digits before the decimal point
  if (point <= 0) {
    out += "0.";
    out.append(static_cast<std::size_t>(-point), '0');
    out += digits;
  } else if (static_cast<std::size_t>(point) >= digits.size()) {
    out += digits;
    out.append(static_cast<std::size_t>(point) - digits.size(), '0');
  } else {
    out.append(digits, 0, static_cast<std::size_t>(point));
    out += '.';
    out.append(digits, static_cast<std::size_t>(point));
  }
  return out;
}

std::string escape_help(std::string_view text) {
  std::string out;
  append_escaped(out, text, false);
  return out;
}

std::string escape_label_value(std::string_view value) {
  std::string out;
  append_escaped(out, value, true);
  return out;
}

const char* to_string(MetricType type) {
  switch (type) {
    case MetricType::Counter:
      return "counter";
    case MetricType::Gauge:
      return "gauge";
    case MetricType::Histogram:
      return "histogram";
  }
  return "untyped";
}

// ---------------------------------------------------------------- histogram

Histogram::Histogram(std::vector<double> upper_bounds) {
  if (!upper_bounds.empty() && upper_bounds.back() == std::numeric_limits<double>::infinity()) upper_bounds.pop_back();
  for (std::size_t i = 0; i < upper_bounds.size(); ++i) {
    assert(!std::isnan(upper_bounds[i]) && "histogram bound is NaN");
    assert((i == 0 || upper_bounds[i - 1] < upper_bounds[i]) && "histogram bounds must increase strictly");
  }
  bucket_counts_.assign(upper_bounds.size() + 1, 0);
  bounds_ = std::make_shared<const std::vector<double>>(std::move(upper_bounds));
}

void Histogram::observe(double value) {
  if (std::isnan(value)) return;
  // A linear scan: a dozen bounds, and it stays well-defined even if a
  // release build got bounds out of order.
  const auto& bounds = *bounds_;
  std::size_t bucket = 0;
  while (bucket < bounds.size() && value > bounds[bucket]) ++bucket;
  ++bucket_counts_[bucket];
  ++count_;
  sum_ += value;
}

std::vector<std::uint64_t> Histogram::cumulative_counts() const {
  std::vector<std::uint64_t> cumulative(bucket_counts_.size());
  std::uint64_t running = 0;
  for (std::size_t i = 0; i < bucket_counts_.size(); ++i) cumulative[i] = running += bucket_counts_[i];
  return cumulative;
}

// ------------------------------------------------------------------- family

template <typename Metric>
Family<Metric>::Family(std::string name, std::string help, std::vector<std::string> label_names, Metric prototype)
    : name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)),
      prototype_(std::move(prototype)) {}

template <typename Metric>
Metric& Family<Metric>::with(const std::vector<std::string>& label_values) {
  if (auto it = children_.find(label_values); it != children_.end()) return it->second;
  assert(label_values.size() == label_names_.size() && "one label value per label name");
  std::vector<std::string> overflow(label_names_.size(), std::string(kOverflowLabelValue));
  // The overflow child comes on top of the cap, so remove() frees a slot.
  const std::size_t regular_children = children_.size() - children_.count(overflow);
  if (label_values.size() == label_names_.size() && regular_children < kMaxChildrenPerFamily)
    return children_.try_emplace(label_values, prototype_).first->second;
  return children_.try_emplace(std::move(overflow), prototype_).first->second;
}

template <typename Metric>
bool Family<Metric>::remove(const std::vector<std::string>& label_values) {
  return children_.erase(label_values) > 0;
}

template <typename Metric>
void Family<Metric>::render(std::string& out) const {
  out += "# HELP ";
  out += name_;
  out += ' ';
  append_escaped(out, help_, false);
  out += "\n# TYPE ";
  out += name_;
  out += ' ';
  out += to_string(Metric::kType);
  out += '\n';
  for (const auto& [label_values, child] : children_) append_child(out, name_, label_names_, label_values, child);
}

template class Family<Counter>;
template class Family<DoubleCounter>;
template class Family<Gauge>;
template class Family<Histogram>;

// ----------------------------------------------------------------- registry

template <typename Metric>
Family<Metric>& Registry::add(std::string name, std::string help, std::vector<std::string> label_names,
                              Metric prototype) {
  assert(is_valid_metric_name(name) && "metric names match [a-zA-Z_:][a-zA-Z0-9_:]*");
  assert(!help.empty() && "every metric needs help text");
  for (std::size_t i = 0; i < label_names.size(); ++i) {
    assert(is_valid_label_name(label_names[i]) && "label names match [a-zA-Z_][a-zA-Z0-9_]*, no leading __");
    assert(std::count(label_names.begin(), label_names.end(), label_names[i]) == 1 && "label names are distinct");
  }
  std::vector<std::string> series{name};
  if constexpr (std::is_same_v<Metric, Histogram>) series = {name + "_bucket", name + "_sum", name + "_count", name};
  for (auto& s : series) {
    assert(std::find(series_names_.begin(), series_names_.end(), s) == series_names_.end() &&
           "metric name registered twice (or clashes with a histogram's _bucket/_sum/_count)");
    series_names_.push_back(std::move(s));
  }

  // The constructor is private to keep families owned by a registry.
  std::unique_ptr<Family<Metric>> family(
      new Family<Metric>(std::move(name), std::move(help), std::move(label_names), std::move(prototype)));
  Family<Metric>& result = *family;
  // A series without labels exists from the start, so it reads 0 instead of
  // being absent until its first update.
  if (result.label_names().empty()) result.with();
  families_.emplace(result.name(), std::move(family));
  return result;
}

Family<Counter>& Registry::counter(std::string name, std::string help, std::vector<std::string> label_names) {
  return add(std::move(name), std::move(help), std::move(label_names), Counter{});
}

Family<DoubleCounter>& Registry::double_counter(std::string name, std::string help,
                                                std::vector<std::string> label_names) {
  return add(std::move(name), std::move(help), std::move(label_names), DoubleCounter{});
}

Family<Gauge>& Registry::gauge(std::string name, std::string help, std::vector<std::string> label_names) {
  return add(std::move(name), std::move(help), std::move(label_names), Gauge{});
}

Family<Histogram>& Registry::histogram(std::string name, std::string help, std::vector<double> upper_bounds,
                                       std::vector<std::string> label_names) {
  assert(std::find(label_names.begin(), label_names.end(), "le") == label_names.end() &&
         "\"le\" is the histogram's bucket label");
  return add(std::move(name), std::move(help), std::move(label_names), Histogram(std::move(upper_bounds)));
}

std::string Registry::render() const {
  std::string out;
  for (const auto& [name, family] : families_) family->render(out);
  return out;
}

}  // namespace core::metrics
