// libcore/chain/genesis: parsing genesis.toml, its rules, determinism of the
// genesis hash, and the canonical encoding.

#include <catch2/catch.hpp>

#include <set>
#include <string>
#include <vector>

#include "libcore/chain/block.hpp"
#include "libcore/chain/genesis.hpp"
#include "libcore/codec/codec.hpp"
#include "libcore/crypto/hash.hpp"
#include "test_support.hpp"

using Catch::Matchers::Contains;
using core::chain::GenesisSpec;
using core::chain::parse_genesis_toml;
using test::error_of;

namespace {

const std::string kSource = "test-genesis.toml";

std::string pk(std::uint8_t n) { return test::key(n).public_key().hex(); }

// A valid genesis with three masternodes and two allocations.
std::string good_toml() {
  return "network    = \"testnet\"\n"
         "timestamp  = \"2026-01-01T00:00:00Z\"\n"
         "block_time = \"10s\"\n"
         "\n"
         "[[masternodes]]\n"
         "name = \"mn1\"\n"
         "pubkey = \"" +
         pk(1) +
         "\"\n"
         "address = \"10.0.0.1:24100\"\n"
         "\n"
         "[[masternodes]]\n"
         "name = \"mn2\"\n"
         "pubkey = \"" +
         pk(2) +
         "\"\n"
         "address = \"[::1]:24100\"\n"
         "\n"
         "[[masternodes]]\n"
         "name = \"MN.three\"\n"
         "pubkey = \"" +
         pk(3) +
         "\"\n"
         "\n"
         "[[allocations]]\n"
         "pubkey = \"" +
         pk(1) +
         "\"\n"
         "amount = 1000000\n"
         "\n"
         "[[allocations]]\n"
         "pubkey = \"" +
         pk(9) +
         "\"\n"
         "amount = 5\n";
}

// The header lines and one masternode, with `extra` appended to the top level
// and `mn_extra` inside the masternode table.
std::string minimal(const std::string& top, const std::string& mn_extra = "") {
  return top + "\n[[masternodes]]\nname = \"mn1\"\npubkey = \"" + pk(1) + "\"\n" + mn_extra;
}

const std::string kHeader = "network = \"testnet\"\ntimestamp = \"2026-01-01T00:00:00Z\"\nblock_time = \"1s\"\n";

// Parsing must fail with a message naming the source and containing `what`.
void expect_error(const std::string& text, const std::string& what) {
  INFO(text);
  auto msg = error_of(parse_genesis_toml(text, kSource));
  CHECK_THAT(msg, Contains(kSource));
  CHECK_THAT(msg, Contains(what));
}

std::string replace(std::string text, const std::string& from, const std::string& to) {
  auto at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

}  // namespace

// ------------------------------------------------------------------ parsing

TEST_CASE("a valid genesis file parses into its values", "[unit][chain][genesis]") {
  auto spec = parse_genesis_toml(good_toml(), kSource);
  INFO((spec ? "" : spec.error().message));
  REQUIRE(spec.has_value());
  CHECK(spec->network == "testnet");
  CHECK(spec->timestamp_ms == 1'767'225'600'000);
  CHECK(spec->block_time_ms == 10'000);
  REQUIRE(spec->masternodes.size() == 3);
  CHECK(spec->masternodes[0] == core::chain::Masternode{"mn1", test::key(1).public_key(), "10.0.0.1:24100"});
  CHECK(spec->masternodes[1] == core::chain::Masternode{"mn2", test::key(2).public_key(), "[::1]:24100"});
  CHECK(spec->masternodes[2] == core::chain::Masternode{"MN.three", test::key(3).public_key(), ""});
  REQUIRE(spec->allocations.size() == 2);
  CHECK(spec->allocations[0] == core::chain::Allocation{test::key(1).public_key(), 1'000'000});
  CHECK(spec->allocations[1] == core::chain::Allocation{test::key(9).public_key(), 5});
  CHECK(core::chain::validate(*spec).has_value());
}

TEST_CASE("allocations are optional", "[unit][chain][genesis]") {
  auto spec = parse_genesis_toml(minimal(kHeader), kSource);
  REQUIRE(spec.has_value());
  CHECK(spec->allocations.empty());
  CHECK(spec->masternodes.size() == 1);
  CHECK(spec->block_time_ms == 1'000);
}

TEST_CASE("a TOML date-time timestamp equals the same RFC 3339 string", "[unit][chain][genesis]") {
  auto as_string = parse_genesis_toml(minimal(kHeader), kSource).value();
  auto native = parse_genesis_toml(
      minimal("network = \"testnet\"\ntimestamp = 2026-01-01T00:00:00Z\nblock_time = \"1s\"\n"), kSource);
  REQUIRE(native.has_value());
  CHECK(native->timestamp_ms == as_string.timestamp_ms);
  CHECK(core::chain::genesis_hash(*native) == core::chain::genesis_hash(as_string));
  auto with_offset = parse_genesis_toml(
      minimal("network = \"testnet\"\ntimestamp = 2026-01-01T01:00:00.250+01:00\nblock_time = \"1s\"\n"), kSource);
  REQUIRE(with_offset.has_value());
  CHECK(with_offset->timestamp_ms == as_string.timestamp_ms + 250);
}

TEST_CASE("load_genesis_file reads a file and names it in errors", "[unit][chain][genesis]") {
  test::TempDir dir;
  auto path = dir / "genesis.toml";
  test::write_text(path, good_toml());
  auto spec = core::chain::load_genesis_file(path);
  REQUIRE(spec.has_value());
  CHECK(*spec == parse_genesis_toml(good_toml(), kSource).value());

  test::write_text(path, "bogus = 1\n" + good_toml());
  CHECK_THAT(error_of(core::chain::load_genesis_file(path)), Contains(path.string() + ": unknown key 'bogus'"));
  CHECK_THAT(error_of(core::chain::load_genesis_file(dir / "missing.toml")), Contains("no such file"));

  // A key file given by mistake is named as one, with the command that reads it.
  test::write_text(path, test::key(3).seed().hex() + "\n");
  CHECK_THAT(error_of(core::chain::load_genesis_file(path)),
             Contains(path.string() + ": this is a node key file, not a genesis.toml") &&
                 Contains("tgenesis pubkey " + path.string()));
}

// -------------------------------------------------------------- determinism

TEST_CASE("the same values in any layout give the same genesis hash", "[unit][chain][genesis]") {
  auto base = parse_genesis_toml(good_toml(), kSource).value();
  // Keys reordered, comments, odd spacing, literal strings, an equivalent
  // timestamp with an offset and an equivalent duration.
  std::string reordered =
      "# the same network, written differently\n"
      "block_time='10000ms'\n"
      "   timestamp   =   \"2026-01-01T02:00:00+02:00\"   # same instant\n"
      "network='testnet'\n"
      "[[masternodes]]\n"
      "address='10.0.0.1:24100'\n"
      "pubkey='" +
      pk(1) +
      "'\n"
      "name='mn1'\n"
      "[[masternodes]]\n"
      "  pubkey = \"" +
      pk(2) +
      "\"\n"
      "  address = \"[::1]:24100\"\n"
      "  name = \"mn2\"\n"
      "[[allocations]]\n"
      "amount=1_000_000\n"
      "pubkey=\"" +
      pk(1) +
      "\"\n"
      "[[masternodes]]\n"
      "name = \"MN.three\"\n"
      "pubkey = \"" +
      pk(3) +
      "\"\n"
      "[[allocations]]\n"
      "amount = 5\n"
      "pubkey = \"" +
      pk(9) + "\"\n\n\n";
  auto other = parse_genesis_toml(reordered, "elsewhere.toml");
  INFO((other ? "" : other.error().message));
  REQUIRE(other.has_value());
  CHECK(*other == base);
  CHECK(core::chain::encode(*other) == core::chain::encode(base));
  CHECK(core::chain::genesis_hash(*other) == core::chain::genesis_hash(base));
  // Upper-case hex keys are the same keys.
  std::string upper = good_toml();
  std::string lower_key = pk(2);
  std::string upper_key = lower_key;
  for (char& c : upper_key) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  upper = replace(upper, lower_key, upper_key);
  CHECK(core::chain::genesis_hash(parse_genesis_toml(upper, kSource).value()) == core::chain::genesis_hash(base));
}

TEST_CASE("the genesis hash is stable across calls", "[unit][chain][genesis]") {
  auto spec = parse_genesis_toml(good_toml(), kSource).value();
  auto h1 = core::chain::genesis_hash(spec);
  auto h2 = core::chain::genesis_hash(parse_genesis_toml(good_toml(), kSource).value());
  CHECK(h1 == h2);
  CHECK_FALSE(h1.is_zero());
  CHECK(core::chain::genesis_block(spec).hash() == h1);
}

TEST_CASE("any change to a genesis value changes the genesis hash", "[unit][chain][genesis]") {
  const std::string base = good_toml();
  const std::vector<std::pair<std::string, std::string>> edits = {
      {"network    = \"testnet\"", "network = \"testnet2\""},
      {"2026-01-01T00:00:00Z", "2026-01-01T00:00:00.001Z"},
      {"2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z"},
      {"block_time = \"10s\"", "block_time = \"11s\""},
      {"name = \"mn1\"", "name = \"mn0\""},
      {"name = \"MN.three\"", "name = \"MN.four\""},
      {"pubkey = \"" + pk(3), "pubkey = \"" + pk(4)},
      {"address = \"10.0.0.1:24100\"", "address = \"10.0.0.1:24101\""},
      {"address = \"[::1]:24100\"\n", ""},
      {"amount = 1000000", "amount = 1000001"},
      {"amount = 5", "amount = 6"},
      {"pubkey = \"" + pk(9), "pubkey = \"" + pk(8)},
      {"[[allocations]]\npubkey = \"" + pk(9) + "\"\namount = 5\n", ""},
  };
  std::set<core::crypto::Hash32> hashes{core::chain::genesis_hash(parse_genesis_toml(base, kSource).value())};
  for (const auto& [from, to] : edits) {
    INFO(from << " -> " << to);
    auto spec = parse_genesis_toml(replace(base, from, to), kSource);
    INFO((spec ? "" : spec.error().message));
    REQUIRE(spec.has_value());
    CHECK(hashes.insert(core::chain::genesis_hash(*spec)).second);
  }
  // Masternode order is the schedule: swapping two changes the hash too.
  auto spec = parse_genesis_toml(base, kSource).value();
  std::swap(spec.masternodes[0], spec.masternodes[1]);
  CHECK(hashes.insert(core::chain::genesis_hash(spec)).second);
  CHECK(hashes.size() == edits.size() + 2);
}

TEST_CASE("to_toml parses back to the same spec", "[unit][chain][genesis]") {
  auto spec = parse_genesis_toml(good_toml(), kSource).value();
  auto text = core::chain::to_toml(spec);
  auto back = parse_genesis_toml(text, "rendered.toml");
  INFO(text);
  REQUIRE(back.has_value());
  CHECK(*back == spec);
  CHECK(core::chain::to_toml(*back) == text);

  // Sub-second timestamps, odd block times and large amounts survive too.
  auto odd = test::make_spec(test::keys(2), "odd-net_1", 1'250, 1'767'225'600'123);
  odd.masternodes[1].address = "[2001:db8::1]:7";
  odd.allocations.push_back({test::key(5).public_key(), 9'000'000'000'000'000'000ull});
  INFO(core::chain::to_toml(odd));
  CHECK(parse_genesis_toml(core::chain::to_toml(odd), "rendered.toml").value() == odd);
}

// ------------------------------------------------------------------- errors

TEST_CASE("an unknown top-level key is refused by name", "[unit][chain][genesis]") {
  expect_error(minimal(kHeader + "colour = \"blue\"\n"), "unknown key 'colour'");
  expect_error(minimal(kHeader + "[extra]\nx = 1\n"), "unknown key 'extra'");
}

TEST_CASE("an unknown key inside a masternode or allocation table is refused by name", "[unit][chain][genesis]") {
  expect_error(minimal(kHeader, "port = 24100\n"), "unknown key 'masternodes[0].port'");
  expect_error(good_toml() + "\n[[masternodes]]\nname = \"mn4\"\npubkey = \"" + pk(4) + "\"\nweight = 2\n",
               "unknown key 'masternodes[3].weight'");
  expect_error(minimal(kHeader) + "\n[[allocations]]\npubkey = \"" + pk(1) + "\"\namount = 1\nmemo = \"x\"\n",
               "unknown key 'allocations[0].memo'");
}

TEST_CASE("missing required keys are named", "[unit][chain][genesis]") {
  expect_error(minimal("timestamp = \"2026-01-01T00:00:00Z\"\nblock_time = \"1s\"\n"), "missing key 'network'");
  expect_error(minimal("network = \"testnet\"\nblock_time = \"1s\"\n"), "missing key 'timestamp'");
  expect_error(minimal("network = \"testnet\"\ntimestamp = \"2026-01-01T00:00:00Z\"\n"), "missing key 'block_time'");
  expect_error(kHeader + "[[masternodes]]\npubkey = \"" + pk(1) + "\"\n", "missing key 'masternodes[0].name'");
  expect_error(kHeader + "[[masternodes]]\nname = \"mn1\"\n", "missing key 'masternodes[0].pubkey'");
  expect_error(minimal(kHeader) + "[[allocations]]\namount = 1\n", "missing key 'allocations[0].pubkey'");
  expect_error(minimal(kHeader) + "[[allocations]]\npubkey = \"" + pk(1) + "\"\n",
               "missing key 'allocations[0].amount'");
}

TEST_CASE("values of the wrong type are refused naming the key and both types", "[unit][chain][genesis]") {
  expect_error(minimal("network = 5\ntimestamp = \"2026-01-01T00:00:00Z\"\nblock_time = \"1s\"\n"),
               "key 'network' must be a string, not an integer");
  expect_error(minimal("network = \"t\"\ntimestamp = 1767225600\nblock_time = \"1s\"\n"),
               "key 'timestamp' must be an RFC 3339 string, not an integer");
  expect_error(minimal("network = \"t\"\ntimestamp = 2026-01-01\nblock_time = \"1s\"\n"),
               "key 'timestamp' must be an RFC 3339 string, not a date/time");
  expect_error(minimal("network = \"t\"\ntimestamp = \"2026-01-01T00:00:00Z\"\nblock_time = 10\n"),
               "key 'block_time' must be a string, not an integer");
  expect_error(minimal("network = \"t\"\ntimestamp = \"2026-01-01T00:00:00Z\"\nblock_time = 1.5\n"),
               "key 'block_time' must be a string, not a number");
  expect_error(kHeader + "[[masternodes]]\nname = true\npubkey = \"" + pk(1) + "\"\n",
               "key 'masternodes[0].name' must be a string, not a boolean");
  expect_error(kHeader + "[[masternodes]]\nname = \"mn1\"\npubkey = 12\n",
               "key 'masternodes[0].pubkey' must be a string, not an integer");
  expect_error(minimal(kHeader, "address = [\"10.0.0.1:1\"]\n"),
               "key 'masternodes[0].address' must be a string, not an array");
  expect_error(minimal(kHeader) + "[[allocations]]\npubkey = \"" + pk(1) + "\"\namount = \"10\"\n",
               "key 'allocations[0].amount' must be an integer, not a string");
  expect_error(minimal(kHeader) + "[[allocations]]\npubkey = \"" + pk(1) + "\"\namount = 1.5\n",
               "key 'allocations[0].amount' must be an integer, not a number");
  expect_error(kHeader + "masternodes = \"mn1\"\n", "key 'masternodes' must be written as [[masternodes]] tables");
  expect_error(kHeader + "masternodes = [1, 2]\n", "key 'masternodes' must be written as [[masternodes]] tables");
  expect_error(kHeader + "[masternodes]\nname = \"mn1\"\npubkey = \"" + pk(1) + "\"\n",
               "key 'masternodes' must be written as [[masternodes]] tables");
  expect_error(minimal(kHeader + "allocations = 3\n"), "key 'allocations' must be written as [[allocations]] tables");
}

TEST_CASE("a bad timestamp is refused naming the key", "[unit][chain][genesis]") {
  expect_error(minimal("network = \"t\"\ntimestamp = \"2026-02-30T00:00:00Z\"\nblock_time = \"1s\"\n"),
               "timestamp: bad timestamp '2026-02-30T00:00:00Z': day out of range");
  expect_error(minimal("network = \"t\"\ntimestamp = \"2026-01-01T00:00:00\"\nblock_time = \"1s\"\n"),
               "timestamp: bad timestamp");
  // A TOML local date-time has no zone: refused, not read as local time.
  expect_error(minimal("network = \"t\"\ntimestamp = 2026-01-01T00:00:00\nblock_time = \"1s\"\n"), "missing time zone");
  expect_error(minimal("network = \"t\"\ntimestamp = \"now\"\nblock_time = \"1s\"\n"),
               "timestamp: bad timestamp 'now'");
  expect_error(minimal("network = \"t\"\ntimestamp = \"1969-12-31T23:59:59Z\"\nblock_time = \"1s\"\n"),
               "timestamp: must not be before 1970");
}

TEST_CASE("a bad or out-of-range block_time is refused naming the key", "[unit][chain][genesis]") {
  auto with_bt = [](const std::string& bt) {
    return minimal("network = \"t\"\ntimestamp = \"2026-01-01T00:00:00Z\"\nblock_time = \"" + bt + "\"\n");
  };
  expect_error(with_bt("10"), "block_time: bad duration '10': missing unit");
  expect_error(with_bt("ten seconds"), "block_time: bad duration");
  expect_error(with_bt(""), "block_time: empty duration");
  expect_error(with_bt("99ms"), "block_time: 99ms is out of range (100ms to 1h)");
  expect_error(with_bt("0s"), "block_time: 0s is out of range");
  expect_error(with_bt("1h1ms"), "block_time: 1h1ms is out of range");
  expect_error(with_bt("2h"), "block_time: 2h is out of range");
  CHECK(parse_genesis_toml(with_bt("100ms"), kSource).has_value());
  CHECK(parse_genesis_toml(with_bt("1h"), kSource).has_value());
}

TEST_CASE("a bad pubkey is refused naming its key", "[unit][chain][genesis]") {
  expect_error(kHeader + "[[masternodes]]\nname = \"mn1\"\npubkey = \"abcd\"\n",
               "masternodes[0].pubkey: expected 64 hex digits, got 4");
  expect_error(kHeader + "[[masternodes]]\nname = \"mn1\"\npubkey = \"" + pk(1) + "00\"\n",
               "masternodes[0].pubkey: expected 64 hex digits, got 66");
  expect_error(kHeader + "[[masternodes]]\nname = \"mn1\"\npubkey = \"" + std::string(63, 'a') + "x\"\n",
               "masternodes[0].pubkey: invalid hex character 'x' at position 63");
  expect_error(kHeader + "[[masternodes]]\nname = \"mn1\"\npubkey = \"" + std::string(64, '0') + "\"\n",
               "masternodes[0].pubkey: must not be all zeros");
  expect_error(kHeader + "[[masternodes]]\nname = \"mn1\"\npubkey = \"\"\n",
               "masternodes[0].pubkey: expected 64 hex digits, got 0");
  expect_error(minimal(kHeader) + "[[allocations]]\npubkey = \"xyz\"\namount = 1\n",
               "allocations[0].pubkey: expected 64 hex digits, got 3");
}

TEST_CASE("duplicate masternode names and pubkeys are refused naming the entry", "[unit][chain][genesis]") {
  expect_error(minimal(kHeader) + "[[masternodes]]\nname = \"mn1\"\npubkey = \"" + pk(2) + "\"\n",
               "masternodes[1].name: duplicate name 'mn1'");
  expect_error(minimal(kHeader) + "[[masternodes]]\nname = \"mn2\"\npubkey = \"" + pk(1) + "\"\n",
               "masternodes[1].pubkey: the same key is listed twice");
  // The same key written in another case is still the same key.
  std::string upper = pk(1);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  expect_error(minimal(kHeader) + "[[masternodes]]\nname = \"mn2\"\npubkey = \"" + upper + "\"\n",
               "masternodes[1].pubkey: the same key is listed twice");
}

TEST_CASE("a genesis without masternodes is refused", "[unit][chain][genesis]") {
  expect_error(kHeader, "masternodes: at least one is required");
  expect_error(kHeader + "[[allocations]]\npubkey = \"" + pk(1) + "\"\namount = 1\n",
               "masternodes: at least one is required");
  expect_error(kHeader + "masternodes = []\n", "masternodes");
}

TEST_CASE("a bad masternode address is refused naming the entry", "[unit][chain][genesis]") {
  expect_error(minimal(kHeader, "address = \"10.0.0.1\"\n"), "masternodes[0].address: bad address '10.0.0.1'");
  expect_error(minimal(kHeader, "address = \"10.0.0.1:0\"\n"), "masternodes[0].address: bad address");
  expect_error(minimal(kHeader, "address = \"10.0.0.1:70000\"\n"), "out of range 1-65535");
  expect_error(minimal(kHeader, "address = \"::1:24100\"\n"), "masternodes[0].address");
  expect_error(minimal(kHeader, "address = \":24100\"\n"), "masternodes[0].address: bad address ':24100': empty host");
  expect_error(minimal(kHeader, "address = \"" + std::string(300, 'a') + ":1\"\n"), "masternodes[0].address: too long");
  // An empty address means "not dialable" and is allowed.
  CHECK(parse_genesis_toml(minimal(kHeader, "address = \"\"\n"), kSource).has_value());
}

TEST_CASE("bad network and masternode names are refused", "[unit][chain][genesis]") {
  auto with_net = [](const std::string& n) {
    return minimal("network = \"" + n + "\"\ntimestamp = \"2026-01-01T00:00:00Z\"\nblock_time = \"1s\"\n");
  };
  expect_error(with_net(""), "network: must not be empty");
  expect_error(with_net("Test"), "network: invalid character 'T'");
  expect_error(with_net("my net"), "network: invalid character ' '");
  expect_error(with_net("a.b"), "network: invalid character '.'");
  // Quoted escaped (a genesis may come from a peer): never a raw control.
  expect_error(with_net("a\\tb"), "network: invalid character '\\t'");
  expect_error(with_net("a\\u001bb"), "network: invalid character '\\x1b'");
  expect_error(with_net(std::string(65, 'n')), "network: longer than 64 characters");
  CHECK(parse_genesis_toml(with_net(std::string(64, 'n')), kSource).has_value());
  CHECK(parse_genesis_toml(with_net("dev-net_2"), kSource).has_value());
  expect_error(kHeader + "[[masternodes]]\nname = \"mn 1\"\npubkey = \"" + pk(1) + "\"\n",
               "masternodes[0].name: invalid character ' '");
  expect_error(kHeader + "[[masternodes]]\nname = \"\"\npubkey = \"" + pk(1) + "\"\n",
               "masternodes[0].name: must not be empty");
  expect_error(kHeader + "[[masternodes]]\nname = \"" + std::string(65, 'm') + "\"\npubkey = \"" + pk(1) + "\"\n",
               "masternodes[0].name: longer than 64 characters");
}

TEST_CASE("check_masternode_name is the rule validate applies to names", "[unit][chain][genesis]") {
  using core::chain::check_masternode_name;
  CHECK(check_masternode_name("mn-1_A.b", "name").has_value());
  CHECK(check_masternode_name(std::string(64, 'm'), "name").has_value());
  CHECK_THAT(error_of(check_masternode_name("", "--host")), Contains("--host: must not be empty"));
  CHECK_THAT(error_of(check_masternode_name("mn 1", "name")), Contains("name: invalid character ' '"));
  CHECK_THAT(error_of(check_masternode_name(std::string(65, 'm'), "name")), Contains("longer than 64 characters"));
}

TEST_CASE("an allocation amount must be positive", "[unit][chain][genesis]") {
  auto with_amount = [](const std::string& a) {
    return minimal(kHeader) + "[[allocations]]\npubkey = \"" + pk(1) + "\"\namount = " + a + "\n";
  };
  expect_error(with_amount("0"), "allocations[0].amount: must be positive");
  expect_error(with_amount("-1"), "allocations[0].amount: must be positive");
  expect_error(with_amount("-9223372036854775808"), "allocations[0].amount: must be positive");
  CHECK(parse_genesis_toml(with_amount("1"), kSource).value().allocations.at(0).amount == 1);
  CHECK(parse_genesis_toml(with_amount("9223372036854775807"), kSource).value().allocations.at(0).amount ==
        9'223'372'036'854'775'807ull);
}

TEST_CASE("allocations whose total overflows are refused", "[unit][chain][genesis]") {
  std::string text = minimal(kHeader);
  for (int i = 0; i < 3; ++i)
    text +=
        "[[allocations]]\npubkey = \"" + pk(static_cast<std::uint8_t>(i + 1)) + "\"\namount = 9223372036854775807\n";
  expect_error(text, "allocations[1].amount: total supply exceeds");
}

TEST_CASE("a TOML syntax error names the source and the line", "[unit][chain][genesis]") {
  auto msg = error_of(parse_genesis_toml("network = \"t\"\n\nblock_time = = \"1s\"\n", kSource));
  CHECK_THAT(msg, Contains(kSource + ":3:"));
  CHECK_THAT(msg, Contains("TOML syntax error"));
  auto dup = error_of(parse_genesis_toml("network = \"a\"\nnetwork = \"b\"\n", kSource));
  CHECK_THAT(dup, Contains(kSource + ":2:"));
  auto unterminated = error_of(parse_genesis_toml(kHeader + "[[masternodes]]\nname = \"mn1\n", kSource));
  CHECK_THAT(unterminated, Contains(kSource + ":5:"));
}

TEST_CASE("a non-ASCII character is refused naming its line and column", "[unit][chain][genesis]") {
  auto msg = error_of(parse_genesis_toml(minimal(kHeader + "# caf\xc3\xa9\n"), kSource));
  CHECK_THAT(msg, Contains(kSource + ":4:6: non-ASCII character"));
}

// ------------------------------------------------------------ validate()

TEST_CASE("validate enforces the limits on a spec built in code", "[unit][chain][genesis]") {
  auto spec = test::make_spec(test::keys(2));
  REQUIRE(core::chain::validate(spec).has_value());

  auto negative = spec;
  negative.timestamp_ms = -1;
  CHECK_THAT(error_of(core::chain::validate(negative)), Contains("timestamp: must not be before 1970"));

  auto too_many = spec;
  too_many.masternodes.clear();
  for (std::size_t i = 0; i <= core::chain::kMaxMasternodes; ++i) {
    core::crypto::PublicKey key;
    key.bytes[0] = static_cast<std::uint8_t>(i & 0xff);
    key.bytes[1] = static_cast<std::uint8_t>(i >> 8);
    key.bytes[2] = 1;
    too_many.masternodes.push_back({"mn" + std::to_string(i), key, ""});
  }
  CHECK_THAT(error_of(core::chain::validate(too_many)), Contains("masternodes: more than 1024"));
  too_many.masternodes.pop_back();
  CHECK(core::chain::validate(too_many).has_value());

  auto zero_amount = spec;
  zero_amount.allocations.push_back({test::key(1).public_key(), 0});
  CHECK_THAT(error_of(core::chain::validate(zero_amount)), Contains("allocations[0].amount: must be positive"));

  auto overflow = spec;
  overflow.allocations.push_back({test::key(1).public_key(), UINT64_MAX});
  overflow.allocations.push_back({test::key(2).public_key(), 1});
  CHECK_THAT(error_of(core::chain::validate(overflow)), Contains("allocations[0].amount: total supply exceeds"));
}

// --------------------------------------------------------- binary encoding

TEST_CASE("decode_genesis inverts encode", "[unit][chain][genesis]") {
  auto spec = parse_genesis_toml(good_toml(), kSource).value();
  auto bytes = core::chain::encode(spec);
  CHECK(core::chain::decode_genesis(bytes).value() == spec);
  auto small = test::make_spec(test::keys(1));
  CHECK(core::chain::decode_genesis(core::chain::encode(small)).value() == small);
  // Version 1, then the network name as a length-prefixed string.
  REQUIRE(bytes.size() > 8);
  CHECK(core::codec::Bytes(bytes.begin(), bytes.begin() + 8) == core::codec::Bytes{1, 0, 0, 0, 7, 0, 0, 0});
}

TEST_CASE("decode_genesis rejects every truncation", "[unit][chain][genesis]") {
  auto bytes = core::chain::encode(parse_genesis_toml(good_toml(), kSource).value());
  for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
    INFO("cut at " << cut << " of " << bytes.size());
    auto r = core::chain::decode_genesis(std::span(bytes).first(cut));
    REQUIRE_FALSE(r.has_value());
    CHECK_THAT(r.error().message, Contains("genesis encoding: "));
  }
}

TEST_CASE("decode_genesis rejects trailing bytes", "[unit][chain][genesis]") {
  auto bytes = core::chain::encode(test::make_spec(test::keys(2)));
  bytes.push_back(0);
  CHECK_THAT(error_of(core::chain::decode_genesis(bytes)), Contains("genesis encoding: 1 unexpected trailing bytes"));
}

TEST_CASE("decode_genesis rejects an unknown version", "[unit][chain][genesis]") {
  auto bytes = core::chain::encode(test::make_spec(test::keys(2)));
  for (std::uint8_t v : {0, 2, 255}) {
    bytes[0] = v;
    CHECK_THAT(error_of(core::chain::decode_genesis(bytes)),
               Contains("genesis encoding: unknown version " + std::to_string(v)));
  }
}

TEST_CASE("decode_genesis bounds every length and count", "[unit][chain][genesis]") {
  using core::codec::Writer;
  auto header = [](Writer& w, std::string_view network) { w.u32(1).str(network).i64(1'767'225'600'000).i64(1000); };
  {
    Writer w;
    header(w, std::string(65, 'n'));
    CHECK_THAT(error_of(core::chain::decode_genesis(w.data())), Contains("exceeds the limit of 64"));
  }
  {
    Writer w;
    header(w, "net");
    w.u32(1025);
    CHECK_THAT(error_of(core::chain::decode_genesis(w.data())), Contains("count 1025 at offset"));
  }
  {
    Writer w;
    header(w, "net");
    w.u32(1000);  // within the limit, but nothing follows
    CHECK_THAT(error_of(core::chain::decode_genesis(w.data())), Contains("cannot fit"));
  }
  {
    Writer w;
    header(w, "net");
    w.u32(1).str("mn1").fixed(test::key(1).public_key()).str(std::string(256, 'a'));
    w.u32(0);
    CHECK_THAT(error_of(core::chain::decode_genesis(w.data())), Contains("exceeds the limit of 255"));
  }
  {
    Writer w;
    header(w, "net");
    w.u32(1).str("mn1").fixed(test::key(1).public_key()).str("");
    w.u32(100'001);
    CHECK_THAT(error_of(core::chain::decode_genesis(w.data())), Contains("exceeds the limit of 100000"));
  }
}

TEST_CASE("decode_genesis names the field it could not read", "[unit][chain][genesis]") {
  using core::codec::Writer;
  auto header = [](Writer& w, std::string_view network) { w.u32(1).str(network).i64(1'767'225'600'000).i64(1000); };
  {
    Writer w;
    header(w, std::string(65, 'n'));
    CHECK(error_of(core::chain::decode_genesis(w.data())) ==
          "genesis encoding: network: length 65 at offset 4 exceeds the limit of 64");
  }
  {
    Writer w;
    w.u32(1).str("net").i64(1'767'225'600'000);
    CHECK_THAT(error_of(core::chain::decode_genesis(w.data())),
               Contains("genesis encoding: block_time: truncated input: u64 needs 8 bytes"));
  }
  {
    Writer w;
    header(w, "net");
    w.u32(1025);
    CHECK_THAT(error_of(core::chain::decode_genesis(w.data())),
               Contains("genesis encoding: number of masternodes: count 1025 at offset"));
  }
  {
    Writer w;
    header(w, "net");
    w.u32(1).str("mn1").fixed(test::key(1).public_key()).str(std::string(256, 'a'));
    w.u32(0);
    CHECK_THAT(error_of(core::chain::decode_genesis(w.data())),
               Contains("genesis encoding: masternode address: length 256 at offset"));
  }
  {
    Writer w;
    header(w, "net");
    w.u32(1).str("mn1").fixed(test::key(1).public_key()).str("");
    w.u32(1).fixed(test::key(2).public_key()).u32(0);
    CHECK_THAT(error_of(core::chain::decode_genesis(w.data())),
               Contains("genesis encoding: number of allocations: count 1 at offset"));
  }
}

TEST_CASE("decode_genesis validates what it decoded", "[unit][chain][genesis]") {
  auto spec = test::make_spec(test::keys(2));
  spec.masternodes[1].name = spec.masternodes[0].name;
  CHECK_THAT(error_of(core::chain::decode_genesis(core::chain::encode(spec))),
             Contains("genesis encoding: masternodes[1].name: duplicate name"));
  auto slow = test::make_spec(test::keys(1));
  slow.block_time_ms = 50;
  CHECK_THAT(error_of(core::chain::decode_genesis(core::chain::encode(slow))), Contains("block_time"));
  auto none = test::make_spec({});
  CHECK_THAT(error_of(core::chain::decode_genesis(core::chain::encode(none))), Contains("at least one"));
}

// -------------------------------------------------------- genesis block

TEST_CASE("the genesis header is fully determined by the spec", "[unit][chain][genesis]") {
  auto spec = parse_genesis_toml(good_toml(), kSource).value();
  auto h = core::chain::genesis_header(spec);
  CHECK(h.version == core::chain::kBlockVersion);
  CHECK(h.height == 0);
  CHECK(h.slot == 0);
  CHECK(h.parent.is_zero());
  CHECK(h.producer.is_zero());
  CHECK(h.signature.is_zero());
  CHECK(h.timestamp_ms == spec.timestamp_ms);
  CHECK(h.tx_root == core::crypto::Hasher().update("tnode/genesis/v1").update(core::chain::encode(spec)).finish());
  auto b = core::chain::genesis_block(spec);
  CHECK(b.header == h);
  CHECK(b.transactions.empty());
  CHECK(core::chain::genesis_hash(spec) == h.hash());
}

TEST_CASE("network_magic is the first four bytes of BLAKE2b(network), little-endian", "[unit][chain][genesis]") {
  auto h = core::crypto::blake2b256(std::string_view("testnet"));
  std::uint32_t expected = static_cast<std::uint32_t>(h.bytes[0]) | static_cast<std::uint32_t>(h.bytes[1]) << 8 |
                           static_cast<std::uint32_t>(h.bytes[2]) << 16 | static_cast<std::uint32_t>(h.bytes[3]) << 24;
  CHECK(core::chain::network_magic("testnet") == expected);
  CHECK(core::chain::network_magic("testnet") == core::chain::network_magic("testnet"));
  CHECK(core::chain::network_magic("testnet") != core::chain::network_magic("mainnet"));
  // BLAKE2b-256("abc") starts bd dd 81 3c.
  CHECK(core::chain::network_magic("abc") == 0x3c81ddbdu);
}
