#pragma once
// A small Prometheus metrics registry (DESIGN.md section 8), with no
// networking: the HTTP module serves the string render() returns at
// GET /metrics.
//
//   Counter / DoubleCounter   monotonic, uint64 or double;
//   Gauge                     set / inc / dec, double;
//   Histogram                 fixed upper bounds chosen at registration,
//                             cumulative buckets, _sum, _count, le="+Inf";
//   Family<Metric>            one metric name, help text and fixed label
//                             names; with({values...}) is the child (time
//                             series) for one set of label values;
//   Registry                  owns the families; render() is the text
//                             exposition format 0.0.4.
//
// Thread contract: a Registry, its families and their children are owned by
// one thread, the node's strand. Updates and render() run there; the HTTP
// thread posts a request for render() to the strand and serves the string it
// gets back. Nothing here locks or uses atomics: every update on the node's
// hot paths is a plain add, and a scrape is rare enough to afford one hop to
// the strand. None of these classes is thread-safe.
//
// Errors: every name, label list and bucket layout is written in the code, so
// a wrong one is a programming error, asserted at registration (and the unit
// tests and `promtool check metrics` see every name NodeMetrics registers).
// Label *values* may come from the network (peer ids, reasons): they are
// escaped on output, and invalid UTF-8 is replaced by U+FFFD so the
// exposition always parses.
//
// Bounded memory: a family holds at most kMaxChildrenPerFamily children. Once
// it is full, with() returns one shared overflow child whose label values are
// all kOverflowLabelValue ("_overflow"), so a peer that makes the node see
// ever new label values (ids, reasons) cannot grow memory without bound; the
// overflow series shows that the cap was hit. Callers should still keep label
// values to small closed sets (reason names, peer classes) or to ids of
// connected peers, and remove() series that end (a disconnected peer).

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace core::metrics {

// Children (label value sets) per family before with() starts returning the
// overflow child. The overflow child comes on top: at most
// kMaxChildrenPerFamily + 1 series per family.
inline constexpr std::size_t kMaxChildrenPerFamily = 1000;
// Every label value of the overflow child.
inline constexpr std::string_view kOverflowLabelValue = "_overflow";

// Prometheus metric names: [a-zA-Z_:][a-zA-Z0-9_:]*.
bool is_valid_metric_name(std::string_view name);
// Prometheus label names: [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__"
// (reserved for Prometheus itself).
bool is_valid_label_name(std::string_view name);

// A sample value or `le` bound as Prometheus' own Go client writes it
// (strconv 'g', shortest round trip): "0", "1", "0.005", "2.5", "100000",
// "1e+06", "1.5e-05", "+Inf", "-Inf", "NaN". Keeping the Go spelling keeps
// `le` label values identical to those of other exporters.
std::string format_value(double value);

// Escapes for the text format: HELP text escapes backslash and newline; label
// values also escape the double quote. Invalid UTF-8 becomes U+FFFD.
std::string escape_help(std::string_view text);
std::string escape_label_value(std::string_view value);

enum class MetricType { Counter, Gauge, Histogram };
// "counter", "gauge", "histogram": the # TYPE line.
const char* to_string(MetricType type);

// ------------------------------------------------------------------ metrics

// A monotonic counter. T is std::uint64_t (events, bytes: exact) or double
// (seconds and other fractional amounts).
template <typename T>
class BasicCounter {
  static_assert(std::is_same_v<T, std::uint64_t> || std::is_same_v<T, double>, "counters count uint64 or double");

 public:
  static constexpr MetricType kType = MetricType::Counter;

  // Adds `amount`. For DoubleCounter a negative or NaN amount is a
  // programming error (asserted); release builds ignore it, so the counter
  // stays monotonic. A uint64 counter wraps after 2^64 (not reachable).
  void inc(T amount = 1) {
    if constexpr (std::is_same_v<T, double>) {
      assert(amount >= 0 && "counters never go down");
      if (!(amount >= 0)) return;
    }
    value_ += amount;
  }
  T value() const { return value_; }

 private:
  T value_ = 0;
};
using Counter = BasicCounter<std::uint64_t>;
using DoubleCounter = BasicCounter<double>;

// A value that goes up and down.
class Gauge {
 public:
  static constexpr MetricType kType = MetricType::Gauge;

  void set(double value) { value_ = value; }
  void inc(double amount = 1) { value_ += amount; }
  void dec(double amount = 1) { value_ -= amount; }
  double value() const { return value_; }

 private:
  double value_ = 0;
};

// Observations counted into fixed buckets. Bucket i counts observations
// <= upper_bounds()[i] (a value on an edge lands in that edge's bucket); the
// implicit last bucket (+Inf) counts all of them.
class Histogram {
 public:
  static constexpr MetricType kType = MetricType::Histogram;

  // Bounds: strictly increasing, no NaN; a trailing +Inf is dropped (it is
  // always implicit). Violations are programming errors (asserted).
  explicit Histogram(std::vector<double> upper_bounds);

  // Counts one observation, e.g. a duration in seconds. NaN is ignored (it
  // would make _sum NaN for ever); +-Inf land in the +Inf / first bucket.
  void observe(double value);

  const std::vector<double>& upper_bounds() const { return *bounds_; }
  // Cumulative counts: one per upper bound, then the +Inf bucket (== count()).
  std::vector<std::uint64_t> cumulative_counts() const;
  std::uint64_t count() const { return count_; }
  double sum() const { return sum_; }

 private:
  // Shared by every child of a family: the layout is fixed at registration.
  std::shared_ptr<const std::vector<double>> bounds_;
  std::vector<std::uint64_t> bucket_counts_;  // per bucket (not cumulative), +Inf last
  std::uint64_t count_ = 0;
  double sum_ = 0;
};

// ----------------------------------------------------------------- families

namespace detail {
// What the registry needs from a family of any metric type.
class FamilyBase {
 public:
  virtual ~FamilyBase() = default;
  // Appends the # HELP, # TYPE and sample lines of this family.
  virtual void render(std::string& out) const = 0;
};
}  // namespace detail

// One metric name with its help text and label names, and its children: one
// Metric per set of label values, kept in label-value order (std::map) so
// render() is deterministic.
template <typename Metric>
class Family final : public detail::FamilyBase {
 public:
  Family(const Family&) = delete;
  Family& operator=(const Family&) = delete;

  // The child for `label_values` (one per label name, in order), created at
  // zero on first use. The reference stays valid until remove() of the same
  // values or the registry's destruction: hold it instead of looking it up
  // on every update. When the family already holds kMaxChildrenPerFamily
  // children, a new set of values gets the overflow child instead (see the
  // top of this file). Passing the wrong number of values is a programming
  // error (asserted; release builds return the overflow child). Families
  // without labels have one child, created at registration: with().
  Metric& with(const std::vector<std::string>& label_values = {});

  // Drops the child for `label_values`, e.g. tnode_peer_height of a peer
  // that disconnected; references to it dangle afterwards. Returns whether
  // it existed.
  bool remove(const std::vector<std::string>& label_values);

  // Children, including the overflow child if it exists.
  std::size_t size() const { return children_.size(); }
  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }

  void render(std::string& out) const override;

 private:
  friend class Registry;
  Family(std::string name, std::string help, std::vector<std::string> label_names, Metric prototype);

  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
  Metric prototype_;  // what a new child starts as (a histogram's bounds)
  std::map<std::vector<std::string>, Metric> children_;
};

