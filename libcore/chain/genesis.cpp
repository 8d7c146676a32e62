#include "libcore/chain/genesis.hpp"

#include <set>
#include <sstream>

#include "libcore/codec/field_reader.hpp"
#include "libcore/crypto/hash.hpp"
#include "libcore/crypto/keys.hpp"
#include "libcore/util/address.hpp"
#include "libcore/util/files.hpp"
#include "libcore/util/printable.hpp"
#include "libcore/util/toml_fields.hpp"
#include "libcore/util/units.hpp"

namespace core::chain {

namespace {

// An invalid character is quoted escaped ("\n", "\xff"): a genesis may
// come from a peer.
constexpr std::size_t kMaxQuotedChar = 4;

bool is_name_char(char c, bool allow_upper) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         (allow_upper && ((c >= 'A' && c <= 'Z') || c == '.'));
}

util::Result<void> check_name(std::string_view value, std::size_t max, bool allow_upper, const std::string& field) {
  if (value.empty()) return util::fail(field + ": must not be empty");
  if (value.size() > max) return util::fail(field + ": longer than " + std::to_string(max) + " characters");
  for (char c : value)
    if (!is_name_char(c, allow_upper))
      return util::fail(field + ": invalid character '" + util::printable(std::string_view(&c, 1), kMaxQuotedChar) +
                        "' (allowed: " + (allow_upper ? "letters, digits, '.', '-', '_'" : "a-z, 0-9, '-', '_'") + ")");
  return {};
}

constexpr std::uint32_t kGenesisEncodingVersion = 1;
// The least bytes one entry can take: name and address may be empty.
constexpr std::size_t kMinMasternodeSize = 4 + crypto::PublicKey::kSize + 4;
constexpr std::size_t kMinAllocationSize = crypto::PublicKey::kSize + 8;

}  // namespace

util::Result<void> check_masternode_name(std::string_view name, const std::string& field) {
  return check_name(name, kMaxMasternodeName, true, field);
}

util::Result<void> validate(const GenesisSpec& spec) {
  if (auto r = check_name(spec.network, kMaxNetworkName, false, "network"); !r) return r;
  if (spec.block_time_ms < kMinBlockTimeMs || spec.block_time_ms > kMaxBlockTimeMs)
    return util::fail("block_time: " + util::format_duration(util::Millis(spec.block_time_ms)) + " is out of range (" +
                      util::format_duration(util::Millis(kMinBlockTimeMs)) + " to " +
                      util::format_duration(util::Millis(kMaxBlockTimeMs)) + ")");
  if (spec.timestamp_ms < 0) return util::fail("timestamp: must not be before 1970");
  if (spec.masternodes.empty()) return util::fail("masternodes: at least one is required");
  if (spec.masternodes.size() > kMaxMasternodes)
    return util::fail("masternodes: more than " + std::to_string(kMaxMasternodes));
  std::set<std::string> names;
  std::set<crypto::PublicKey> keys;
  for (std::size_t i = 0; i < spec.masternodes.size(); ++i) {
    const auto& mn = spec.masternodes[i];
    std::string field = "masternodes[" + std::to_string(i) + "]";
    if (auto r = check_masternode_name(mn.name, field + ".name"); !r) return r;
    if (!names.insert(mn.name).second) return util::fail(field + ".name: duplicate name '" + mn.name + "'");
    if (mn.pubkey.is_zero()) return util::fail(field + ".pubkey: must not be all zeros");
    if (!keys.insert(mn.pubkey).second) return util::fail(field + ".pubkey: the same key is listed twice");
    if (!mn.address.empty()) {
      if (mn.address.size() > kMaxAddress) return util::fail(field + ".address: too long");
      if (auto a = util::parse_host_port(mn.address); !a) return util::fail(field + ".address: " + a.error().message);
    }
  }
  if (spec.allocations.size() > kMaxAllocations)
    return util::fail("allocations: more than " + std::to_string(kMaxAllocations));
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < spec.allocations.size(); ++i) {
    const auto& a = spec.allocations[i];
    std::string field = "allocations[" + std::to_string(i) + "]";
    if (a.amount == 0) return util::fail(field + ".amount: must be positive");
    // TOML integers are signed 64-bit: larger amounts could not be written back.
    if (a.amount > kMaxSupply - total)
      return util::fail(field + ".amount: total supply exceeds " + std::to_string(kMaxSupply));
    total += a.amount;
  }
  return {};
}

