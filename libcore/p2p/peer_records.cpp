#include "libcore/p2p/peer_records.hpp"

#include <bit>
#include <cmath>

namespace core::p2p {

namespace {

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

// The error of a field, named: "address record: last_error: truncated ...".
tl::unexpected<util::Error> field_error(const char* field, util::Error e) {
  std::string prefix(field);
  prefix += ": ";
  e.context(prefix);
  return tl::unexpected(std::move(e));
}

// Unwraps a Result into `out` or returns its error, naming the field.
#define TRY_FIELD(out, expr, field)                                    \
  do {                                                                 \
    auto tried_ = (expr);                                              \
    if (!tried_) return field_error(field, std::move(tried_.error())); \
    out = std::move(*tried_);                                          \
  } while (0)

// The leading format version byte of a record.
util::Result<void> read_version(codec::Reader& r, const char* record) {
  auto version = r.u8();
  if (!version) return field_error(record, std::move(version.error()));
  if (*version != kPeerRecordVersion)
    return util::fail(std::string(record) + " version " + std::to_string(*version) + ", this build reads " +
                      std::to_string(kPeerRecordVersion));
  return {};
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
  codec::Reader r(bytes);
  AddressRecord a;
  if (auto ok = read_version(r, "address record"); !ok) return tl::unexpected(ok.error());
  TRY_FIELD(a.address, r.str(kMaxRecordAddress), "address");
  bool has_id = false;
  TRY_FIELD(has_id, read_bool(r), "node_id flag");
  if (has_id) {
    crypto::PublicKey id;
    TRY_FIELD(id, r.fixed<32>(), "node_id");
    a.node_id = id;
  }
  TRY_FIELD(a.source, r.str(kMaxRecordSource), "source");
  TRY_FIELD(a.self, read_bool(r), "self");
  TRY_FIELD(a.wrong_network, read_bool(r), "wrong_network");
  TRY_FIELD(a.total_attempts, r.u64(), "total_attempts");
  TRY_FIELD(a.total_failures, r.u64(), "total_failures");
  TRY_FIELD(a.last_attempt_ms, read_optional_i64(r), "last_attempt");
  TRY_FIELD(a.last_success_ms, read_optional_i64(r), "last_success");
  TRY_FIELD(a.last_error, r.str(kMaxRecordError), "last_error");
  std::uint64_t score_bits = 0;
  TRY_FIELD(score_bits, r.u64(), "score");
  a.score = std::bit_cast<double>(score_bits);
  if (!std::isfinite(a.score) || a.score < kMinScore || a.score > kMaxScore) return util::fail("score: out of range");
  TRY_FIELD(a.score_as_of_ms, r.i64(), "score_as_of");
  std::uint8_t peer_class = 0;
  TRY_FIELD(peer_class, r.u8(), "class");
  if (peer_class > static_cast<std::uint8_t>(PeerClass::Discovered)) return util::fail("class: unknown value");
  a.dial.peer_class = static_cast<PeerClass>(peer_class);
  TRY_FIELD(a.dial.attempts, r.u32(), "attempts");
  TRY_FIELD(a.dial.consecutive_failures, r.u32(), "consecutive_failures");
  TRY_FIELD(a.dial.backoff_failures, r.u32(), "backoff_failures");
  TRY_FIELD(a.dial.parked, read_bool(r), "parked");
  TRY_FIELD(a.dial.not_before_ms, read_optional_i64(r), "not_before");
  TRY_FIELD(a.dial.last_attempt_ms, read_optional_i64(r), "dial last_attempt");
  std::uint8_t breaker = 0;
  TRY_FIELD(breaker, r.u8(), "breaker");
  if (breaker > static_cast<std::uint8_t>(BreakerState::HalfOpen)) return util::fail("breaker: unknown value");
  a.dial.breaker = static_cast<BreakerState>(breaker);
  TRY_FIELD(a.dial.opened_at_ms, r.i64(), "opened_at");
  std::int64_t cooldown = 0;
  TRY_FIELD(cooldown, r.i64(), "cooldown");
  if (cooldown < 0) return util::fail("cooldown: negative");
  a.dial.cooldown = Millis(cooldown);
  std::uint32_t n = 0;
  TRY_FIELD(n, r.count(kMaxRecordRecentAttempts, 8), "recent_attempts");
  for (std::uint32_t i = 0; i < n; ++i) {
    std::int64_t t = 0;
    TRY_FIELD(t, r.i64(), "recent_attempts");
    a.recent_attempts_ms.push_back(t);
  }
  if (auto ok = r.finish(); !ok) return util::fail("address record: " + ok.error().message);
  return a;
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
  codec::Reader r(bytes);
  BanRecord b;
  if (auto ok = read_version(r, "ban record"); !ok) return tl::unexpected(ok.error());
  TRY_FIELD(b.node_id, r.fixed<32>(), "node_id");
  TRY_FIELD(b.since_ms, r.i64(), "since");
  TRY_FIELD(b.until_ms, r.i64(), "until");
  TRY_FIELD(b.reason, r.str(kMaxRecordReason), "reason");
  if (auto ok = r.finish(); !ok) return util::fail("ban record: " + ok.error().message);
  return b;
}

#undef TRY_FIELD

}  // namespace core::p2p