// Compiled once in registry.cpp for these four types only.
extern template class Family<Counter>;
extern template class Family<DoubleCounter>;
extern template class Family<Gauge>;
extern template class Family<Histogram>;

// ----------------------------------------------------------------- registry

// Owns every family. Registration checks (asserts) that the name is a valid
// Prometheus metric name, the help text is not empty, the label names are
// valid and distinct, and that no series name collides with another family's
// (a histogram "x" also owns "x_bucket", "x_sum" and "x_count"). Returned
// references stay valid for the registry's lifetime; it is neither copyable
// nor movable so they cannot dangle.
class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Counter names should end in "_total" (promtool lints it).
  Family<Counter>& counter(std::string name, std::string help, std::vector<std::string> label_names = {});
  Family<DoubleCounter>& double_counter(std::string name, std::string help, std::vector<std::string> label_names = {});
  Family<Gauge>& gauge(std::string name, std::string help, std::vector<std::string> label_names = {});
  // `upper_bounds` as for Histogram; the label "le" is reserved.
  Family<Histogram>& histogram(std::string name, std::string help, std::vector<double> upper_bounds,
                               std::vector<std::string> label_names = {});

  // The Prometheus text exposition format 0.0.4
  // (Content-Type: text/plain; version=0.0.4): families sorted by name, each
  // with # HELP and # TYPE lines, then its samples, children in label-value
  // order; no timestamps. Families with labels and no children yet show only
  // their HELP and TYPE lines.
  std::string render() const;

  std::size_t family_count() const { return families_.size(); }

 private:
  template <typename Metric>
  Family<Metric>& add(std::string name, std::string help, std::vector<std::string> label_names, Metric prototype);

  // Keyed by name for a sorted render(); a multimap so that a duplicate
  // registration in a release build (asserted against) does not replace a
  // family someone holds a reference to.
  std::multimap<std::string, std::unique_ptr<detail::FamilyBase>> families_;
  std::vector<std::string> series_names_;  // every name a sample line may use
};

}  // namespace core::metrics
