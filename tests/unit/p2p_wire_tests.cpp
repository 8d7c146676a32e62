// libcore/p2p wire layer: framing and the incremental frame decoder, every
// message's strict encoding, and the authenticated handshake transcript.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "libcore/chain/block.hpp"
#include "libcore/chain/genesis.hpp"
#include "libcore/codec/codec.hpp"
#include "libcore/crypto/hash.hpp"
#include "libcore/p2p/frame.hpp"
#include "libcore/p2p/handshake.hpp"
#include "libcore/p2p/messages.hpp"
#include "test_support.hpp"

using Catch::Matchers::Contains;
using core::codec::Bytes;
using core::p2p::Frame;
using core::p2p::FrameDecoder;
using core::p2p::Hello;
using core::p2p::Message;
using core::p2p::MessageType;
using core::p2p::RejectCode;
using test::error_of;

namespace p2p = core::p2p;
namespace chain = core::chain;
namespace crypto = core::crypto;

namespace {

const std::uint32_t kMagic = chain::network_magic("unittest");
constexpr std::size_t kMax = 4096;  // max_message_size of the decoder tests

Bytes bytes_of(std::string_view s) { return Bytes(s.begin(), s.end()); }

p2p::Nonce nonce(std::uint8_t fill) {
  p2p::Nonce n;
  n.bytes.fill(fill);
  return n;
}

crypto::Hash32 hash(std::uint8_t fill) {
  crypto::Hash32 h;
  h.bytes.fill(fill);
  return h;
}

// Feeds `stream` to `decoder` in pieces whose sizes `next_chunk` picks, and
// collects every frame; stops at the first error (returned as its code).
struct Decoded {
  std::vector<Frame> frames;
  std::optional<p2p::Rejection> error;
  std::size_t max_buffered = 0;
};

Decoded decode_stream(FrameDecoder& decoder, std::span<const std::uint8_t> stream,
                      const std::function<std::size_t()>& next_chunk) {
  Decoded out;
  std::size_t pos = 0;
  while (pos < stream.size() && !out.error) {
    auto chunk = stream.subspan(pos, std::min(next_chunk(), stream.size() - pos));
    while (!chunk.empty()) {
      auto used = decoder.feed(chunk);
      chunk = chunk.subspan(used);
      pos += used;
      out.max_buffered = std::max(out.max_buffered, decoder.buffered());
      auto frame = decoder.next();
      if (!frame) {
        out.error = frame.error();
        break;
      }
      if (*frame) out.frames.push_back(std::move(**frame));
    }
  }
  return out;
}

Decoded decode_all(std::span<const std::uint8_t> stream, std::size_t max = kMax) {
  FrameDecoder decoder(kMagic, max);
  return decode_stream(decoder, stream, [&] { return stream.size(); });
}

// A frame header with the given fields (no payload).
Bytes header(std::uint32_t magic, std::uint16_t type, std::uint32_t length, std::uint32_t checksum) {
  core::codec::Writer w;
  w.u32(magic).u16(type).u32(length).u32(checksum);
  return w.take();
}

// A small network: two masternodes, plus keys for regular nodes.
struct Net {
  std::vector<crypto::KeyPair> masternodes = test::keys(2, 1);
  chain::GenesisSpec spec = test::make_spec(masternodes);
  crypto::Hash32 genesis = chain::genesis_hash(spec);

  Hello hello_from(const crypto::KeyPair& key, p2p::Nonce session, p2p::Role role = p2p::Role::Regular) const {
    Hello h;
    h.network = spec.network;
    h.genesis_hash = genesis;
    h.node_id = key.public_key();
    h.role = role;
    h.listen_port = 24100;
    h.best_height = 7;
    h.best_hash = hash(0x77);
    h.session_nonce = session;
    h.user_agent = "tnode/0.1.0";
    return h;
  }
  p2p::LocalIdentity identity(const crypto::KeyPair& key) const {
    return p2p::make_local_identity(spec, key.public_key());
  }
};

// One of every message, each with non-default contents.
std::vector<Message> sample_messages() {
  Net net;
  auto genesis = chain::genesis_header(net.spec);
  auto b1 = chain::make_block(genesis, 1, test::kGenesisMs + 1000, net.masternodes[1]);
  auto b2 = chain::make_block(b1.header, 2, test::kGenesisMs + 2000, net.masternodes[0]);
  b2.transactions[0].memo = bytes_of("memo");

  Hello hello = net.hello_from(test::key(9), nonce(0x11), p2p::Role::Masternode);
  hello.ack_nonce = nonce(0x22);
  hello.signature.bytes.fill(0x33);

  p2p::HelloAck ack;
  ack.signature.bytes.fill(0x44);

  p2p::GetHeaders get_headers;
  get_headers.locator = {hash(1), hash(2), hash(3)};
  get_headers.limit = 500;

  p2p::Headers headers;
  headers.headers = {b1.header, b2.header};

  p2p::GetBlocks get_blocks;
  get_blocks.hashes = {b1.hash(), b2.hash()};

  p2p::Blocks blocks;
  blocks.blocks = {b1, b2};

  p2p::Peers peers;
  peers.peers.push_back(p2p::PeerEntry{test::key(3).public_key(), "10.0.0.3:24100", p2p::Role::Regular, 1234});
  peers.peers.push_back(p2p::PeerEntry{test::key(4).public_key(), "[::1]:24102", p2p::Role::Masternode, -1});

  auto spec = net.spec;
  spec.allocations.push_back(chain::Allocation{test::key(5).public_key(), 1000});

  p2p::Connections connections;
  connections.peers.push_back(
      p2p::ConnectionEntry{test::key(3).public_key(), "10.0.0.3:24100", p2p::Role::Masternode, true, 77});
  connections.peers.push_back(p2p::ConnectionEntry{test::key(4).public_key(), "", p2p::Role::Regular, false, 0});

  return {hello,
          ack,
          p2p::make_reject(RejectCode::genesis_mismatch, "different genesis"),
          p2p::Ping{0x0102030405060708},
          p2p::Pong{0xFFFFFFFFFFFFFFFF},
          get_headers,
          headers,
          get_blocks,
          blocks,
          p2p::NewBlock{b2.header},
          p2p::GetPeers{},
          peers,
          p2p::GetGenesis{},
          p2p::Genesis{spec},
          p2p::GetConnections{},
          connections};
}

Bytes with_count(std::uint32_t count) {
  core::codec::Writer w;
  w.u32(count);
  return w.take();
}

}  // namespace

