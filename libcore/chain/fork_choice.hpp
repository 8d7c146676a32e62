#pragma once
// Fork choice: greatest height wins; at equal height the smaller tip hash
// wins. A total order, so every node that has seen the same blocks picks the
// same tip: this is what heals a partition.

#include <cstdint>

#include "libcore/crypto/types.hpp"

namespace core::chain {

struct TipRef {
  std::uint64_t height = 0;
  crypto::Hash32 hash;
  friend bool operator==(const TipRef&, const TipRef&) = default;
};

// True when `candidate` should replace `current` as the best tip.
constexpr bool is_better_tip(const TipRef& candidate, const TipRef& current) {
  if (candidate.height != current.height) return candidate.height > current.height;
  return candidate.hash < current.hash;
}

}  // namespace core::chain
