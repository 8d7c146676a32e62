#pragma once
// Lower-case hex encoding of byte strings.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "libcore/util/error.hpp"

namespace core::util {

using Bytes = std::vector<std::uint8_t>;

std::string to_hex(std::span<const std::uint8_t> bytes);

// Decodes hex (either case). Fails naming the first bad character or an odd length.
Result<Bytes> from_hex(std::string_view text);

}  // namespace core::util