// --- frames -----------------------------------------------------------------

TEST_CASE("encode_frame lays out magic, type, length, checksum and payload little-endian", "[unit][p2p]") {
  Bytes payload = bytes_of("hello world");
  Bytes frame = p2p::encode_frame(0x11223344, MessageType::Ping, payload);
  REQUIRE(frame.size() == p2p::kFrameHeaderSize + payload.size());
  CHECK(Bytes(frame.begin(), frame.begin() + 4) == Bytes{0x44, 0x33, 0x22, 0x11});
  CHECK(Bytes(frame.begin() + 4, frame.begin() + 6) == Bytes{4, 0});
  CHECK(Bytes(frame.begin() + 6, frame.begin() + 10) == Bytes{11, 0, 0, 0});
  auto digest = crypto::blake2b256(payload);
  CHECK(Bytes(frame.begin() + 10, frame.begin() + 14) == Bytes(digest.bytes.begin(), digest.bytes.begin() + 4));
  CHECK(Bytes(frame.begin() + 14, frame.end()) == payload);
  CHECK(p2p::payload_checksum(payload) ==
        (static_cast<std::uint32_t>(digest.bytes[0]) | static_cast<std::uint32_t>(digest.bytes[1]) << 8 |
         static_cast<std::uint32_t>(digest.bytes[2]) << 16 | static_cast<std::uint32_t>(digest.bytes[3]) << 24));
}

TEST_CASE("frames round-trip through the decoder, including empty and maximum-size payloads", "[unit][p2p]") {
  Bytes big(kMax, 0xAB);
  std::vector<Frame> sent = {Frame{MessageType::Ping, bytes_of("12345678")}, Frame{MessageType::GetPeers, {}},
                             Frame{MessageType::Blocks, big}, Frame{MessageType::Reject, bytes_of("x")}};
  Bytes stream;
  for (const auto& f : sent) {
    auto bytes = p2p::encode_frame(kMagic, f.type, f.payload);
    stream.insert(stream.end(), bytes.begin(), bytes.end());
  }
  auto out = decode_all(stream);
  CHECK_FALSE(out.error);
  CHECK(out.frames == sent);
  CHECK(out.max_buffered <= p2p::kFrameHeaderSize + kMax);
}

TEST_CASE("the decoder yields the same frames fed byte by byte and in random chunks", "[unit][p2p]") {
  std::mt19937 rng(20261124);
  std::vector<Frame> sent;
  Bytes stream;
  for (int i = 0; i < 40; ++i) {
    Bytes payload(std::uniform_int_distribution<std::size_t>(0, 700)(rng));
    for (auto& b : payload) b = static_cast<std::uint8_t>(rng());
    auto type = p2p::kAllMessageTypes[static_cast<std::size_t>(i) % p2p::kAllMessageTypes.size()];
    sent.push_back(Frame{type, payload});
    auto bytes = p2p::encode_frame(kMagic, type, payload);
    stream.insert(stream.end(), bytes.begin(), bytes.end());
  }

  SECTION("byte by byte") {
    FrameDecoder decoder(kMagic, kMax);
    auto out = decode_stream(decoder, stream, [] { return std::size_t{1}; });
    CHECK_FALSE(out.error);
    CHECK(out.frames == sent);
  }
  SECTION("random chunks") {
    for (int run = 0; run < 20; ++run) {
      FrameDecoder decoder(kMagic, kMax);
      std::uniform_int_distribution<std::size_t> size(1, 2000);
      auto out = decode_stream(decoder, stream, [&] { return size(rng); });
      CHECK_FALSE(out.error);
      CHECK(out.frames == sent);
      CHECK(out.max_buffered <= p2p::kFrameHeaderSize + kMax);
    }
  }
  SECTION("all at once") {
    auto out = decode_all(stream);
    CHECK_FALSE(out.error);
    CHECK(out.frames == sent);
  }
}

TEST_CASE("feed takes nothing more while a complete frame waits to be collected", "[unit][p2p]") {
  Bytes one = p2p::encode_frame(kMagic, MessageType::Ping, Bytes(8, 1));
  Bytes two = p2p::encode_frame(kMagic, MessageType::Pong, Bytes(8, 2));
  Bytes stream = one;
  stream.insert(stream.end(), two.begin(), two.end());

  FrameDecoder decoder(kMagic, kMax);
  CHECK(decoder.feed(stream) == one.size());
  CHECK(decoder.feed(std::span(stream).subspan(one.size())) == 0);
  auto first = decoder.next();
  REQUIRE(first);
  REQUIRE(*first);
  CHECK((*first)->type == MessageType::Ping);
  CHECK(decoder.buffered() == 0);
  CHECK(decoder.feed(std::span(stream).subspan(one.size())) == two.size());
  auto second = decoder.next();
  REQUIRE(second);
  REQUIRE(*second);
  CHECK((*second)->type == MessageType::Pong);
  CHECK((*second)->payload == Bytes(8, 2));
  auto none = decoder.next();
  REQUIRE(none);
  CHECK_FALSE(*none);
}

TEST_CASE("a bad magic is detected as soon as its 4 bytes arrive", "[unit][p2p]") {
  Bytes frame = p2p::encode_frame(kMagic ^ 0x01000000, MessageType::Ping, Bytes(8, 0));
  FrameDecoder decoder(kMagic, kMax);

  CHECK(decoder.feed(std::span(frame).first(3)) == 3);
  auto pending = decoder.next();
  REQUIRE(pending);
  CHECK_FALSE(*pending);
  CHECK_FALSE(decoder.failed());

  // The 4th byte is the bad one; the decoder takes it and nothing after it.
  CHECK(decoder.feed(std::span(frame).subspan(3)) == 1);
  CHECK(decoder.failed());
  auto err = decoder.next();
  REQUIRE_FALSE(err);
  CHECK(err.error().code == RejectCode::bad_magic);
  CHECK_THAT(err.error().detail, Contains("bad magic"));

  SECTION("and the decoder stays failed, discarding input") {
    Bytes good = p2p::encode_frame(kMagic, MessageType::Ping, Bytes(8, 0));
    CHECK(decoder.feed(good) == good.size());
    CHECK(decoder.buffered() <= p2p::kFrameHeaderSize);
    auto again = decoder.next();
    REQUIRE_FALSE(again);
    CHECK(again.error().code == RejectCode::bad_magic);
  }
}

