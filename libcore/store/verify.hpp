#pragma once
// Full consistency check of a chain store: main-chain linkage, the producer
// schedule, signatures and bodies of every block, and index consistency
// (main index <-> headers <-> blocks <-> tip). Stops at the first fault.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "libcore/store/chain_store.hpp"

namespace core::store {

struct VerifyFault {
  std::uint64_t height = 0;
  std::string hash;  // hex; empty when the index has no entry
  std::string reason;
};

struct VerifyReport {
  std::uint64_t blocks_checked = 0;
  chain::TipRef tip;
  std::optional<VerifyFault> fault;
  bool ok() const { return !fault; }
};

// `progress(done, total)` is called now and then (every 1024 blocks and at
// the end). Signatures and bodies are checked on `pool` (and this thread)
// in batches; without a pool, on this thread alone.
VerifyReport verify_store(const ChainStore& store,
                          const std::function<void(std::uint64_t, std::uint64_t)>& progress = {},
                          std::int64_t max_clock_drift_ms = 2000, util::WorkerPool* pool = nullptr);

}  // namespace core::store
