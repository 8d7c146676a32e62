#include "libcore/node/block_producer.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "libcore/chain/block.hpp"
#include "libcore/chain/validation.hpp"
#include "libcore/node/spawn.hpp"
#include "libcore/store/chain_store.hpp"
#include "libcore/util/log_event.hpp"
#include "libcore/util/units.hpp"

namespace core::node {

namespace asio = boost::asio;
using Millis = std::chrono::milliseconds;

struct BlockProducer::Loop {
  explicit Loop(asio::io_context& io_context) : io(io_context), timer(io_context) {}
  asio::io_context& io;
  asio::steady_timer timer;
  bool stopped = false;
};

BlockProducer::BlockProducer(asio::io_context& io, store::ChainStore& store, ChainSync& sync,
                             const crypto::KeyPair& key, std::function<std::size_t()> peer_count, bool others)
    : store_(store),
      sync_(sync),
      key_(key),
      peer_count_(std::move(peer_count)),
      others_(others),
      started_at_(std::chrono::steady_clock::now()),
      loop_(std::make_unique<Loop>(io)) {}

BlockProducer::~BlockProducer() = default;

void BlockProducer::start() {
  started_at_ = std::chrono::steady_clock::now();
  spawn(loop_->io, run(), "block production");
}

// Wakes at every slot start; produces when the slot is ours.
asio::awaitable<void> BlockProducer::run() {
  const auto& schedule = store_.schedule();
  while (!loop_->stopped) {
    const auto now = util::now_ms();
    const auto slot = schedule.slot_at(now);
    if (slot) on_slot(*slot, now);
    const util::UnixMillis next = slot ? schedule.slot_start(*slot + 1) : schedule.slot_start(0);
    loop_->timer.expires_after(Millis(std::max<std::int64_t>(1, next - util::now_ms())));
    co_await loop_->timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

void BlockProducer::stop() {
  loop_->stopped = true;
  loop_->timer.cancel();
}

// Right after start, a masternode that has other masternodes to meet
// waits for its first peer (whose Hello shows whether our tip is stale),
// or at most kAloneGrace block times, before producing alone: a block on
// a stale tip would only be reorganised away.
bool BlockProducer::ready_to_produce() {
  if (ready_) return true;
  const auto waited = std::chrono::steady_clock::now() - started_at_;
  const bool alone = peer_count_() == 0;
  if (!others_ || !alone || waited >= Millis(kAloneGrace * store_.schedule().block_time_ms())) {
    ready_ = true;
    if (others_ && alone)
      spdlog::info("chain: no peer after {}; producing alone",
                   util::format_duration(std::chrono::duration_cast<Millis>(waited)));
  }
  return ready_;
}

void BlockProducer::on_slot(std::uint64_t slot, util::UnixMillis now) {
  const auto& schedule = store_.schedule();
  if (schedule.producer(slot) != key_.public_key()) return;
  const auto tip = store_.tip();
  const auto parent = store_.header(tip.hash);
  if (!parent || parent->slot >= slot) return;  // this slot's block exists already
  if (!ready_to_produce()) return;
  if (sync_.syncing()) {
    if (!skipping_slots_)
      util::log_event(spdlog::level::info, "production_paused", {{"slot", slot}, {"height", tip.height}},
                      "chain: not producing in slot {}: downloading a better chain than height {}", slot, tip.height);
    skipping_slots_ = true;
    return;
  }
  skipping_slots_ = false;
  const auto timestamp = std::max(now, schedule.slot_start(slot));
  if (timestamp >= schedule.slot_end(slot)) return;
  const auto block = chain::make_block(*parent, slot, timestamp, key_);
  auto r = sync_.add_own_block(block, std::chrono::steady_clock::now());
  if (!r) {
    util::log_event(spdlog::level::err, "block_rejected",
                    {{"height", block.header.height},
                     {"hash", block.hash().hex()},
                     {"producer", key_.public_key().hex()},
                     {"slot", slot},
                     {"reason", chain::to_string(r.error().fault)},
                     {"detail", r.error().detail}},
                    "chain: own block for slot {} refused: {}", slot, r.error().message());
    return;
  }
  util::log_event(spdlog::level::info, "block_produced",
                  {{"height", block.header.height},
                   {"hash", block.hash().hex()},
                   {"producer", key_.public_key().hex()},
                   {"slot", slot}},
                  "chain: produced block {} at height {} in slot {}", block.hash().short_hex(), block.header.height,
                  slot);
}

}  // namespace core::node