TEST_CASE("an oversized length is refused from the header alone, before any payload", "[unit][p2p]") {
  SECTION("only the header is fed") {
    Bytes h = header(kMagic, static_cast<std::uint16_t>(MessageType::Blocks), kMax + 1, 0);
    FrameDecoder decoder(kMagic, kMax);
    // It stops right after the length field: the checksum is not even taken.
    CHECK(decoder.feed(h) == 10);
    auto err = decoder.next();
    REQUIRE_FALSE(err);
    CHECK(err.error().code == RejectCode::oversized);
    CHECK_THAT(err.error().detail, Contains(std::to_string(kMax + 1)));
    CHECK(decoder.buffered() <= p2p::kFrameHeaderSize);
  }
  SECTION("a 4 GiB length with payload following still buffers nothing more") {
    Bytes stream = header(kMagic, static_cast<std::uint16_t>(MessageType::Blocks), 0xFFFFFFFF, 0);
    stream.resize(stream.size() + 100000, 0x55);
    FrameDecoder decoder(kMagic, p2p::kDefaultMaxMessageSize);
    auto out = decode_stream(decoder, stream, [] { return std::size_t{65536}; });
    REQUIRE(out.error);
    CHECK(out.error->code == RejectCode::oversized);
    CHECK(out.max_buffered <= p2p::kFrameHeaderSize);
  }
  SECTION("a length of exactly max_message_size is accepted") {
    Bytes h = header(kMagic, static_cast<std::uint16_t>(MessageType::Blocks), kMax, 0);
    FrameDecoder decoder(kMagic, kMax);
    CHECK(decoder.feed(h) == h.size());
    auto pending = decoder.next();
    REQUIRE(pending);
    CHECK_FALSE(*pending);
  }
}

TEST_CASE("a payload that does not match its checksum is refused", "[unit][p2p]") {
  Bytes frame = p2p::encode_frame(kMagic, MessageType::Ping, bytes_of("12345678"));
  SECTION("payload byte changed") { frame.back() ^= 0x01; }
  SECTION("checksum byte changed") { frame[12] ^= 0x80; }
  SECTION("empty payload with a wrong checksum") {
    frame = header(kMagic, static_cast<std::uint16_t>(MessageType::GetPeers), 0, 0xDEADBEEF);
  }
  auto out = decode_all(frame);
  REQUIRE(out.error);
  CHECK(out.error->code == RejectCode::bad_checksum);
  CHECK(out.frames.empty());
}

TEST_CASE("an unknown message type is refused after the type field", "[unit][p2p]") {
  auto raw = GENERATE(std::uint16_t{0}, std::uint16_t{17}, std::uint16_t{0xFFFF});
  Bytes h = header(kMagic, raw, 8, 0);
  FrameDecoder decoder(kMagic, kMax);
  CHECK(decoder.feed(h) == 6);
  auto err = decoder.next();
  REQUIRE_FALSE(err);
  CHECK(err.error().code == RejectCode::unknown_type);
  CHECK_THAT(err.error().detail, Contains(std::to_string(raw)));
}

// --- enumerations -------------------------------------------------------------

TEST_CASE("message types have stable wire values and lower-case names", "[unit][p2p]") {
  CHECK(to_string(MessageType::Hello) == "hello");
  CHECK(to_string(MessageType::HelloAck) == "hello_ack");
  CHECK(to_string(MessageType::GetHeaders) == "get_headers");
  CHECK(to_string(MessageType::NewBlock) == "new_block");
  CHECK(to_string(MessageType::GetGenesis) == "get_genesis");
  CHECK(to_string(MessageType::Genesis) == "genesis");
  std::set<std::string_view> names;
  for (std::size_t i = 0; i < p2p::kAllMessageTypes.size(); ++i) {
    auto t = p2p::kAllMessageTypes[i];
    CHECK(static_cast<std::size_t>(t) == i + 1);
    CHECK(p2p::message_type_from_wire(static_cast<std::uint16_t>(i + 1)) == t);
    names.insert(to_string(t));
  }
  CHECK(to_string(MessageType::GetConnections) == "get_connections");
  CHECK(to_string(MessageType::Connections) == "connections");
  CHECK(names.size() == 16);
  CHECK_FALSE(p2p::message_type_from_wire(0));
  CHECK_FALSE(p2p::message_type_from_wire(17));
}

TEST_CASE("reject codes have stable names that parse back", "[unit][p2p]") {
  CHECK(p2p::kAllRejectCodes.size() == 24);
  std::set<std::string_view> names;
  for (auto c : p2p::kAllRejectCodes) {
    auto name = to_string(c);
    names.insert(name);
    CHECK(p2p::parse_reject_code(name) == c);
    CHECK(p2p::reject_code_from_wire(static_cast<std::uint16_t>(c)) == c);
  }
  CHECK(names.size() == p2p::kAllRejectCodes.size());
  CHECK(to_string(RejectCode::bad_magic) == "bad_magic");
  CHECK(to_string(RejectCode::per_ip_limit) == "per_ip_limit");
  CHECK(to_string(RejectCode::admin) == "admin");
  CHECK(static_cast<int>(RejectCode::protocol_error) == 1);
  CHECK(static_cast<int>(RejectCode::admin) == 24);
  CHECK_FALSE(p2p::parse_reject_code("Bad_Magic"));
  CHECK_FALSE(p2p::parse_reject_code(""));
  CHECK_FALSE(p2p::reject_code_from_wire(0));
  CHECK_FALSE(p2p::reject_code_from_wire(25));
}

