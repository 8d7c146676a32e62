// libcore/node/ban_list: bans with expiry, pure. A lookup never changes the
// list; only expire() removes what ran out.

#include <catch2/catch.hpp>

#include "libcore/node/ban_list.hpp"
#include "test_support.hpp"

using core::node::Ban;
using core::node::BanList;

TEST_CASE("a ban counts until its time, and lookups never remove it", "[unit][node]") {
  BanList bans;
  const auto a = test::key(1).public_key(), b = test::key(2).public_key();
  bans.add(a, Ban{2000, "bad blocks", 1000});
  CHECK(bans.is_banned(a, 1000));
  CHECK(bans.is_banned(a, 1999));
  CHECK_FALSE(bans.is_banned(b, 1500));
  REQUIRE(bans.active(a, 1500).has_value());
  CHECK(bans.active(a, 1500)->reason == "bad blocks");

  // Over: not banned any more, but still listed until expire() is called.
  const BanList& view = bans;
  CHECK_FALSE(view.is_banned(a, 2000));
  CHECK_FALSE(view.active(a, 5000).has_value());
  CHECK(view.size() == 1);
  CHECK(view.active_count(2000) == 0);
  CHECK(view.active_count(1999) == 1);
}

TEST_CASE("expire removes exactly the bans that ran out and names them", "[unit][node]") {
  BanList bans;
  const auto a = test::key(1).public_key(), b = test::key(2).public_key(), c = test::key(3).public_key();
  bans.add(a, Ban{2000, "a", 0});
  bans.add(b, Ban{3000, "b", 0});
  bans.add(c, Ban{2000, "c", 0});
  CHECK(bans.expire(1999).empty());
  CHECK(bans.size() == 3);
  auto gone = bans.expire(2000);
  REQUIRE(gone.size() == 2);
  CHECK(std::find(gone.begin(), gone.end(), a) != gone.end());
  CHECK(std::find(gone.begin(), gone.end(), c) != gone.end());
  CHECK(bans.size() == 1);
  CHECK(bans.is_banned(b, 2500));
  CHECK(bans.expire(2500).empty());
}

TEST_CASE("a new ban replaces the old one; remove lifts it", "[unit][node]") {
  BanList bans;
  const auto a = test::key(1).public_key();
  bans.add(a, Ban{2000, "first", 0});
  bans.add(a, Ban{9000, "second", 1500});
  CHECK(bans.size() == 1);
  CHECK(bans.active(a, 5000)->reason == "second");
  CHECK(bans.remove(a));
  CHECK_FALSE(bans.is_banned(a, 5000));
  CHECK_FALSE(bans.remove(a));
}
