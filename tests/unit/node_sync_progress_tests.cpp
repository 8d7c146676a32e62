// libcore/node/sync_progress: when a catch-up is reported, and that its
// progress counts from the height where it started, not from genesis.

#include <catch2/catch.hpp>

#include <chrono>

#include <spdlog/spdlog.h>

#include "libcore/node/sync_progress.hpp"
#include "test_support.hpp"

using core::node::catch_up_percent;
using core::node::SyncProgress;
using core::node::SyncReport;
using std::chrono::milliseconds;
using std::chrono::seconds;

using test::QuietLogs;

namespace {

const SyncProgress::Clock::time_point t0 = SyncProgress::Clock::time_point{} + std::chrono::hours(24);
constexpr milliseconds kInterval{5000};

}  // namespace

TEST_CASE("catch_up_percent counts from the catch-up's start", "[unit][node][sync]") {
  CHECK(catch_up_percent(9000, 9000, 10000) == 0.0);
  CHECK(catch_up_percent(9000, 9500, 10000) == Approx(50.0));
  CHECK(catch_up_percent(9000, 9900, 10000) == Approx(90.0));
  CHECK(catch_up_percent(9000, 10000, 10000) == 100.0);
  CHECK(catch_up_percent(0, 250, 1000) == Approx(25.0));
  // Below the start (a reorganisation to a shorter branch) and past the target.
  CHECK(catch_up_percent(9000, 8990, 10000) == 0.0);
  CHECK(catch_up_percent(9000, 10005, 10000) == 100.0);
  // Nothing to catch up.
  CHECK(catch_up_percent(10000, 10000, 10000) == 100.0);
}

TEST_CASE("sync progress: a node at 9,000 catching up to 10,000 starts at 0%", "[unit][node][sync]") {
  QuietLogs quiet;
  SyncProgress progress(kInterval);

  auto started = progress.update(t0, 9000, 10000, true, 2);
  REQUIRE(started);
  CHECK(started->kind == SyncReport::Kind::Started);
  CHECK(started->from == 9000);
  CHECK(started->percent == 0.0);

  // Before the interval: nothing.
  CHECK_FALSE(progress.update(t0 + seconds(1), 9100, 10000, true, 2));

  auto first = progress.update(t0 + kInterval, 9000, 10000, true, 2);
  REQUIRE(first);
  CHECK(first->kind == SyncReport::Kind::Progress);
  CHECK(first->from == 9000);
  CHECK(first->percent == 0.0);  // not 90%
  CHECK(first->blocks_per_second == 0.0);
  CHECK_FALSE(first->eta_seconds);

  auto half = progress.update(t0 + 2 * kInterval, 9500, 10000, true, 3);
  REQUIRE(half);
  CHECK(half->percent == Approx(50.0));
  CHECK(half->blocks_per_second == Approx(100.0));  // 500 blocks in 5 s
  REQUIRE(half->eta_seconds);
  CHECK(*half->eta_seconds == Approx(5.0));
  CHECK(half->serving == 3);

  // The target moves on while we catch up: still measured from 9,000.
  auto moved = progress.update(t0 + 3 * kInterval, 9800, 11000, true, 3);
  REQUIRE(moved);
  CHECK(moved->percent == Approx(40.0));  // 800 of 2,000

  auto done = progress.update(t0 + 3 * kInterval + seconds(5), 11000, 11000, false, 3);
  REQUIRE(done);
  CHECK(done->kind == SyncReport::Kind::Done);
  CHECK(done->from == 9000);
  CHECK(done->percent == 100.0);
  CHECK(done->seconds == Approx(20.0));
  CHECK(done->blocks_per_second == Approx(100.0));  // 2,000 blocks in 20 s
}

TEST_CASE("sync progress: the next catch-up starts from its own height", "[unit][node][sync]") {
  QuietLogs quiet;
  SyncProgress progress(kInterval);
  REQUIRE(progress.update(t0, 0, 100, true, 1));
  REQUIRE(progress.update(t0 + seconds(1), 100, 100, false, 1));
  // Not reported: fewer than kCatchUpGap blocks behind.
  CHECK_FALSE(progress.update(t0 + seconds(2), 100, 100 + core::node::kCatchUpGap - 1, true, 1));
  auto again = progress.update(t0 + seconds(3), 100, 200, true, 1);
  REQUIRE(again);
  CHECK(again->kind == SyncReport::Kind::Started);
  CHECK(again->from == 100);
  auto later = progress.update(t0 + seconds(3) + kInterval, 150, 200, true, 1);
  REQUIRE(later);
  CHECK(later->percent == Approx(50.0));  // was 75% measured from 0
}