TEST_CASE("a Reject keeps an unknown code and cuts a long detail", "[unit][p2p]") {
  p2p::Reject r;
  r.code = 999;
  r.detail = "from the future";
  auto decoded = p2p::decode_reject(p2p::encode(r));
  REQUIRE(decoded);
  CHECK(decoded->code == 999);
  CHECK_FALSE(decoded->known_code());
  CHECK(decoded->code_name() == "unknown");

  auto long_reject = p2p::make_reject(RejectCode::timeout, std::string(1000, 'x'));
  CHECK(long_reject.detail.size() == p2p::kMaxRejectDetail);
  CHECK(long_reject.known_code() == RejectCode::timeout);
  CHECK(long_reject.code_name() == "timeout");
  CHECK(p2p::decode_reject(p2p::encode(long_reject)).has_value());
}

// --- messages -----------------------------------------------------------------

TEST_CASE("every message round-trips through encode_message and decode_message", "[unit][p2p]") {
  auto messages = sample_messages();
  REQUIRE(messages.size() == p2p::kAllMessageTypes.size());
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const auto& m = messages[i];
    auto encoded = p2p::encode_message(m);
    INFO(to_string(encoded.type));
    CHECK(encoded.type == p2p::kAllMessageTypes[i]);
    CHECK(p2p::message_type(m) == encoded.type);
    auto decoded = p2p::decode_message(encoded.type, encoded.payload);
    REQUIRE(decoded);
    CHECK(decoded->index() == m.index());
    CHECK(*decoded == m);
    CHECK(p2p::encode_message(*decoded) == encoded);
  }
}

TEST_CASE("messages decode from frames end to end", "[unit][p2p]") {
  Bytes stream;
  auto messages = sample_messages();
  for (const auto& m : messages) {
    auto encoded = p2p::encode_message(m);
    auto frame = p2p::encode_frame(kMagic, encoded.type, encoded.payload);
    stream.insert(stream.end(), frame.begin(), frame.end());
  }
  auto out = decode_all(stream, p2p::kDefaultMaxMessageSize);
  REQUIRE_FALSE(out.error);
  REQUIRE(out.frames.size() == messages.size());
  for (std::size_t i = 0; i < messages.size(); ++i) {
    auto decoded = p2p::decode_message(out.frames[i].type, out.frames[i].payload);
    REQUIRE(decoded);
    CHECK(*decoded == messages[i]);
  }
}

TEST_CASE("every truncation of every message fails to decode", "[unit][p2p]") {
  std::size_t checked = 0;
  for (const auto& m : sample_messages()) {
    auto encoded = p2p::encode_message(m);
    INFO(to_string(encoded.type));
    for (std::size_t len = 0; len < encoded.payload.size(); ++len) {
      INFO("prefix of " << len << " of " << encoded.payload.size() << " bytes");
      CHECK_FALSE(p2p::decode_message(encoded.type, std::span(encoded.payload).first(len)));
      ++checked;
    }
  }
  CHECK(checked > 1000);
}

TEST_CASE("every message refuses trailing bytes", "[unit][p2p]") {
  for (const auto& m : sample_messages()) {
    auto encoded = p2p::encode_message(m);
    INFO(to_string(encoded.type));
    encoded.payload.push_back(0);
    auto decoded = p2p::decode_message(encoded.type, encoded.payload);
    REQUIRE_FALSE(decoded);
    // After a Hello without an address, more bytes are its optional
    // address field (version 2): one byte is a truncated one.
    if (encoded.type == MessageType::Hello)
      CHECK_THAT(decoded.error().message, Contains("address") && Contains("truncated"));
    else
      CHECK_THAT(decoded.error().message, Contains("trailing"));
  }
}

TEST_CASE("a payload of one type does not decode as another", "[unit][p2p]") {
  auto hello = p2p::encode_message(sample_messages()[0]);
  CHECK_FALSE(p2p::decode_message(MessageType::Ping, hello.payload));
  CHECK_FALSE(p2p::decode_message(MessageType::GetPeers, hello.payload));
  CHECK_FALSE(p2p::decode_message(MessageType::Hello, p2p::encode(p2p::Ping{1})));
}

