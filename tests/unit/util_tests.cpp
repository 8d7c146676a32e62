#include <catch2/catch.hpp>

#include "libcore/util/units.hpp"

using namespace core::util;

TEST_CASE("durations parse and format", "[unit][util]") {
  REQUIRE(parse_duration("10s").value() == Millis(10'000));
  REQUIRE(parse_duration("1h30m").value() == Millis(5'400'000));
  REQUIRE_FALSE(parse_duration("10").has_value());
  REQUIRE(format_duration(Millis(90'000)) == "1m30s");
}
