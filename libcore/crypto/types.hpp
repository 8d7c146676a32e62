#pragma once
// Fixed-size byte strings: hashes, public keys, signatures.

#include <algorithm>
#include <array>
#include <compare>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "libcore/util/error.hpp"
#include "libcore/util/hex.hpp"

namespace core::crypto {

template <std::size_t N>
struct FixedBytes {
  static constexpr std::size_t kSize = N;
  std::array<std::uint8_t, N> bytes{};

  std::string hex() const { return util::to_hex(bytes); }
  // First 8 bytes in hex: what logs and tables show.
  std::string short_hex() const { return util::to_hex(std::span(bytes).first(std::min<std::size_t>(N, 8))); }
  bool is_zero() const {
    return std::all_of(bytes.begin(), bytes.end(), [](std::uint8_t b) { return b == 0; });
  }
  std::span<const std::uint8_t> span() const { return bytes; }
  const std::uint8_t* data() const { return bytes.data(); }
  std::uint8_t* data() { return bytes.data(); }

  static FixedBytes from_span(std::span<const std::uint8_t> s) {
    FixedBytes out;
    std::copy_n(s.begin(), N, out.bytes.begin());
    return out;
  }
  // Parses exactly 2*N hex digits; the message names what was expected.
  static util::Result<FixedBytes> from_hex(std::string_view text) {
    if (text.size() != 2 * N)
      return util::fail("expected " + std::to_string(2 * N) + " hex digits, got " + std::to_string(text.size()));
    auto raw = util::from_hex(text);
    if (!raw) return tl::unexpected(raw.error());
    return from_span(*raw);
  }

  friend auto operator<=>(const FixedBytes&, const FixedBytes&) = default;
  friend bool operator==(const FixedBytes&, const FixedBytes&) = default;
};

using Hash32 = FixedBytes<32>;
using PublicKey = FixedBytes<32>;
using Signature = FixedBytes<64>;

}  // namespace core::crypto