TEST_CASE("counts and lengths at their limits decode, one more is refused", "[unit][p2p]") {
  SECTION("locator") {
    p2p::GetHeaders m;
    m.locator.assign(p2p::kMaxLocator, hash(9));
    CHECK(p2p::decode_get_headers(p2p::encode(m)));
    auto bytes = with_count(p2p::kMaxLocator + 1);
    for (std::uint32_t i = 0; i <= p2p::kMaxLocator; ++i) bytes.insert(bytes.end(), 32, 9);
    core::codec::Writer w;
    w.u32(1);
    bytes.insert(bytes.end(), w.data().begin(), w.data().end());
    CHECK_THAT(error_of(p2p::decode_get_headers(bytes)), Contains("locator hashes") && Contains("exceeds the limit"));
  }
  SECTION("get_headers limit must be 1..2000") {
    p2p::GetHeaders m;
    m.limit = p2p::kMaxHeadersPerMessage;
    auto bytes = p2p::encode(m);
    CHECK(p2p::decode_get_headers(bytes));
    for (std::uint32_t bad : {0u, p2p::kMaxHeadersPerMessage + 1}) {
      core::codec::Writer w;
      w.u32(0).u32(bad);
      CHECK_THAT(error_of(p2p::decode_get_headers(w.data())), Contains("limit"));
    }
  }
  SECTION("headers") {
    Net net;
    p2p::Headers m;
    m.headers.assign(p2p::kMaxHeadersPerMessage, chain::genesis_header(net.spec));
    auto bytes = p2p::encode(m);
    auto decoded = p2p::decode_headers(bytes);
    REQUIRE(decoded);
    CHECK(decoded->headers.size() == p2p::kMaxHeadersPerMessage);
    // One more header, count raised to match: refused by the count alone.
    auto one = chain::encode(chain::genesis_header(net.spec));
    bytes.insert(bytes.end(), one.begin(), one.end());
    auto count = with_count(p2p::kMaxHeadersPerMessage + 1);
    std::copy(count.begin(), count.end(), bytes.begin());
    CHECK_THAT(error_of(p2p::decode_headers(bytes)), Contains("exceeds the limit"));
  }
  SECTION("get_blocks") {
    p2p::GetBlocks m;
    m.hashes.assign(p2p::kMaxBlocksPerMessage, hash(1));
    auto bytes = p2p::encode(m);
    CHECK(p2p::decode_get_blocks(bytes));
    bytes.insert(bytes.end(), 32, 1);
    auto count = with_count(p2p::kMaxBlocksPerMessage + 1);
    std::copy(count.begin(), count.end(), bytes.begin());
    CHECK_THAT(error_of(p2p::decode_get_blocks(bytes)), Contains("exceeds the limit"));
  }
  SECTION("blocks: count, and the length of one block") {
    CHECK_THAT(error_of(p2p::decode_blocks(with_count(p2p::kMaxBlocksPerMessage + 1))), Contains("exceeds the limit"));
    core::codec::Writer w;
    w.u32(1).u32(static_cast<std::uint32_t>(p2p::kMaxBlockBytes + 1));
    w.raw(Bytes(chain::kHeaderSize, 0));  // enough bytes for the count to be plausible
    CHECK_THAT(error_of(p2p::decode_blocks(w.data())), Contains("blocks[0]") && Contains("exceeds the limit"));
  }
  SECTION("peers") {
    p2p::Peers m;
    m.peers.assign(p2p::kMaxPeersPerMessage, p2p::PeerEntry{test::key(1).public_key(), "h:1", p2p::Role::Regular, 0});
    auto bytes = p2p::encode(m);
    CHECK(p2p::decode_peers(bytes));
    CHECK_THAT(error_of(p2p::decode_peers(with_count(p2p::kMaxPeersPerMessage + 1))), Contains("exceeds the limit"));
  }
  SECTION("strings") {
    Net net;
    Hello h = net.hello_from(test::key(9), nonce(1));
    h.network = std::string(p2p::kMaxNetworkName, 'n');
    h.user_agent = std::string(p2p::kMaxUserAgent, 'u');
    CHECK(p2p::decode_hello(p2p::encode(h)));

    // Too long by one: built by hand, since encode asserts the limits.
    auto hello_with = [&](std::size_t network_len, std::size_t agent_len) {
      core::codec::Writer w;
      w.u32(h.protocol_version).u32(h.min_version).str(std::string(network_len, 'n')).fixed(h.genesis_hash);
      w.fixed(h.node_id).u8(0).u16(h.listen_port).u64(h.best_height).fixed(h.best_hash).fixed(h.session_nonce);
      w.str(std::string(agent_len, 'u')).fixed(h.ack_nonce).fixed(h.signature);
      return w.take();
    };
    CHECK(p2p::decode_hello(hello_with(p2p::kMaxNetworkName, p2p::kMaxUserAgent)));
    CHECK_THAT(error_of(p2p::decode_hello(hello_with(p2p::kMaxNetworkName + 1, 1))), Contains("network"));
    CHECK_THAT(error_of(p2p::decode_hello(hello_with(1, p2p::kMaxUserAgent + 1))), Contains("user_agent"));

    core::codec::Writer reject;
    reject.u16(1).str(std::string(p2p::kMaxRejectDetail + 1, 'd'));
    CHECK_THAT(error_of(p2p::decode_reject(reject.data())), Contains("detail"));

    core::codec::Writer peer;
    peer.u32(1).fixed(test::key(1).public_key()).str(std::string(p2p::kMaxPeerAddress + 1, 'a')).u8(0).i64(0);
    CHECK_THAT(error_of(p2p::decode_peers(peer.data())), Contains("address"));
  }
  SECTION("genesis spec length") {
    core::codec::Writer w;
    w.u32(static_cast<std::uint32_t>(p2p::kMaxGenesisBytes + 1));
    CHECK_THAT(error_of(p2p::decode_genesis(w.data())), Contains("exceeds the limit"));
  }
}

TEST_CASE("an unknown role is malformed", "[unit][p2p]") {
  Net net;
  auto bytes = p2p::encode(net.hello_from(test::key(9), nonce(1)));
  // role sits after versions (8), network (4 + 8 "unittest"), genesis (32) and node id (32).
  const std::size_t role_at = 8 + 4 + net.spec.network.size() + 32 + 32;
  REQUIRE(bytes[role_at] == 0);
  bytes[role_at] = 1;
  auto masternode = p2p::decode_hello(bytes);
  REQUIRE(masternode);
  CHECK(masternode->role == p2p::Role::Masternode);
  bytes[role_at] = 2;
  CHECK_THAT(error_of(p2p::decode_hello(bytes)), Contains("role"));

  core::codec::Writer peer;
  peer.u32(1).fixed(test::key(1).public_key()).str("h:1").u8(7).i64(0);
  CHECK_THAT(error_of(p2p::decode_peers(peer.data())), Contains("role"));
}

TEST_CASE("connections: count bounded, role and outbound flag closed sets, address bounded", "[unit][p2p]") {
  p2p::Connections m;
  m.peers.assign(p2p::kMaxPeersPerMessage,
                 p2p::ConnectionEntry{test::key(1).public_key(), "h:1", p2p::Role::Regular, false, 5});
  CHECK(p2p::decode_connections(p2p::encode(m)));
  CHECK_THAT(error_of(p2p::decode_connections(with_count(p2p::kMaxPeersPerMessage + 1))),
             Contains("exceeds the limit"));
  auto entry = [](std::size_t address_len, std::uint8_t role, std::uint8_t outbound) {
    core::codec::Writer w;
    w.u32(1).fixed(test::key(1).public_key()).str(std::string(address_len, 'a')).u8(role).u8(outbound).u64(9);
    return w.take();
  };
  CHECK(p2p::decode_connections(entry(p2p::kMaxPeerAddress, 1, 1)));
  CHECK_THAT(error_of(p2p::decode_connections(entry(p2p::kMaxPeerAddress + 1, 0, 0))), Contains("address"));
  CHECK_THAT(error_of(p2p::decode_connections(entry(3, 2, 0))), Contains("role"));
  CHECK_THAT(error_of(p2p::decode_connections(entry(3, 0, 2))), Contains("outbound"));
  CHECK_THAT(error_of(p2p::decode_get_connections(Bytes{0})), Contains("get_connections"));
}

TEST_CASE("a genesis message must carry a valid spec", "[unit][p2p]") {
  Net net;
  auto spec = net.spec;
  spec.block_time_ms = 1;  // below the minimum: chain::validate refuses it
  core::codec::Writer w;
  w.bytes(chain::encode(spec));
  CHECK_FALSE(p2p::decode_genesis(w.data()));
}