util::Result<GenesisSpec> parse_genesis_toml(std::string_view text, const std::string& source) {
  auto parsed = util::parse_toml(text, source);
  if (!parsed) return tl::unexpected(parsed.error());
  const toml::table& root = *parsed;
  auto err = [&](const std::string& m) { return util::fail(source + ": " + m); };

  if (auto r = util::reject_unknown_keys(root, {"network", "timestamp", "block_time", "masternodes", "allocations"},
                                         source, "");
      !r)
    return tl::unexpected(r.error());

  GenesisSpec spec;
  auto network = util::optional_field<std::string>(root, "network", source, "");
  if (!network) return tl::unexpected(network.error());
  if (!*network) return err("missing key 'network'");
  spec.network = **network;

  // A TOML offset date-time is accepted as well as a string.
  const toml::node* ts = root.get("timestamp");
  if (!ts) return err("missing key 'timestamp' (a fixed RFC 3339 time, e.g. \"2026-11-24T00:00:00Z\")");
  std::string ts_text;
  if (auto s = ts->value_exact<std::string>()) {
    ts_text = *s;
  } else if (auto dt = ts->as_date_time()) {
    std::ostringstream out;
    out << *dt;
    ts_text = out.str();
  } else {
    return err("key 'timestamp' must be an RFC 3339 string, not " + util::type_name(*ts));
  }
  auto ts_ms = util::parse_rfc3339(ts_text);
  if (!ts_ms) return err("timestamp: " + ts_ms.error().message);
  spec.timestamp_ms = *ts_ms;

  auto bt = util::optional_field<std::string>(root, "block_time", source, "");
  if (!bt) return tl::unexpected(bt.error());
  if (!*bt) return err("missing key 'block_time' (e.g. \"10s\")");
  auto bt_ms = util::parse_duration(**bt);
  if (!bt_ms) return err("block_time: " + bt_ms.error().message);
  spec.block_time_ms = bt_ms->count();

  auto array_of_tables = [&](std::string_view key) -> util::Result<const toml::array*> {
    const toml::node* n = root.get(key);
    if (!n) return static_cast<const toml::array*>(nullptr);
    const toml::array* arr = n->as_array();
    if (!arr || !arr->is_array_of_tables())
      return err("key '" + std::string(key) + "' must be written as [[" + std::string(key) + "]] tables");
    return arr;
  };

  auto mns = array_of_tables("masternodes");
  if (!mns) return tl::unexpected(mns.error());
  if (*mns) {
    std::size_t i = 0;
    for (const auto& node : **mns) {
      const toml::table& t = *node.as_table();
      std::string prefix = "masternodes[" + std::to_string(i) + "].";
      if (auto r = util::reject_unknown_keys(t, {"name", "pubkey", "address"}, source, prefix); !r)
        return tl::unexpected(r.error());
      Masternode mn;
      auto name = util::optional_field<std::string>(t, "name", source, prefix);
      if (!name) return tl::unexpected(name.error());
      if (!*name) return err("missing key '" + prefix + "name'");
      mn.name = **name;
      auto pk = util::optional_field<std::string>(t, "pubkey", source, prefix);
      if (!pk) return tl::unexpected(pk.error());
      if (!*pk) return err("missing key '" + prefix + "pubkey'");
      auto key = crypto::PublicKey::from_hex(**pk);
      if (!key) return err(prefix + "pubkey: " + key.error().message);
      mn.pubkey = *key;
      auto addr = util::optional_field<std::string>(t, "address", source, prefix);
      if (!addr) return tl::unexpected(addr.error());
      mn.address = addr->value_or("");
      spec.masternodes.push_back(std::move(mn));
      ++i;
    }
  }

  auto allocs = array_of_tables("allocations");
  if (!allocs) return tl::unexpected(allocs.error());
  if (*allocs) {
    std::size_t i = 0;
    for (const auto& node : **allocs) {
      const toml::table& t = *node.as_table();
      std::string prefix = "allocations[" + std::to_string(i) + "].";
      if (auto r = util::reject_unknown_keys(t, {"pubkey", "amount"}, source, prefix); !r)
        return tl::unexpected(r.error());
      Allocation a;
      auto pk = util::optional_field<std::string>(t, "pubkey", source, prefix);
      if (!pk) return tl::unexpected(pk.error());
      if (!*pk) return err("missing key '" + prefix + "pubkey'");
      auto key = crypto::PublicKey::from_hex(**pk);
      if (!key) return err(prefix + "pubkey: " + key.error().message);
      a.pubkey = *key;
      auto amount = util::optional_field<std::int64_t>(t, "amount", source, prefix);
      if (!amount) return tl::unexpected(amount.error());
      if (!*amount) return err("missing key '" + prefix + "amount'");
      if (**amount <= 0) return err(prefix + "amount: must be positive");
      a.amount = static_cast<std::uint64_t>(**amount);
      spec.allocations.push_back(a);
      ++i;
    }
  }

  if (auto r = validate(spec); !r) return err(r.error().message);
  return spec;
}

