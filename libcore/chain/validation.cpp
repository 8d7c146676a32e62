#include "libcore/chain/validation.hpp"

#include "libcore/util/time.hpp"
#include "libcore/util/worker_pool.hpp"

namespace core::chain {

const char* to_string(BlockFault f) {
  switch (f) {
    case BlockFault::Malformed:
      return "malformed";
    case BlockFault::BadVersion:
      return "bad_version";
    case BlockFault::UnknownParent:
      return "unknown_parent";
    case BlockFault::BadHeight:
      return "bad_height";
    case BlockFault::SlotNotAfterParent:
      return "slot_not_after_parent";
    case BlockFault::WrongProducer:
      return "wrong_producer";
    case BlockFault::TimestampOutsideSlot:
      return "timestamp_outside_slot";
    case BlockFault::FromTheFuture:
      return "from_the_future";
    case BlockFault::FarFuture:
      return "far_future";
    case BlockFault::BadSignature:
      return "bad_signature";
    case BlockFault::BadTxRoot:
      return "bad_tx_root";
    case BlockFault::BadCoinbase:
      return "bad_coinbase";
  }
  return "unknown";
}

namespace {
tl::unexpected<BlockError> reject(BlockFault f, std::string detail) {
  return tl::unexpected(BlockError{f, std::move(detail)});
}

// Slots are bounded so that slot_start() cannot overflow.
constexpr std::uint64_t kMaxSlot = 1ull << 40;
}  // namespace

BlockCheck check_header(const BlockHeader& h, const BlockHeader& parent, const ValidationContext& ctx) {
  if (auto r = check_header_rules(h, parent, parent.hash(), ctx); !r) return r;
  return check_signature(h);
}

BlockCheck check_header_rules(const BlockHeader& h, const BlockHeader& parent, const crypto::Hash32& parent_hash,
                              const ValidationContext& ctx) {
  if (h.version != kBlockVersion) return reject(BlockFault::BadVersion, "version " + std::to_string(h.version));
  if (h.parent != parent_hash)
    return reject(BlockFault::UnknownParent, "parent " + h.parent.short_hex() + " is not the given parent");
  if (h.height != parent.height + 1)
    return reject(BlockFault::BadHeight,
                  "height " + std::to_string(h.height) + " on parent at " + std::to_string(parent.height));
  if (h.slot <= parent.slot || h.slot > kMaxSlot)
    return reject(BlockFault::SlotNotAfterParent,
                  "slot " + std::to_string(h.slot) + " after parent slot " + std::to_string(parent.slot));
  const auto& scheduled = ctx.schedule.producer(h.slot);
  if (h.producer != scheduled)
    return reject(BlockFault::WrongProducer, "slot " + std::to_string(h.slot) + " belongs to " + scheduled.short_hex() +
                                                 ", not " + h.producer.short_hex());
  auto start = ctx.schedule.slot_start(h.slot);
  auto end = ctx.schedule.slot_end(h.slot);
  if (h.timestamp_ms < start || h.timestamp_ms >= end)
    return reject(BlockFault::TimestampOutsideSlot,
                  "timestamp " + util::format_rfc3339(h.timestamp_ms) + " outside slot " + std::to_string(h.slot) +
                      " [" + util::format_rfc3339(start) + ", " + util::format_rfc3339(end) + ")");
  if (h.timestamp_ms > ctx.now_ms + ctx.max_clock_drift_ms)
    return reject(h.timestamp_ms > ctx.now_ms + ctx.max_clock_drift_ms + kFarFutureMs ? BlockFault::FarFuture
                                                                                      : BlockFault::FromTheFuture,
                  "timestamp " + util::format_rfc3339(h.timestamp_ms) + " is " +
                      std::to_string(h.timestamp_ms - ctx.now_ms) + " ms ahead of local time");
  return {};
}

BlockCheck check_signature(const BlockHeader& h) {
  if (!crypto::verify(h.producer, kHeaderSignDomain, h.signing_bytes(), h.signature))
    return reject(BlockFault::BadSignature, "producer signature does not verify");
  return {};
}

BlockCheck check_body(const Block& b) {
  const auto& txs = b.transactions;
  if (txs.empty() || txs[0].kind != TxKind::Coinbase)
    return reject(BlockFault::BadCoinbase, "first transaction must be the coinbase");
  for (std::size_t i = 1; i < txs.size(); ++i)
    if (txs[i].kind == TxKind::Coinbase)
      return reject(BlockFault::BadCoinbase, "transaction " + std::to_string(i) + " is a second coinbase");
  const auto& cb = txs[0];
  if (cb.to != b.header.producer) return reject(BlockFault::BadCoinbase, "coinbase does not pay the producer");
  if (cb.amount != kCoinbaseReward)
    return reject(BlockFault::BadCoinbase,
                  "coinbase pays " + std::to_string(cb.amount) + ", the reward is " + std::to_string(kCoinbaseReward));
  if (cb.height != b.header.height)
    return reject(BlockFault::BadCoinbase, "coinbase height " + std::to_string(cb.height) + " != block height " +
                                               std::to_string(b.header.height));
  if (transactions_root(txs) != b.header.tx_root)
    return reject(BlockFault::BadTxRoot, "transactions root does not match the body");
  return {};
}

BlockCheck check_block(const Block& b, const BlockHeader& parent, const ValidationContext& ctx) {
  if (auto r = check_header(b.header, parent, ctx); !r) return r;
  return check_body(b);
}

namespace {
// Items per pool task: enough to amortise the handout, few enough to
// balance the cores.
constexpr std::size_t kChunk = 16;

std::size_t chunks_of(std::size_t n) { return (n + kChunk - 1) / kChunk; }

// fn(i) for every i of chunk c.
template <typename Fn>
auto chunked(std::size_t n, Fn fn) {
  return [n, fn](std::size_t c) {
    for (std::size_t i = c * kChunk; i < std::min(n, (c + 1) * kChunk); ++i) fn(i);
  };
}

template <typename Fn>
void for_chunks(std::size_t n, util::WorkerPool* pool, Fn fn) {
  auto each = chunked(n, fn);
  if (pool)
    pool->run(chunks_of(n), each);
  else
    for (std::size_t c = 0; c < chunks_of(n); ++c) each(c);
}

void precheck_one(const Block& b, Precheck& out) {
  out.signature_ok = check_signature(b.header).has_value();
  out.body = check_body(b);
}
}  // namespace

std::vector<char> verify_signatures(std::span<const BlockHeader> headers, util::WorkerPool* pool) {
  std::vector<char> ok(headers.size(), 0);
  for_chunks(headers.size(), pool, [&](std::size_t i) { ok[i] = check_signature(headers[i]).has_value(); });
  return ok;
}

std::vector<Precheck> precheck_blocks(std::span<const Block> blocks, util::WorkerPool* pool) {
  std::vector<Precheck> out(blocks.size());
  for_chunks(blocks.size(), pool, [&](std::size_t i) { precheck_one(blocks[i], out[i]); });
  return out;
}

void start_verify_signatures(std::span<const BlockHeader> headers, std::span<char> ok, util::WorkerPool& pool,
                             std::function<void()> done) {
  pool.submit(
      chunks_of(headers.size()),
      chunked(headers.size(), [headers, ok](std::size_t i) { ok[i] = check_signature(headers[i]).has_value(); }),
      std::move(done));
}

std::shared_ptr<util::WorkerPool::Job> start_precheck(std::span<const Block> blocks, std::span<Precheck> out,
                                                      util::WorkerPool& pool) {
  return pool.submit(chunks_of(blocks.size()),
                     chunked(blocks.size(), [blocks, out](std::size_t i) { precheck_one(blocks[i], out[i]); }));
}

}  // namespace core::chain