// --- handshake ----------------------------------------------------------------

namespace {

struct Handshake {
  Net net;
  crypto::KeyPair initiator_key = test::key(21);
  crypto::KeyPair responder_key = test::key(22);
  Hello initiator = net.hello_from(initiator_key, nonce(0xA1));
  Hello reply = make_reply(nonce(0xB2));

  Hello make_reply(p2p::Nonce session) const {
    Hello r = net.hello_from(responder_key, session);
    r.best_height = 9;
    r.ack_nonce = initiator.session_nonce;
    p2p::sign_responder_hello(r, responder_key);
    return r;
  }
};

}  // namespace

TEST_CASE("a valid handshake transcript verifies on both sides", "[unit][p2p]") {
  Handshake hs;
  CHECK_FALSE(hs.reply.signature.is_zero());
  CHECK(hs.reply.ack_nonce == hs.initiator.session_nonce);
  auto reply_ok = p2p::verify_responder_hello(hs.reply, hs.initiator);
  INFO((reply_ok ? std::string() : reply_ok.error().message));
  CHECK(reply_ok);
  auto ack = p2p::make_hello_ack(hs.initiator, hs.reply, hs.initiator_key);
  CHECK(p2p::verify_hello_ack(ack, hs.initiator, hs.reply));

  // The reply survives the wire: what is verified is what was decoded.
  auto decoded = p2p::decode_hello(p2p::encode(hs.reply));
  REQUIRE(decoded);
  CHECK(p2p::verify_responder_hello(*decoded, hs.initiator));
  auto ack_decoded = p2p::decode_hello_ack(p2p::encode(ack));
  REQUIRE(ack_decoded);
  CHECK(p2p::verify_hello_ack(*ack_decoded, hs.initiator, hs.reply));
}

TEST_CASE("the responder's signature covers every field of its reply", "[unit][p2p]") {
  using Mutation = std::function<void(Hello&)>;
  std::vector<std::pair<std::string, Mutation>> mutations = {
      {"protocol_version", [](Hello& h) { h.protocol_version += 1; }},
      {"min_version", [](Hello& h) { h.min_version += 1; }},
      {"network", [](Hello& h) { h.network += "x"; }},
      {"genesis_hash", [](Hello& h) { h.genesis_hash.bytes[0] ^= 1; }},
      {"role", [](Hello& h) { h.role = p2p::Role::Masternode; }},
      {"listen_port", [](Hello& h) { h.listen_port += 1; }},
      {"best_height", [](Hello& h) { h.best_height += 1; }},
      {"best_hash", [](Hello& h) { h.best_hash.bytes[31] ^= 1; }},
      {"session_nonce", [](Hello& h) { h.session_nonce.bytes[5] ^= 1; }},
      {"user_agent", [](Hello& h) { h.user_agent = "evil/1.0"; }},
      {"signature", [](Hello& h) { h.signature.bytes[0] ^= 1; }},
      {"address added", [](Hello& h) { h.address = "203.0.113.9:24100"; }},
  };
  Handshake hs;
  for (const auto& [field, mutate] : mutations) {
    INFO(field);
    Hello tampered = hs.reply;
    mutate(tampered);
    auto r = p2p::verify_responder_hello(tampered, hs.initiator);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message, Contains("signature"));
  }
}

TEST_CASE("a reply for another session nonce or by another key is refused", "[unit][p2p]") {
  Handshake hs;
  SECTION("acknowledging a different initiator nonce") {
    Hello other_initiator = hs.initiator;
    other_initiator.session_nonce = nonce(0xC3);
    CHECK_THAT(error_of(p2p::verify_responder_hello(hs.reply, other_initiator)), Contains("not ours"));
  }
  SECTION("ack_nonce rewritten to ours after signing") {
    Hello other_initiator = hs.initiator;
    other_initiator.session_nonce = nonce(0xC3);
    Hello replayed = hs.reply;
    replayed.ack_nonce = other_initiator.session_nonce;
    CHECK_THAT(error_of(p2p::verify_responder_hello(replayed, other_initiator)), Contains("signature"));
  }
  SECTION("signed by a key other than node_id") {
    Hello forged = hs.reply;
    forged.signature = test::key(99).sign(p2p::kResponderDomain, p2p::responder_transcript(forged).span());
    CHECK_THAT(error_of(p2p::verify_responder_hello(forged, hs.initiator)), Contains("signature"));
  }
  SECTION("claiming a masternode's id without its key") {
    Hello forged = hs.reply;
    forged.node_id = hs.net.masternodes[0].public_key();
    forged.role = p2p::Role::Masternode;
    forged.signature = hs.responder_key.sign(p2p::kResponderDomain, p2p::responder_transcript(forged).span());
    CHECK_FALSE(p2p::verify_responder_hello(forged, hs.initiator));
  }
  SECTION("signed under the initiator's domain") {
    Hello wrong_domain = hs.reply;
    wrong_domain.signature =
        hs.responder_key.sign(p2p::kInitiatorDomain, p2p::responder_transcript(wrong_domain).span());
    CHECK_FALSE(p2p::verify_responder_hello(wrong_domain, hs.initiator));
  }
  SECTION("echoing our own nonce as its session nonce") {
    Hello echo = hs.net.hello_from(hs.responder_key, hs.initiator.session_nonce);
    echo.ack_nonce = hs.initiator.session_nonce;
    p2p::sign_responder_hello(echo, hs.responder_key);
    CHECK_THAT(error_of(p2p::verify_responder_hello(echo, hs.initiator)), Contains("reuses"));
  }
}

