#include "libcore/p2p/messages.hpp"

#include <cassert>
#include <utility>

#include "libcore/codec/field_reader.hpp"
#include "libcore/config/defaults.hpp"
#include "libcore/util/address.hpp"

namespace core::p2p {

namespace {

using codec::FieldReader;

// The variant's alternatives must sit in wire order, so that a type and its
// alternative can never drift apart.
template <std::size_t... I>
constexpr bool variant_in_wire_order(std::index_sequence<I...>) {
  return ((std::variant_alternative_t<I, Message>::kType == static_cast<MessageType>(I + 1)) && ...);
}
static_assert(variant_in_wire_order(std::make_index_sequence<std::variant_size_v<Message>>()));
static_assert(std::variant_size_v<Message> == kAllMessageTypes.size());

constexpr std::size_t kHashSize = crypto::Hash32::kSize;
// What the config accepts as network.external_address fits a Hello.
static_assert(config::defaults::kMaxAddressLength == kMaxPeerAddress);
constexpr std::size_t kMinPeerEntrySize = crypto::PublicKey::kSize + 4 + 1 + 8;
constexpr std::size_t kMinConnectionEntrySize = crypto::PublicKey::kSize + 4 + 1 + 1 + 8;

// A Role is one byte with a closed set of values.
util::Result<Role> read_role(codec::Reader& r) {
  auto v = r.u8();
  if (!v) return tl::unexpected(v.error());
  if (*v > static_cast<std::uint8_t>(Role::Masternode)) return util::fail("unknown role " + std::to_string(*v));
  return static_cast<Role>(*v);
}

// A flag is one byte, 0 or 1: any other value would be a second encoding.
util::Result<bool> read_flag(codec::Reader& r) {
  auto v = r.u8();
  if (!v) return tl::unexpected(v.error());
  if (*v > 1) return util::fail("flag byte " + std::to_string(*v) + " is neither 0 nor 1");
  return *v == 1;
}

// Peers and Connections: the count, then each entry written by
// `write_entry` (entries within the limits, as the decoders require).
template <typename M, typename WriteEntry>
codec::Bytes encode_peer_list(const M& m, WriteEntry write_entry) {
  assert(m.peers.size() <= kMaxPeersPerMessage);
  codec::Writer w;
  w.u32(static_cast<std::uint32_t>(m.peers.size()));
  for (const auto& p : m.peers) {
    assert(p.address.size() <= kMaxPeerAddress);
    write_entry(w, p);
  }
  return w.take();
}

// Peers and Connections: a count (at most kMaxPeersPerMessage, checked
// against the bytes left) and that many entries read by `read_entry`.
template <typename M, typename ReadEntry>
util::Result<M> decode_peer_list(std::span<const std::uint8_t> payload, std::string_view name,
                                 std::size_t min_entry_size, ReadEntry read_entry) {
  FieldReader in(payload, name);
  M m;
  std::uint32_t n = 0;
  in.count("number of peers", n, kMaxPeersPerMessage, min_entry_size);
  m.peers.resize(n);
  for (auto& p : m.peers) read_entry(in, p);
  return in.finish(std::move(m));
}

void encode_hello(codec::Writer& w, const Hello& m) {
  assert(m.network.size() <= kMaxNetworkName && m.user_agent.size() <= kMaxUserAgent);
  assert(m.address.size() <= kMaxPeerAddress);
  w.u32(m.protocol_version).u32(m.min_version).str(m.network).fixed(m.genesis_hash).fixed(m.node_id);
  w.u8(static_cast<std::uint8_t>(m.role)).u16(m.listen_port).u64(m.best_height).fixed(m.best_hash);
  w.fixed(m.session_nonce).str(m.user_agent).fixed(m.ack_nonce).fixed(m.signature);
  // Absent when empty: the version-1 layout (messages.hpp).
  if (!m.address.empty()) w.str(m.address);
}

// An announced address: "host:port" with a port (parse_host_port refuses
// port 0 and hosts with characters outside an address's).
util::Result<void> check_announced_address(const std::string& address) {
  if (address.empty()) return util::fail("address: present but empty (an absent address is left out)");
  if (auto a = util::parse_host_port(address); !a) return util::fail("address: " + a.error().message);
  return {};
}

void encode_hashes(codec::Writer& w, const std::vector<crypto::Hash32>& hashes) {
  w.u32(static_cast<std::uint32_t>(hashes.size()));
  for (const auto& h : hashes) w.fixed(h);
}

}  // namespace

std::string_view to_string(MessageType type) {
  switch (type) {
    case MessageType::Hello:
      return "hello";
    case MessageType::HelloAck:
      return "hello_ack";
    case MessageType::Reject:
      return "reject";
    case MessageType::Ping:
      return "ping";
    case MessageType::Pong:
      return "pong";
    case MessageType::GetHeaders:
      return "get_headers";
    case MessageType::Headers:
      return "headers";
    case MessageType::GetBlocks:
      return "get_blocks";
    case MessageType::Blocks:
      return "blocks";
    case MessageType::NewBlock:
      return "new_block";
    case MessageType::GetPeers:
      return "get_peers";
    case MessageType::Peers:
      return "peers";
    case MessageType::GetGenesis:
      return "get_genesis";
    case MessageType::Genesis:
      return "genesis";
    case MessageType::GetConnections:
      return "get_connections";
    case MessageType::Connections:
      return "connections";
  }
  return "unknown";
}

std::optional<MessageType> message_type_from_wire(std::uint16_t value) {
  for (auto t : kAllMessageTypes)
    if (static_cast<std::uint16_t>(t) == value) return t;
  return std::nullopt;
}

std::string_view to_string(RejectCode code) {
  switch (code) {
    case RejectCode::protocol_error:
      return "protocol_error";
    case RejectCode::bad_magic:
      return "bad_magic";
    case RejectCode::bad_checksum:
      return "bad_checksum";
    case RejectCode::oversized:
      return "oversized";
    case RejectCode::unknown_type:
      return "unknown_type";
    case RejectCode::malformed:
      return "malformed";
    case RejectCode::genesis_mismatch:
      return "genesis_mismatch";
    case RejectCode::network_mismatch:
      return "network_mismatch";
    case RejectCode::version:
      return "version";
    case RejectCode::self:
      return "self";
    case RejectCode::banned:
      return "banned";
    case RejectCode::capacity:
      return "capacity";
    case RejectCode::per_ip_limit:
      return "per_ip_limit";
    case RejectCode::duplicate:
      return "duplicate";
    case RejectCode::stale_session:
      return "stale_session";
    case RejectCode::timeout:
      return "timeout";
    case RejectCode::bad_signature:
      return "bad_signature";
    case RejectCode::not_masternode:
      return "not_masternode";
    case RejectCode::handshake_order:
      return "handshake_order";
    case RejectCode::slow_peer:
      return "slow_peer";
    case RejectCode::shutdown:
      return "shutdown";
    case RejectCode::invalid_block:
      return "invalid_block";
    case RejectCode::evicted:
      return "evicted";
    case RejectCode::admin:
      return "admin";
  }
  return "unknown";
}

std::optional<RejectCode> parse_reject_code(std::string_view name) {
  for (auto c : kAllRejectCodes)
    if (to_string(c) == name) return c;
  return std::nullopt;
}

std::optional<RejectCode> reject_code_from_wire(std::uint16_t value) {
  for (auto c : kAllRejectCodes)
    if (static_cast<std::uint16_t>(c) == value) return c;
  return std::nullopt;
}

std::string_view to_string(Role role) {
  switch (role) {
    case Role::Regular:
      return "regular";
    case Role::Masternode:
      return "masternode";
  }
  return "unknown";
}

std::string_view Reject::code_name() const {
  auto c = known_code();
  return c ? to_string(*c) : std::string_view("unknown");
}

Reject make_reject(RejectCode code, std::string_view detail) {
  Reject r;
  r.code = static_cast<std::uint16_t>(code);
  r.detail = std::string(detail.substr(0, kMaxRejectDetail));
  return r;
}

Reject make_reject(const Rejection& rejection) { return make_reject(rejection.code, rejection.detail); }

// --- encoders ---------------------------------------------------------------

codec::Bytes encode(const Hello& m) {
  codec::Writer w;
  encode_hello(w, m);
  return w.take();
}

codec::Bytes encode(const HelloAck& m) {
  codec::Writer w;
  w.fixed(m.signature);
  return w.take();
}

codec::Bytes encode(const Reject& m) {
  assert(m.detail.size() <= kMaxRejectDetail);
  codec::Writer w;
  w.u16(m.code).str(m.detail);
  return w.take();
}

codec::Bytes encode(const Ping& m) {
  codec::Writer w;
  w.u64(m.nonce);
  return w.take();
}

codec::Bytes encode(const Pong& m) {
  codec::Writer w;
  w.u64(m.nonce);
  return w.take();
}

codec::Bytes encode(const GetHeaders& m) {
  assert(m.locator.size() <= kMaxLocator && m.limit >= 1 && m.limit <= kMaxHeadersPerMessage);
  codec::Writer w;
  encode_hashes(w, m.locator);
  w.u32(m.limit);
  return w.take();
}

codec::Bytes encode(const Headers& m) {
  assert(m.headers.size() <= kMaxHeadersPerMessage);
  codec::Writer w;
  w.u32(static_cast<std::uint32_t>(m.headers.size()));
  for (const auto& h : m.headers) chain::encode(w, h);
  return w.take();
}

codec::Bytes encode(const GetBlocks& m) {
  assert(m.hashes.size() <= kMaxBlocksPerMessage);
  codec::Writer w;
  encode_hashes(w, m.hashes);
  return w.take();
}

codec::Bytes encode(const Blocks& m) {
  assert(m.blocks.size() <= kMaxBlocksPerMessage);
  codec::Writer w;
  w.u32(static_cast<std::uint32_t>(m.blocks.size()));
  for (const auto& b : m.blocks) {
    auto bytes = chain::encode(b);
    assert(bytes.size() <= kMaxBlockBytes);
    w.bytes(bytes);
  }
  return w.take();
}

codec::Bytes encode(const NewBlock& m) { return chain::encode(m.header); }

codec::Bytes encode(const GetPeers&) { return {}; }

codec::Bytes encode(const Peers& m) {
  return encode_peer_list(m, [](codec::Writer& w, const PeerEntry& p) {
    w.fixed(p.node_id).str(p.address).u8(static_cast<std::uint8_t>(p.role)).i64(p.last_seen_ms);
  });
}

codec::Bytes encode(const GetGenesis&) { return {}; }

codec::Bytes encode(const GetConnections&) { return {}; }

codec::Bytes encode(const Connections& m) {
  return encode_peer_list(m, [](codec::Writer& w, const ConnectionEntry& p) {
    w.fixed(p.node_id).str(p.address).u8(static_cast<std::uint8_t>(p.role)).u8(p.outbound ? 1 : 0);
    w.u64(p.best_height);
  });
}

codec::Bytes encode(const Genesis& m) {
  auto spec = chain::encode(m.spec);
  assert(spec.size() <= kMaxGenesisBytes);
  codec::Writer w;
  w.bytes(spec);
  return w.take();
}

// --- decoders ---------------------------------------------------------------

util::Result<Hello> decode_hello(std::span<const std::uint8_t> payload) {
  FieldReader in(payload, "hello");
  Hello m;
  in.u32("protocol_version", m.protocol_version).u32("min_version", m.min_version);
  in.str("network", m.network, kMaxNetworkName).fixed("genesis_hash", m.genesis_hash).fixed("node_id", m.node_id);
  in.read("role", m.role, read_role).u16("listen_port", m.listen_port).u64("best_height", m.best_height);
  in.fixed("best_hash", m.best_hash).fixed("session_nonce", m.session_nonce);
  in.str("user_agent", m.user_agent, kMaxUserAgent).fixed("ack_nonce", m.ack_nonce).fixed("signature", m.signature);
  // Version 2: the announced address follows, when there is one.
  if (in.ok() && in.remaining() > 0)
    in.str("address", m.address, kMaxPeerAddress).check([&m] { return check_announced_address(m.address); });
  return in.finish(std::move(m));
}

util::Result<HelloAck> decode_hello_ack(std::span<const std::uint8_t> payload) {
  FieldReader in(payload, "hello_ack");
  HelloAck m;
  in.fixed("signature", m.signature);
  return in.finish(m);
}

util::Result<Reject> decode_reject(std::span<const std::uint8_t> payload) {
  FieldReader in(payload, "reject");
  Reject m;
  in.u16("code", m.code).str("detail", m.detail, kMaxRejectDetail);
  return in.finish(std::move(m));
}

util::Result<Ping> decode_ping(std::span<const std::uint8_t> payload) {
  FieldReader in(payload, "ping");
  Ping m;
  in.u64("nonce", m.nonce);
  return in.finish(m);
}

util::Result<Pong> decode_pong(std::span<const std::uint8_t> payload) {
  FieldReader in(payload, "pong");
  Pong m;
  in.u64("nonce", m.nonce);
  return in.finish(m);
}

util::Result<GetHeaders> decode_get_headers(std::span<const std::uint8_t> payload) {
  FieldReader in(payload, "get_headers");
  GetHeaders m;
  std::uint32_t n = 0;
  in.count("number of locator hashes", n, kMaxLocator, kHashSize);
  m.locator.resize(n);
  for (auto& h : m.locator) in.fixed("locator", h);
  in.u32("limit", m.limit);
  in.require(m.limit >= 1 && m.limit <= kMaxHeadersPerMessage, "limit",
             "must be between 1 and " + std::to_string(kMaxHeadersPerMessage));
  return in.finish(std::move(m));
}

util::Result<Headers> decode_headers(std::span<const std::uint8_t> payload) {
  FieldReader in(payload, "headers");
  Headers m;
  std::uint32_t n = 0;
  in.count("number of headers", n, kMaxHeadersPerMessage, chain::kHeaderSize);
  m.headers.resize(n);
  for (auto& h : m.headers) in.read("headers", h, [](codec::Reader& r) { return chain::decode_header(r); });
  return in.finish(std::move(m));
}

util::Result<GetBlocks> decode_get_blocks(std::span<const std::uint8_t> payload) {
  FieldReader in(payload, "get_blocks");
  GetBlocks m;
  std::uint32_t n = 0;
  in.count("number of hashes", n, kMaxBlocksPerMessage, kHashSize);
  m.hashes.resize(n);
  for (auto& h : m.hashes) in.fixed("hashes", h);
  return in.finish(std::move(m));
}

util::Result<Blocks> decode_blocks(std::span<const std::uint8_t> payload) {
  FieldReader in(payload, "blocks");
  Blocks m;
  std::uint32_t n = 0;
  // Each block is a u32 length followed by at least a header.
  in.count("number of blocks", n, kMaxBlocksPerMessage, 4 + chain::kHeaderSize);
  m.blocks.resize(n);
  for (std::size_t i = 0; i < m.blocks.size() && in.ok(); ++i) {
    in.read("blocks[" + std::to_string(i) + "]", m.blocks[i], [](codec::Reader& r) -> util::Result<chain::Block> {
      auto bytes = r.bytes(kMaxBlockBytes);
      if (!bytes) return tl::unexpected(bytes.error());
      return chain::decode_block(*bytes);
    });
  }
  return in.finish(std::move(m));
}

util::Result<NewBlock> decode_new_block(std::span<const std::uint8_t> payload) {
  FieldReader in(payload, "new_block");
  NewBlock m;
  in.read("header", m.header, [](codec::Reader& r) { return chain::decode_header(r); });
  return in.finish(m);
}

util::Result<GetPeers> decode_get_peers(std::span<const std::uint8_t> payload) {
  return FieldReader(payload, "get_peers").finish(GetPeers{});
}

util::Result<Peers> decode_peers(std::span<const std::uint8_t> payload) {
  return decode_peer_list<Peers>(payload, "peers", kMinPeerEntrySize, [](FieldReader& in, PeerEntry& p) {
    in.fixed("node_id", p.node_id).str("address", p.address, kMaxPeerAddress).read("role", p.role, read_role);
    in.i64("last_seen_ms", p.last_seen_ms);
  });
}

util::Result<GetGenesis> decode_get_genesis(std::span<const std::uint8_t> payload) {
  return FieldReader(payload, "get_genesis").finish(GetGenesis{});
}

util::Result<Genesis> decode_genesis(std::span<const std::uint8_t> payload) {
  FieldReader in(payload, "genesis");
  Genesis m;
  in.read("spec", m.spec, [](codec::Reader& r) -> util::Result<chain::GenesisSpec> {
    auto bytes = r.bytes(kMaxGenesisBytes);
    if (!bytes) return tl::unexpected(bytes.error());
    return chain::decode_genesis(*bytes);
  });
  return in.finish(std::move(m));
}

util::Result<GetConnections> decode_get_connections(std::span<const std::uint8_t> payload) {
  return FieldReader(payload, "get_connections").finish(GetConnections{});
}

util::Result<Connections> decode_connections(std::span<const std::uint8_t> payload) {
  return decode_peer_list<Connections>(
      payload, "connections", kMinConnectionEntrySize, [](FieldReader& in, ConnectionEntry& p) {
        in.fixed("node_id", p.node_id).str("address", p.address, kMaxPeerAddress).read("role", p.role, read_role);
        in.read("outbound", p.outbound, read_flag).u64("best_height", p.best_height);
      });
}

// --- any message ------------------------------------------------------------

MessageType message_type(const Message& m) {
  return std::visit([](const auto& v) { return std::decay_t<decltype(v)>::kType; }, m);
}

EncodedMessage encode_message(const Message& m) {
  return std::visit([](const auto& v) { return EncodedMessage{std::decay_t<decltype(v)>::kType, encode(v)}; }, m);
}

util::Result<Message> decode_message(MessageType type, std::span<const std::uint8_t> payload) {
  auto as_message = [](auto decoded) -> util::Result<Message> {
    if (!decoded) return tl::unexpected(std::move(decoded.error()));
    return Message(std::move(*decoded));
  };
  switch (type) {
    case MessageType::Hello:
      return as_message(decode_hello(payload));
    case MessageType::HelloAck:
      return as_message(decode_hello_ack(payload));
    case MessageType::Reject:
      return as_message(decode_reject(payload));
    case MessageType::Ping:
      return as_message(decode_ping(payload));
    case MessageType::Pong:
      return as_message(decode_pong(payload));
    case MessageType::GetHeaders:
      return as_message(decode_get_headers(payload));
    case MessageType::Headers:
      return as_message(decode_headers(payload));
    case MessageType::GetBlocks:
      return as_message(decode_get_blocks(payload));
    case MessageType::Blocks:
      return as_message(decode_blocks(payload));
    case MessageType::NewBlock:
      return as_message(decode_new_block(payload));
    case MessageType::GetPeers:
      return as_message(decode_get_peers(payload));
    case MessageType::Peers:
      return as_message(decode_peers(payload));
    case MessageType::GetGenesis:
      return as_message(decode_get_genesis(payload));
    case MessageType::Genesis:
      return as_message(decode_genesis(payload));
    case MessageType::GetConnections:
      return as_message(decode_get_connections(payload));
    case MessageType::Connections:
      return as_message(decode_connections(payload));
  }
  return util::fail("unknown message type " + std::to_string(static_cast<unsigned>(type)));
}

}  // namespace core::p2p
