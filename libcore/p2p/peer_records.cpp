#include "libcore/p2p/peer_records.hpp"

#include <bit>
#include <cmath>

#include "libcore/codec/field_reader.hpp"

namespace core::p2p {

namespace {

constexpr std::size_t kI64Size = 8;  // the encoded size of an i64

void optional_i64(codec::Writer& w, const std::optional<std::int64_t>& v) {
  w.u8(v ? 1 : 0);
  if (v) w.i64(*v);
}

util::Result<std::optional<std::int64_t>> read_optional_i64(codec::Reader& r) {
  auto flag = r.u8();
  if (!flag) return tl::unexpected(flag.error());
  if (*flag > 1) return util::fail("bad presence flag " + std::to_string(*flag));
  if (*flag == 0) return std::optional<std::int64_t>{};
  auto v = r.i64();
  if (!v) return tl::unexpected(v.error());
  return std::optional<std::int64_t>{*v};
}

util::Result<bool> read_bool(codec::Reader& r) {
  auto v = r.u8();
  if (!v) return tl::unexpected(v.error());
  if (*v > 1) return util::fail("bad boolean " + std::to_string(*v));
  return *v == 1;
}

// An enum stored as one byte, with the values 0 to Last.
template <typename E, E Last>
util::Result<E> read_enum(codec::Reader& r) {
  auto v = r.u8();
  if (!v) return tl::unexpected(v.error());
  if (*v > static_cast<std::uint8_t>(Last)) return util::fail("unknown value");
  return static_cast<E>(*v);
}

// The leading format version byte of a record: "address record: version 2,
// this build reads 1".
void read_version(codec::FieldReader& in) {
  std::uint8_t version = 0;
  in.u8("version", version).check([&]() -> util::Result<void> {
    if (version == kPeerRecordVersion) return {};
    return util::fail("version " + std::to_string(version) + ", this build reads " +
                      std::to_string(kPeerRecordVersion));
  });
}

}  // namespace

std::optional<BreakerState> parse_breaker_state(std::string_view name) {
  for (auto s : {BreakerState::Closed, BreakerState::Open, BreakerState::HalfOpen})
    if (name == to_string(s)) return s;
  return std::nullopt;
}

codec::Bytes encode(const AddressRecord& r) {
  codec::Writer w;
  w.u8(kPeerRecordVersion);
  w.str(r.address);
  w.u8(r.node_id ? 1 : 0);
  if (r.node_id) w.fixed(*r.node_id);
  w.str(r.source);
  w.u8(r.self ? 1 : 0);
  w.u8(r.wrong_network ? 1 : 0);
  w.u64(r.total_attempts);
  w.u64(r.total_failures);
  optional_i64(w, r.last_attempt_ms);
  optional_i64(w, r.last_success_ms);
  w.str(r.last_error.substr(0, kMaxRecordError));
  w.u64(std::bit_cast<std::uint64_t>(r.score));
  w.i64(r.score_as_of_ms);
  w.u8(static_cast<std::uint8_t>(r.dial.peer_class));
  w.u32(r.dial.attempts);
  w.u32(r.dial.consecutive_failures);
  w.u32(r.dial.backoff_failures);
  w.u8(r.dial.parked ? 1 : 0);
  optional_i64(w, r.dial.not_before_ms);
  optional_i64(w, r.dial.last_attempt_ms);
  w.u8(static_cast<std::uint8_t>(r.dial.breaker));
  w.i64(r.dial.opened_at_ms);
  w.i64(r.dial.cooldown.count());
  const auto n = std::min<std::size_t>(r.recent_attempts_ms.size(), kMaxRecordRecentAttempts);
  w.u32(static_cast<std::uint32_t>(n));
  for (std::size_t i = r.recent_attempts_ms.size() - n; i < r.recent_attempts_ms.size(); ++i)
    w.i64(r.recent_attempts_ms[i]);
  return w.take();
}

util::Result<AddressRecord> decode_address_record(std::span<const std::uint8_t> bytes) {
  codec::FieldReader in(bytes, "address record");
  AddressRecord a;
  read_version(in);
  in.str("address", a.address, kMaxRecordAddress);
  bool has_id = false;
  in.read("node_id flag", has_id, read_bool);
  if (has_id) in.fixed("node_id", a.node_id.emplace());
  in.str("source", a.source, kMaxRecordSource);
  in.read("self", a.self, read_bool).read("wrong_network", a.wrong_network, read_bool);
  in.u64("total_attempts", a.total_attempts).u64("total_failures", a.total_failures);
  in.read("last_attempt", a.last_attempt_ms, read_optional_i64);
  in.read("last_success", a.last_success_ms, read_optional_i64);
  in.str("last_error", a.last_error, kMaxRecordError);
  std::uint64_t score_bits = 0;
  in.u64("score", score_bits);
  a.score = std::bit_cast<double>(score_bits);
  in.require(std::isfinite(a.score) && a.score >= kMinScore && a.score <= kMaxScore, "score", "out of range");
  in.i64("score_as_of", a.score_as_of_ms);
  in.read("class", a.dial.peer_class, read_enum<PeerClass, PeerClass::Discovered>);
  in.u32("attempts", a.dial.attempts).u32("consecutive_failures", a.dial.consecutive_failures);
  in.u32("backoff_failures", a.dial.backoff_failures).read("parked", a.dial.parked, read_bool);
  in.read("not_before", a.dial.not_before_ms, read_optional_i64);
  in.read("dial last_attempt", a.dial.last_attempt_ms, read_optional_i64);
  in.read("breaker", a.dial.breaker, read_enum<BreakerState, BreakerState::HalfOpen>);
  in.i64("opened_at", a.dial.opened_at_ms);
  std::int64_t cooldown = 0;
  in.i64("cooldown", cooldown).require(cooldown >= 0, "cooldown", "negative");
  a.dial.cooldown = Millis(cooldown);
  std::uint32_t n = 0;
  in.count("recent_attempts", n, kMaxRecordRecentAttempts, kI64Size);
  a.recent_attempts_ms.resize(n);
  for (auto& t : a.recent_attempts_ms) in.i64("recent_attempts", t);
  return in.finish(std::move(a));
}

codec::Bytes encode(const BanRecord& b) {
  codec::Writer w;
  w.u8(kPeerRecordVersion);
  w.fixed(b.node_id);
  w.i64(b.since_ms);
  w.i64(b.until_ms);
  w.str(b.reason.substr(0, kMaxRecordReason));
  return w.take();
}

util::Result<BanRecord> decode_ban_record(std::span<const std::uint8_t> bytes) {
  codec::FieldReader in(bytes, "ban record");
  BanRecord b;
  read_version(in);
  in.fixed("node_id", b.node_id).i64("since", b.since_ms).i64("until", b.until_ms);
  in.str("reason", b.reason, kMaxRecordReason);
  return in.finish(std::move(b));
}

}  // namespace core::p2p