TEST_CASE("a HelloAck is bound to both nonces, the initiator's Hello and its key", "[unit][p2p]") {
  Handshake hs;
  auto ack = p2p::make_hello_ack(hs.initiator, hs.reply, hs.initiator_key);
  REQUIRE(p2p::verify_hello_ack(ack, hs.initiator, hs.reply));

  SECTION("replayed into a session with a new responder nonce") {
    Hello second_reply = hs.make_reply(nonce(0xD4));
    REQUIRE(p2p::verify_responder_hello(second_reply, hs.initiator));
    CHECK_THAT(error_of(p2p::verify_hello_ack(ack, hs.initiator, second_reply)), Contains("signature"));
  }
  SECTION("initiator's Hello changed after signing") {
    Hello tampered = hs.initiator;
    tampered.role = p2p::Role::Masternode;
    CHECK_FALSE(p2p::verify_hello_ack(ack, tampered, hs.reply));
    tampered = hs.initiator;
    tampered.session_nonce.bytes[0] ^= 1;
    CHECK_FALSE(p2p::verify_hello_ack(ack, tampered, hs.reply));
    tampered = hs.initiator;
    tampered.best_height += 1;
    CHECK_FALSE(p2p::verify_hello_ack(ack, tampered, hs.reply));
  }
  SECTION("signed by another key") {
    p2p::HelloAck forged;
    forged.signature = test::key(99).sign(p2p::kInitiatorDomain, p2p::initiator_transcript(hs.initiator, hs.reply));
    CHECK_FALSE(p2p::verify_hello_ack(forged, hs.initiator, hs.reply));
  }
  SECTION("the responder's signature is no HelloAck") {
    p2p::HelloAck reflected;
    reflected.signature = hs.reply.signature;
    CHECK_FALSE(p2p::verify_hello_ack(reflected, hs.initiator, hs.reply));
  }
  SECTION("signed under the responder's domain") {
    p2p::HelloAck wrong_domain;
    wrong_domain.signature =
        hs.initiator_key.sign(p2p::kResponderDomain, p2p::initiator_transcript(hs.initiator, hs.reply));
    CHECK_FALSE(p2p::verify_hello_ack(wrong_domain, hs.initiator, hs.reply));
  }
}

TEST_CASE("transcripts are what the header documents", "[unit][p2p]") {
  Handshake hs;
  Hello unsigned_reply = hs.reply;
  unsigned_reply.signature = {};
  CHECK(p2p::responder_transcript(hs.reply) == crypto::blake2b256(p2p::encode(unsigned_reply)));
  auto expected = p2p::encode(hs.initiator);
  expected.insert(expected.end(), hs.reply.session_nonce.bytes.begin(), hs.reply.session_nonce.bytes.end());
  CHECK(p2p::initiator_transcript(hs.initiator, hs.reply) == expected);
}

TEST_CASE("session nonces are fresh and never zero", "[unit][p2p]") {
  auto a = p2p::new_session_nonce();
  auto b = p2p::new_session_nonce();
  CHECK_FALSE(a.is_zero());
  CHECK(a != b);
}

TEST_CASE("check_hello refuses each incompatible Hello with its own code", "[unit][p2p]") {
  Net net;
  auto ours = net.identity(test::key(30));
  Hello good = net.hello_from(test::key(31), nonce(1));
  REQUIRE(p2p::check_hello(good, ours));

  auto code_of = [&](const Hello& h) {
    auto r = p2p::check_hello(h, ours);
    REQUIRE_FALSE(r);
    INFO(r.error().detail);
    CHECK_FALSE(r.error().detail.empty());
    return r.error().code;
  };

  SECTION("network") {
    Hello h = good;
    h.network = "mainnet";
    CHECK(code_of(h) == RejectCode::network_mismatch);
  }
  SECTION("network with a newline: quoted escaped, within a Reject's detail") {
    Hello h = good;
    h.network = std::string(p2p::kMaxNetworkName - 1, '\n') + "x";
    CHECK(code_of(h) == RejectCode::network_mismatch);
    const auto detail = p2p::check_hello(h, ours).error().detail;
    CHECK(detail.find('\n') == std::string::npos);
    CHECK_THAT(detail, Contains("peer is on network \"\\n\\n"));
    CHECK(detail.size() <= p2p::kMaxRejectDetail);
  }
  SECTION("genesis") {
    Hello h = good;
    h.genesis_hash.bytes[0] ^= 1;
    CHECK(code_of(h) == RejectCode::genesis_mismatch);
    CHECK_THAT(p2p::check_hello(h, ours).error().detail, Contains(h.genesis_hash.hex()));
  }
  SECTION("version ranges") {
    Hello h = good;
    h.min_version = ours.protocol_version + 1;
    h.protocol_version = ours.protocol_version + 3;
    CHECK(code_of(h) == RejectCode::version);
    h.min_version = 0;
    h.protocol_version = ours.min_version - 1;
    CHECK(code_of(h) == RejectCode::version);
    h.min_version = 5;  // an empty range
    h.protocol_version = 4;
    CHECK(code_of(h) == RejectCode::version);
    // An overlapping, newer range is compatible.
    h.min_version = ours.protocol_version;
    h.protocol_version = ours.protocol_version + 5;
    CHECK(p2p::check_hello(h, ours));
  }
  SECTION("self") {
    Hello h = net.hello_from(test::key(30), nonce(1));
    CHECK(code_of(h) == RejectCode::self);
  }
  SECTION("masternode role") {
    Hello regular_key = good;
    regular_key.role = p2p::Role::Masternode;
    CHECK(code_of(regular_key) == RejectCode::not_masternode);
    Hello genesis_key = net.hello_from(net.masternodes[1], nonce(1), p2p::Role::Masternode);
    CHECK(p2p::check_hello(genesis_key, ours));
    // Without a predicate no key is a masternode.
    auto no_list = ours;
    no_list.is_masternode = nullptr;
    auto r = p2p::check_hello(genesis_key, no_list);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == RejectCode::not_masternode);
  }
  SECTION("zero session nonce") {
    Hello h = good;
    h.session_nonce = {};
    CHECK(code_of(h) == RejectCode::malformed);
  }
}

TEST_CASE("an opening Hello must not carry an ack nonce or signature", "[unit][p2p]") {
  Handshake hs;
  CHECK(p2p::check_initiator_hello(hs.initiator));
  auto r = p2p::check_initiator_hello(hs.reply);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == RejectCode::handshake_order);
  Hello only_signature = hs.initiator;
  only_signature.signature.bytes[3] = 1;
  CHECK_FALSE(p2p::check_initiator_hello(only_signature));
  // The reply passes the common checks on the initiator's side.
  CHECK(p2p::check_hello(hs.reply, hs.net.identity(hs.initiator_key)));
}