util::Result<GenesisSpec> load_genesis_file(const std::filesystem::path& path) {
  auto text = util::read_file(path, 64u << 20);
  if (!text) return tl::unexpected(text.error());
  if (crypto::looks_like_key_file(*text))
    return util::fail(path.string() + ": this is a node key file, not a genesis.toml (`tgenesis pubkey " +
                      path.string() + "` prints its node id)");
  return parse_genesis_toml(*text, path.string());
}

std::string to_toml(const GenesisSpec& spec) {
  // Names and addresses are validated to need no escaping.
  std::string out;
  out += "network    = \"" + spec.network + "\"\n";
  out += "timestamp  = \"" + util::format_rfc3339(spec.timestamp_ms) + "\"\n";
  out += "block_time = \"" + util::format_duration(util::Millis(spec.block_time_ms)) + "\"\n";
  for (const auto& mn : spec.masternodes) {
    out += "\n[[masternodes]]\n";
    out += "name    = \"" + mn.name + "\"\n";
    out += "pubkey  = \"" + mn.pubkey.hex() + "\"\n";
    if (!mn.address.empty()) out += "address = \"" + mn.address + "\"\n";
  }
  for (const auto& a : spec.allocations) {
    out += "\n[[allocations]]\n";
    out += "pubkey = \"" + a.pubkey.hex() + "\"\n";
    out += "amount = " + std::to_string(a.amount) + "\n";
  }
  return out;
}

codec::Bytes encode(const GenesisSpec& spec) {
  codec::Writer w;
  w.u32(kGenesisEncodingVersion);
  w.str(spec.network).i64(spec.timestamp_ms).i64(spec.block_time_ms);
  w.u32(static_cast<std::uint32_t>(spec.masternodes.size()));
  for (const auto& mn : spec.masternodes) w.str(mn.name).fixed(mn.pubkey).str(mn.address);
  w.u32(static_cast<std::uint32_t>(spec.allocations.size()));
  for (const auto& a : spec.allocations) w.fixed(a.pubkey).u64(a.amount);
  return w.take();
}

util::Result<GenesisSpec> decode_genesis(std::span<const std::uint8_t> bytes) {
  codec::FieldReader in(bytes, "genesis encoding");
  GenesisSpec spec;
  std::uint32_t version = 0;
  in.u32("version", version).check([&]() -> util::Result<void> {
    if (version == kGenesisEncodingVersion) return {};
    return util::fail("unknown version " + std::to_string(version));
  });
  in.str("network", spec.network, kMaxNetworkName).i64("timestamp", spec.timestamp_ms);
  in.i64("block_time", spec.block_time_ms);
  std::uint32_t n = 0;
  in.count("number of masternodes", n, kMaxMasternodes, kMinMasternodeSize);
  spec.masternodes.resize(n);
  for (auto& mn : spec.masternodes) {
    in.str("masternode name", mn.name, kMaxMasternodeName).fixed("masternode pubkey", mn.pubkey);
    in.str("masternode address", mn.address, kMaxAddress);
  }
  std::uint32_t m = 0;
  in.count("number of allocations", m, kMaxAllocations, kMinAllocationSize);
  spec.allocations.resize(m);
  for (auto& a : spec.allocations) in.fixed("allocation pubkey", a.pubkey).u64("allocation amount", a.amount);
  // validate() names the field it refuses: "genesis encoding: masternodes[1].name: ...".
  in.expect_end().check([&] { return validate(spec); });
  return in.result(std::move(spec));
}

std::uint32_t network_magic(std::string_view network) {
  auto h = crypto::blake2b256(network);
  return static_cast<std::uint32_t>(h.bytes[0]) | static_cast<std::uint32_t>(h.bytes[1]) << 8 |
         static_cast<std::uint32_t>(h.bytes[2]) << 16 | static_cast<std::uint32_t>(h.bytes[3]) << 24;
}

}  // namespace core::chain
