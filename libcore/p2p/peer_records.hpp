#pragma once
// The node's memory of its peers, as stored in the chain store (DESIGN.md 4
// and 6): one AddressRecord per known address in the `peers` column family
// (key: the address, "host:port") and one BanRecord per banned node in
// `bans` (key: the 32-byte node id). tnode writes them; tchain peers/bans
// read them. Canonical codec encodings, each starting with a format version
// byte; the decoders are strict (bounded lengths, no trailing bytes) and
// their errors name the record and the field (codec::FieldReader):
// "address record: last_error: truncated input: ...",
// "ban record: version 2, this build reads 1".

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "libcore/codec/codec.hpp"
#include "libcore/crypto/types.hpp"
#include "libcore/p2p/dial_policy.hpp"
#include "libcore/util/error.hpp"

namespace core::p2p {

inline constexpr std::uint8_t kPeerRecordVersion = 1;
inline constexpr std::size_t kMaxRecordAddress = 255;
inline constexpr std::size_t kMaxRecordSource = 32;
inline constexpr std::size_t kMaxRecordError = 512;
inline constexpr std::size_t kMaxRecordReason = 512;
inline constexpr std::uint32_t kMaxRecordRecentAttempts = 64;

struct AddressRecord {
  std::string address;  // "host:port": also the key
  std::optional<crypto::PublicKey> node_id;
  std::string source;  // "genesis" | "config" | "gossip" | "inbound" | "admin"
  bool self = false;
  bool wrong_network = false;
  std::uint64_t total_attempts = 0;
  std::uint64_t total_failures = 0;
  std::optional<std::int64_t> last_attempt_ms, last_success_ms;  // unix ms
  std::string last_error;
  double score = 0;  // the score at score_as_of_ms
  std::int64_t score_as_of_ms = 0;
  AddressStateRecord dial;  // backoff, parking, breaker
  std::vector<std::int64_t> recent_attempts_ms;
  friend bool operator==(const AddressRecord&, const AddressRecord&) = default;
};

struct BanRecord {
  crypto::PublicKey node_id;  // also the key
  std::int64_t since_ms = 0;  // unix ms
  std::int64_t until_ms = 0;
  std::string reason;
  friend bool operator==(const BanRecord&, const BanRecord&) = default;
};

codec::Bytes encode(const AddressRecord& r);
util::Result<AddressRecord> decode_address_record(std::span<const std::uint8_t> bytes);
codec::Bytes encode(const BanRecord& r);
util::Result<BanRecord> decode_ban_record(std::span<const std::uint8_t> bytes);

// "closed" / "open" / "half_open" back to the state; nullopt otherwise.
std::optional<BreakerState> parse_breaker_state(std::string_view name);

}  // namespace core::p2p