TEST_CASE("kMaxHelloPayload is the size of the largest valid Hello, and bounds every handshake-phase message",
          "[unit][p2p]") {
  core::p2p::Hello h;
  h.network = std::string(core::p2p::kMaxNetworkName, 'n');
  h.user_agent = std::string(core::p2p::kMaxUserAgent, 'u');
  h.address = std::string(core::p2p::kMaxPeerAddress - 6, 'a') + ":24100";
  REQUIRE(core::p2p::decode_hello(core::p2p::encode(h)));
  CHECK(core::p2p::encode(h).size() == core::p2p::kMaxHelloPayload);
  core::p2p::Reject r;
  r.detail = std::string(core::p2p::kMaxRejectDetail, 'd');
  CHECK(core::p2p::encode(r).size() <= core::p2p::kMaxHandshakeFrame);
  CHECK(core::p2p::encode(core::p2p::HelloAck{}).size() <= core::p2p::kMaxHandshakeFrame);
  CHECK(core::p2p::kMaxHandshakeFrame < 4096);
}

TEST_CASE("Hello.address: absent encodes as version 1, present is signed, and a bad one is malformed", "[unit][p2p]") {
  Net net;
  Hello v1 = net.hello_from(test::key(9), nonce(1));
  const auto v1_bytes = p2p::encode(v1);

  SECTION("absent: the version-1 layout, unchanged") {
    // Built by hand in the version-1 layout: nothing after the signature.
    core::codec::Writer w;
    w.u32(v1.protocol_version).u32(v1.min_version).str(v1.network).fixed(v1.genesis_hash).fixed(v1.node_id);
    w.u8(0).u16(v1.listen_port).u64(v1.best_height).fixed(v1.best_hash).fixed(v1.session_nonce);
    w.str(v1.user_agent).fixed(v1.ack_nonce).fixed(v1.signature);
    CHECK(w.data() == v1_bytes);
    auto decoded = p2p::decode_hello(v1_bytes);
    REQUIRE(decoded);
    CHECK(decoded->address.empty());
    CHECK(*decoded == v1);
  }
  SECTION("present: appended as a string, and round-trips") {
    Hello h = v1;
    h.address = "127.0.0.2:24100";
    const auto bytes = p2p::encode(h);
    REQUIRE(bytes.size() == v1_bytes.size() + 4 + h.address.size());
    CHECK(std::equal(v1_bytes.begin(), v1_bytes.end(), bytes.begin()));
    auto decoded = p2p::decode_hello(bytes);
    REQUIRE(decoded);
    CHECK(*decoded == h);
    CHECK(p2p::encode(*decoded) == bytes);
    h.address = "[2001:db8::7]:24100";
    auto v6 = p2p::decode_hello(p2p::encode(h));
    REQUIRE(v6);
    CHECK(v6->address == "[2001:db8::7]:24100");
  }
  auto with_trailing = [&](const Bytes& tail) {
    Bytes out = v1_bytes;
    out.insert(out.end(), tail.begin(), tail.end());
    return out;
  };
  auto str_field = [](const std::string& s) {
    core::codec::Writer w;
    w.str(s);
    return w.take();
  };
  SECTION("present but empty: malformed (one encoding per Hello)") {
    CHECK_THAT(error_of(p2p::decode_hello(with_trailing(str_field("")))), Contains("address") && Contains("empty"));
  }
  SECTION("not host:port, port zero, or too long: malformed") {
    CHECK_THAT(error_of(p2p::decode_hello(with_trailing(str_field("127.0.0.2")))),
               Contains("address") && Contains("missing port"));
    CHECK_THAT(error_of(p2p::decode_hello(with_trailing(str_field("127.0.0.2:0")))),
               Contains("address") && Contains("out of range"));
    CHECK_THAT(error_of(p2p::decode_hello(with_trailing(str_field("evil\nhost:1")))), Contains("address"));
    CHECK_THAT(error_of(p2p::decode_hello(with_trailing(str_field(std::string(p2p::kMaxPeerAddress, 'a') + ":1")))),
               Contains("address") && Contains("exceeds the limit"));
  }
  SECTION("cut before its address, a Hello is the version-1 Hello without one") {
    // The one prefix that decodes: the frame's length and checksum, not the
    // payload, say where a Hello ends, and the signatures cover the address.
    Hello h = v1;
    h.address = "127.0.0.2:24100";
    const auto bytes = p2p::encode(h);
    auto cut = p2p::decode_hello(std::span(bytes).first(v1_bytes.size()));
    REQUIRE(cut);
    CHECK(*cut == v1);
  }
  SECTION("a truncated address field, or bytes after it: malformed") {
    CHECK_THAT(error_of(p2p::decode_hello(with_trailing({1, 0}))), Contains("address"));
    Bytes tail = str_field("127.0.0.2:24100");
    tail.push_back(0);
    CHECK_THAT(error_of(p2p::decode_hello(with_trailing(tail))), Contains("trailing"));
  }
}

TEST_CASE("the responder's signature covers its announced address", "[unit][p2p]") {
  Handshake hs;
  hs.reply.address = "127.0.0.3:24100";
  hs.reply.signature = {};
  p2p::sign_responder_hello(hs.reply, hs.responder_key);
  REQUIRE(p2p::verify_responder_hello(hs.reply, hs.initiator));
  for (const std::string& other : {std::string("127.0.0.4:24100"), std::string("127.0.0.3:24101"), std::string()}) {
    INFO(other);
    Hello tampered = hs.reply;
    tampered.address = other;
    CHECK_THAT(error_of(p2p::verify_responder_hello(tampered, hs.initiator)), Contains("signature"));
  }
}

TEST_CASE("the initiator's acknowledgement covers its announced address", "[unit][p2p]") {
  Handshake hs;
  hs.initiator.address = "127.0.0.2:24100";
  hs.reply = hs.make_reply(nonce(0xB2));
  const auto ack = p2p::make_hello_ack(hs.initiator, hs.reply, hs.initiator_key);
  REQUIRE(p2p::verify_hello_ack(ack, hs.initiator, hs.reply));
  Hello tampered = hs.initiator;
  tampered.address = "127.0.0.9:24100";
  CHECK_THAT(error_of(p2p::verify_hello_ack(ack, tampered, hs.reply)), Contains("signature"));
}
