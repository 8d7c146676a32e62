#pragma once
// Block validity rules, each one testable on its own. The store checks that
// the parent is known and supplies it; everything else is here.

#include <string>

#include "libcore/chain/block.hpp"
#include "libcore/chain/schedule.hpp"

#include "libcore/util/worker_pool.hpp"

namespace core::chain {

enum class BlockFault {
  Malformed,             // does not decode
  BadVersion,            // unknown header version
  UnknownParent,         // parent not in the store
  BadHeight,             // height != parent.height + 1
  SlotNotAfterParent,    // slot <= parent.slot
  WrongProducer,         // producer is not the slot's scheduled masternode
  TimestampOutsideSlot,  // timestamp not in [slot start, slot end)
  FromTheFuture,         // timestamp > now + max_clock_drift (within kFarFutureMs more: maybe our clock)
  FarFuture,             // timestamp > now + max_clock_drift + kFarFutureMs: no clock is that wrong
  BadSignature,          // producer signature does not verify
  BadTxRoot,             // transactions root does not match the body
  BadCoinbase,           // first tx must be the only coinbase, paying the producer
};

inline constexpr BlockFault kAllBlockFaults[] = {BlockFault::Malformed,
                                                 BlockFault::BadVersion,
                                                 BlockFault::UnknownParent,
                                                 BlockFault::BadHeight,
                                                 BlockFault::SlotNotAfterParent,
                                                 BlockFault::WrongProducer,
                                                 BlockFault::TimestampOutsideSlot,
                                                 BlockFault::FromTheFuture,
                                                 BlockFault::FarFuture,
                                                 BlockFault::BadSignature,
                                                 BlockFault::BadTxRoot,
                                                 BlockFault::BadCoinbase};

// How far beyond max_clock_drift a timestamp stops being a possible clock
// error (from_the_future, a small step for its sender) and is plainly
// invalid (far_future, misbehaviour). Checked before the signature.
inline constexpr std::int64_t kFarFutureMs = 60'000;

// Stable lower-case name, as shown in logs, metrics and tool output.
const char* to_string(BlockFault f);

struct BlockError {
  BlockFault fault;
  std::string detail;
  std::string message() const { return std::string(to_string(fault)) + ": " + detail; }
};

using BlockCheck = tl::expected<void, BlockError>;

struct ValidationContext {
  const Schedule& schedule;
  util::UnixMillis now_ms;
  std::int64_t max_clock_drift_ms = 2000;
};

// Header rules against its parent: version, height, slot order, producer,
// timestamp window, clock drift, signature.
BlockCheck check_header(const BlockHeader& h, const BlockHeader& parent, const ValidationContext& ctx);

// The same in two parts, for callers that verify signatures in bulk (on a
// WorkerPool) and the cheap rules in order: every rule but the signature,
// against a parent whose hash the caller knows; and the signature alone.
// check_header == rules, then signature.
BlockCheck check_header_rules(const BlockHeader& h, const BlockHeader& parent, const crypto::Hash32& parent_hash,
                              const ValidationContext& ctx);
BlockCheck check_signature(const BlockHeader& h);

// Body rules: transactions root, coinbase.
BlockCheck check_body(const Block& b);

// Both.
BlockCheck check_block(const Block& b, const BlockHeader& parent, const ValidationContext& ctx);

// What can be checked of a block without its parent: the header's signature
// and the body (check_body). Each block is checked once, by whoever
// receives it first; the store then applies the cheap rules against the
// parent (store::AcceptOptions, ChainStore::accept_blocks).
struct Precheck {
  bool signature_ok = false;
  BlockCheck body;
  bool ok() const { return signature_ok && body.has_value(); }
};

// Signatures (and for blocks, bodies) of many headers at once, spread over
// `pool` and the calling thread (no pool: this thread alone). Pure: the
// inputs are read, nothing else is touched.
std::vector<char> verify_signatures(std::span<const BlockHeader> headers, util::WorkerPool* pool);
std::vector<Precheck> precheck_blocks(std::span<const Block> blocks, util::WorkerPool* pool);
// verify_signatures without waiting: `ok` (as long as `headers`) is
// complete when `done` runs (see WorkerPool::submit); both must live until then.
void start_verify_signatures(std::span<const BlockHeader> headers, std::span<char> ok, util::WorkerPool& pool,
                             std::function<void()> done);
// Starts the prechecks and returns at once, so the caller can store the
// previous batch meanwhile; `out` (as long as `blocks`) is complete, and
// both may be touched again, after pool.wait(job).
std::shared_ptr<util::WorkerPool::Job> start_precheck(std::span<const Block> blocks, std::span<Precheck> out,
                                                      util::WorkerPool& pool);

}  // namespace core::chain
