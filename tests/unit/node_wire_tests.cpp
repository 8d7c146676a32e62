// libcore/node/wire: the message stream and the handshake over real
// loopback sockets (127.0.0.1, port 0) on an in-process io_context. No
// sleeps: each test runs the io_context until its coroutines have finished;
// every wait is bounded by a deadline, so a broken peer ends a test with a
// failure, never a hang.

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>

#include "libcore/chain/block.hpp"
#include "libcore/chain/genesis.hpp"
#include "libcore/node/listener.hpp"
#include "libcore/node/wire.hpp"
#include "libcore/p2p/frame.hpp"
#include "libcore/p2p/handshake.hpp"
#include "libcore/p2p/messages.hpp"
#include "libcore/util/printable.hpp"
#include "test_support.hpp"

using Catch::Matchers::Contains;
using core::node::Failure;
using core::node::FailureKind;
using core::node::HandshakeResult;
using core::node::WireStream;
using core::p2p::RejectCode;

namespace asio = boost::asio;
namespace chain = core::chain;
namespace crypto = core::crypto;
namespace p2p = core::p2p;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
// Bound of every step that should succeed at once on loopback: generous, so
// a slow machine never fails a test, yet a hang ends it.
constexpr auto kDeadline = std::chrono::seconds(10);
constexpr std::size_t kMax = p2p::kDefaultMaxMessageSize;

using Outcome = tl::expected<HandshakeResult, Failure>;

// One node's side of a handshake.
struct Side {
  crypto::KeyPair key;
  chain::GenesisSpec spec;
  p2p::Hello hello;
  p2p::LocalIdentity identity;
};

Side make_side(const crypto::KeyPair& key, const chain::GenesisSpec& spec, p2p::Role role = p2p::Role::Regular) {
  Side s{key, spec, {}, p2p::make_local_identity(spec, key.public_key())};
  s.hello.network = spec.network;
  s.hello.genesis_hash = chain::genesis_hash(spec);
  s.hello.node_id = key.public_key();
  s.hello.role = role;
  s.hello.listen_port = 24100;
  s.hello.best_height = 0;
  s.hello.best_hash = s.hello.genesis_hash;
  s.hello.session_nonce = p2p::new_session_nonce();
  s.hello.user_agent = "wire-test";
  return s;
}

std::uint32_t magic_of(const Side& s) { return chain::network_magic(s.spec.network); }

// A listening socket on 127.0.0.1 with a kernel-chosen port.
struct Listener {
  explicit Listener(asio::io_context& io) : acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {}
  std::uint16_t port() const { return acceptor.local_endpoint().port(); }
  tcp::acceptor acceptor;
};

// Spawns `work` on `io`; its result lands in `out`. An exception (a failed
// REQUIRE inside the coroutine) is rethrown out of io.run().
template <typename T>
asio::awaitable<void> store_in(asio::awaitable<T> work, std::optional<T>& out) {
  out.emplace(co_await std::move(work));
}
template <typename T>
void spawn(asio::io_context& io, asio::awaitable<T> work, std::optional<T>& out) {
  asio::co_spawn(io, store_in(std::move(work), out), [](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
  });
}

// Runs until every coroutine finished; they all end by their deadlines.
void run_to_completion(asio::io_context& io) { io.run(); }

asio::awaitable<tcp::socket> accept_one(tcp::acceptor& acceptor) {
  auto [ec, socket] = co_await acceptor.async_accept(kTuple);
  REQUIRE_FALSE(ec);
  co_return std::move(socket);
}

asio::awaitable<tcp::socket> dial(std::uint16_t port) {
  // A named address: connect_to keeps a reference to it while it runs (and
  // GCC 12 mishandles braced temporaries inside co_await expressions).
  const core::util::HostPort address{"127.0.0.1", port};
  auto socket = co_await core::node::connect_to(address, Clock::now() + kDeadline);
  REQUIRE(socket.has_value());
  co_return std::move(*socket);
}

// The responder: accepts one connection and answers a handshake. On failure
// it closes gracefully with the Reject the failure carries, so the
// initiator reads the reason.
asio::awaitable<Outcome> respond(tcp::acceptor& acceptor, Side side, std::size_t max_message_size = kMax,
                                 Clock::duration deadline = kDeadline) {
  WireStream wire(co_await accept_one(acceptor), magic_of(side), max_message_size);
  auto r =
      co_await core::node::respond_handshake(wire, side.hello, side.key, side.identity, {}, Clock::now() + deadline);
  // Named, not `r ? std::nullopt : ...` inline: GCC 12 destroys a
  // conditional-expression argument of a coroutine call in co_await twice.
  std::optional<p2p::Reject> reason;
  if (!r) reason = r.error().to_send;
  co_await wire.close_gracefully(std::move(reason));
  co_return r;
}

// The initiator: dials and runs the handshake, then closes like respond().
asio::awaitable<Outcome> initiate(std::uint16_t port, Side side, Clock::duration deadline = kDeadline) {
  WireStream wire(co_await dial(port), magic_of(side), kMax);
  auto r = co_await core::node::initiate_handshake(wire, side.hello, side.key, side.identity, Clock::now() + deadline);
  std::optional<p2p::Reject> reason;  // named: see respond()
  if (!r) reason = r.error().to_send;
  co_await wire.close_gracefully(std::move(reason));
  co_return r;
}

// Sends raw bytes, then returns everything the peer sends until it closes.
asio::awaitable<std::vector<std::uint8_t>> send_raw(std::uint16_t port, std::vector<std::uint8_t> bytes) {
  auto socket = co_await dial(port);
  auto [wec, written] = co_await asio::async_write(socket, asio::buffer(bytes), kTuple);
  REQUIRE_FALSE(wec);
  REQUIRE(written == bytes.size());
  std::vector<std::uint8_t> received;
  std::vector<std::uint8_t> chunk(4096);
  for (;;) {
    auto [ec, n] = co_await socket.async_read_some(asio::buffer(chunk), kTuple);
    received.insert(received.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(n));
    if (ec) break;
  }
  co_return received;
}

// The single Reject in `bytes` (a stream of frames on `magic`).
p2p::Reject only_reject(std::uint32_t magic, const std::vector<std::uint8_t>& bytes) {
  p2p::FrameDecoder decoder(magic, kMax);
  std::span<const std::uint8_t> in(bytes);
  std::vector<p2p::Frame> frames;
  while (!in.empty()) {
    in = in.subspan(decoder.feed(in));
    auto frame = decoder.next();
    REQUIRE(frame.has_value());
    if (*frame) frames.push_back(std::move(**frame));
  }
  REQUIRE(frames.size() == 1);
  REQUIRE(frames[0].type == p2p::MessageType::Reject);
  auto reject = p2p::decode_reject(frames[0].payload);
  REQUIRE(reject.has_value());
  return *reject;
}

void put_u32(std::vector<std::uint8_t>& out, std::size_t at, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out[at + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v >> (8 * i));
}

// A responder that meets `bytes` instead of a Hello: returns its failure and
// the Reject the sender read.
std::pair<Failure, p2p::Reject> respond_to_raw(const Side& side, std::vector<std::uint8_t> bytes,
                                               std::size_t max_message_size = kMax) {
  asio::io_context io;
  Listener listener(io);
  std::optional<Outcome> responder;
  std::optional<std::vector<std::uint8_t>> received;
  spawn(io, respond(listener.acceptor, side, max_message_size), responder);
  spawn(io, send_raw(listener.port(), std::move(bytes)), received);
  run_to_completion(io);
  REQUIRE(responder.has_value());
  REQUIRE(received.has_value());
  REQUIRE_FALSE(responder->has_value());
  return {responder->error(), only_reject(magic_of(side), *received)};
}

const std::vector<crypto::KeyPair> kProducers = test::keys(2, 1);
const chain::GenesisSpec kSpec = test::make_spec(kProducers, "wiretest");

}  // namespace

TEST_CASE("failure labels name the class and the reject code", "[node][wire]") {
  Failure f;
  f.kind = FailureKind::rejected;
  f.code = "genesis_mismatch";
  CHECK(f.label() == "rejected:genesis_mismatch");
  CHECK(f.reason() == "genesis_mismatch");
  Failure t;
  t.kind = FailureKind::timeout;
  CHECK(t.label() == "timeout");
  CHECK(t.reason() == "timeout");
  auto local = core::node::local_failure(FailureKind::protocol_error, {RejectCode::bad_checksum, "bad sum"});
  CHECK(local.label() == "protocol_error:bad_checksum");
  REQUIRE(local.to_send.has_value());
  CHECK(local.to_send->known_code() == RejectCode::bad_checksum);
  CHECK(local.to_send->detail == "bad sum");
}

TEST_CASE("a peer's Reject detail enters the node printable and bounded", "[node][wire]") {
  using core::node::kMaxPrintedRejectDetail;
  using core::node::printable_detail;
  using core::node::rejected_by_peer;
  const auto forged = p2p::make_reject(RejectCode::protocol_error,
                                       "bye\n2026-01-01T00:00:00.000Z warning p2p: forged\r\n\x1b[2J{\"msg\":\"x\"}");
  const auto f = rejected_by_peer(forged);
  CHECK(f.by_peer);
  CHECK(f.label() == "rejected:protocol_error");
  CHECK(f.detail == "bye\\n2026-01-01T00:00:00.000Z warning p2p: forged\\r\\n\\x1b[2J{\"msg\":\"x\"}");
  CHECK(printable_detail(forged) == f.detail);
  // No detail: the code names it, as before.
  CHECK(rejected_by_peer(p2p::make_reject(RejectCode::shutdown, "")).detail == "shutdown");
  CHECK(printable_detail(p2p::make_reject(RejectCode::shutdown, "")).empty());
  // A whole detail of control bytes is cut, never longer than the bound.
  const auto binary = rejected_by_peer(p2p::make_reject(RejectCode::protocol_error, std::string(256, '\x01')));
  CHECK(binary.detail.size() <= kMaxPrintedRejectDetail);
  CHECK(binary.detail.ends_with(core::util::kCutMarker));
  CHECK(binary.detail.find('\x01') == std::string::npos);
}

TEST_CASE("socket errors are classified the way operators name them", "[node][wire]") {
  namespace err = asio::error;
  using core::node::socket_failure;
  CHECK(socket_failure(err::connection_refused, "connect").kind == FailureKind::refused);
  CHECK(socket_failure(err::timed_out, "connect").kind == FailureKind::timeout);
  CHECK(socket_failure(boost::beast::error::timeout, "read").kind == FailureKind::timeout);
  CHECK(socket_failure(err::host_unreachable, "connect").kind == FailureKind::unreachable);
  CHECK(socket_failure(err::network_unreachable, "connect").kind == FailureKind::unreachable);
  CHECK(socket_failure(err::connection_reset, "read").kind == FailureKind::reset);
  CHECK(socket_failure(err::broken_pipe, "write").kind == FailureKind::reset);
  auto eof = socket_failure(err::eof, "read");
  CHECK(eof.kind == FailureKind::reset);
  CHECK_THAT(eof.detail, Contains("read") && Contains("without a reason"));
  CHECK(eof.code.empty());
  CHECK_FALSE(eof.to_send.has_value());
}

TEST_CASE("a handshake succeeds both ways and the connection then carries messages", "[node][wire]") {
  asio::io_context io;
  Listener listener(io);
  const auto a = make_side(test::key(50), kSpec);                         // initiator, regular
  const auto b = make_side(kProducers[0], kSpec, p2p::Role::Masternode);  // responder, a genesis masternode

  struct InitiatorSeen {
    Outcome handshake;
    std::optional<p2p::Message> reply;
  };
  struct ResponderSeen {
    Outcome handshake;
    std::optional<p2p::Message> first, second;
  };
  const std::uint64_t nonce = 0x1122334455667788;

  auto initiator = [&]() -> asio::awaitable<InitiatorSeen> {
    WireStream wire(co_await dial(listener.port()), magic_of(a), kMax);
    auto r = co_await core::node::initiate_handshake(wire, a.hello, a.key, a.identity, Clock::now() + kDeadline);
    InitiatorSeen seen{r, std::nullopt};
    if (!r) co_return seen;
    wire.expires_at(Clock::now() + kDeadline);
    auto sent = co_await wire.write_message(p2p::Ping{nonce});
    REQUIRE(sent.has_value());
    auto reply = co_await wire.read_message();
    REQUIRE(reply.has_value());
    seen.reply = *reply;
    co_await wire.close_gracefully(p2p::make_reject(RejectCode::shutdown, "test done"));
    co_return seen;
  };
  auto responder = [&]() -> asio::awaitable<ResponderSeen> {
    WireStream wire(co_await accept_one(listener.acceptor), magic_of(b), kMax);
    auto r = co_await core::node::respond_handshake(wire, b.hello, b.key, b.identity, {}, Clock::now() + kDeadline);
    ResponderSeen seen{r, std::nullopt, std::nullopt};
    if (!r) co_return seen;
    wire.expires_at(Clock::now() + kDeadline);
    auto first = co_await wire.read_message();
    REQUIRE(first.has_value());
    seen.first = *first;
    if (auto* ping = std::get_if<p2p::Ping>(&*first)) {
      auto sent = co_await wire.write_message(p2p::Pong{ping->nonce});
      REQUIRE(sent.has_value());
    }
    auto second = co_await wire.read_message();
    REQUIRE(second.has_value());
    seen.second = *second;
    co_await wire.close_gracefully(std::nullopt);
    co_return seen;
  };
  std::optional<InitiatorSeen> i;
  std::optional<ResponderSeen> r;
  spawn(io, initiator(), i);
  spawn(io, responder(), r);
  run_to_completion(io);
  REQUIRE(i.has_value());
  REQUIRE(r.has_value());
  INFO("initiator: " << (i->handshake ? "ok" : i->handshake.error().label() + " " + i->handshake.error().detail));
  INFO("responder: " << (r->handshake ? "ok" : r->handshake.error().label() + " " + r->handshake.error().detail));
  REQUIRE(i->handshake.has_value());
  REQUIRE(r->handshake.has_value());

  // The initiator got the responder's Hello, signed over both nonces.
  const auto& reply = i->handshake->theirs;
  CHECK(reply.node_id == b.key.public_key());
  CHECK(reply.role == p2p::Role::Masternode);
  CHECK(reply.session_nonce == b.hello.session_nonce);
  CHECK(reply.ack_nonce == a.hello.session_nonce);
  CHECK_FALSE(reply.signature.is_zero());
  CHECK(p2p::verify_responder_hello(reply, a.hello).has_value());
  CHECK(i->handshake->ours.node_id == a.key.public_key());
  CHECK(i->handshake->ours.signature.is_zero());

  // The responder got the initiator's Hello as sent (unsigned) and signed its own.
  const auto& opening = r->handshake->theirs;
  CHECK(opening.node_id == a.key.public_key());
  CHECK(opening.role == p2p::Role::Regular);
  CHECK(opening.user_agent == "wire-test");
  CHECK(opening.session_nonce == a.hello.session_nonce);
  CHECK(opening.signature.is_zero());
  CHECK(r->handshake->ours.signature == reply.signature);

  // Then Ping -> Pong with the nonce, and the initiator's reason for closing.
  REQUIRE(r->first.has_value());
  CHECK(*r->first == p2p::Message(p2p::Ping{nonce}));
  REQUIRE(i->reply.has_value());
  CHECK(*i->reply == p2p::Message(p2p::Pong{nonce}));
  REQUIRE(r->second.has_value());
  auto* bye = std::get_if<p2p::Reject>(&*r->second);
  REQUIRE(bye != nullptr);
  CHECK(bye->known_code() == RejectCode::shutdown);
  CHECK(bye->detail == "test done");
}

TEST_CASE("both sides of a handshake keep the other's user agent printable", "[node][wire]") {
  asio::io_context io;
  Listener listener(io);
  auto responder_side = make_side(test::key(62), kSpec);
  responder_side.hello.user_agent = "tnode/9\n2026-01-01T00:00:00.000Z warning p2p: forged";
  auto initiator_side = make_side(test::key(63), kSpec);
  initiator_side.hello.user_agent = std::string("\x1b[31mred\x1b[0m\xff", 13);
  std::optional<Outcome> responder, initiator;
  spawn(io, respond(listener.acceptor, responder_side), responder);
  spawn(io, initiate(listener.port(), initiator_side), initiator);
  run_to_completion(io);
  REQUIRE(responder.has_value());
  REQUIRE(initiator.has_value());
  REQUIRE(responder->has_value());
  REQUIRE(initiator->has_value());
  // The signatures covered the raw text (the handshake succeeded); what the
  // node keeps is the escaped form.
  CHECK((*initiator)->theirs.user_agent == "tnode/9\\n2026-01-01T00:00:00.000Z warning p2p: forged");
  CHECK((*responder)->theirs.user_agent == "\\x1b[31mred\\x1b[0m\\xff");
  CHECK((*responder)->ours.user_agent == responder_side.hello.user_agent);  // ours as sent
}

TEST_CASE("genesis mismatch: the responder refuses and the initiator reads why", "[node][wire]") {
  asio::io_context io;
  Listener listener(io);
  // Same network name, another genesis (another timestamp): the names agree,
  // the hashes do not.
  auto other = kSpec;
  other.timestamp_ms += 1000;
  REQUIRE(chain::genesis_hash(other) != chain::genesis_hash(kSpec));
  std::optional<Outcome> responder, initiator;
  spawn(io, respond(listener.acceptor, make_side(test::key(60), kSpec)), responder);
  spawn(io, initiate(listener.port(), make_side(test::key(61), other)), initiator);
  run_to_completion(io);
  REQUIRE(responder.has_value());
  REQUIRE(initiator.has_value());

  REQUIRE_FALSE(responder->has_value());
  const auto& rf = responder->error();
  CHECK(rf.kind == FailureKind::rejected);
  CHECK(rf.code == "genesis_mismatch");
  CHECK_FALSE(rf.by_peer);
  REQUIRE(rf.to_send.has_value());
  CHECK(rf.to_send->known_code() == RejectCode::genesis_mismatch);

  REQUIRE_FALSE(initiator->has_value());
  const auto& f = initiator->error();
  CHECK(f.kind == FailureKind::rejected);
  CHECK(f.by_peer);
  CHECK(f.code == "genesis_mismatch");
  CHECK(f.label() == "rejected:genesis_mismatch");
  CHECK_THAT(f.detail, Contains(chain::genesis_hash(other).hex()) && Contains(chain::genesis_hash(kSpec).hex()));
  CHECK_FALSE(f.to_send.has_value());  // the peer's decision: nothing to tell it
}

TEST_CASE("dialling ourselves: the same key on both ends is refused as self", "[node][wire]") {
  asio::io_context io;
  Listener listener(io);
  const auto key = test::key(70);
  std::optional<Outcome> responder, initiator;
  spawn(io, respond(listener.acceptor, make_side(key, kSpec)), responder);
  spawn(io, initiate(listener.port(), make_side(key, kSpec)), initiator);
  run_to_completion(io);
  REQUIRE(responder.has_value());
  REQUIRE(initiator.has_value());
  REQUIRE_FALSE(responder->has_value());
  CHECK(responder->error().label() == "rejected:self");
  REQUIRE_FALSE(initiator->has_value());
  CHECK(initiator->error().label() == "rejected:self");
  CHECK(initiator->error().by_peer);
}

TEST_CASE("a masternode claim by a key outside genesis is refused by the initiator, and the responder reads why",
          "[node][wire]") {
  asio::io_context io;
  Listener listener(io);
  const auto impostor = make_side(test::key(80), kSpec, p2p::Role::Masternode);
  std::optional<Outcome> responder, initiator;
  spawn(io, respond(listener.acceptor, impostor), responder);
  spawn(io, initiate(listener.port(), make_side(test::key(81), kSpec)), initiator);
  run_to_completion(io);
  REQUIRE(initiator.has_value());
  REQUIRE_FALSE(initiator->has_value());
  CHECK(initiator->error().label() == "rejected:not_masternode");
  CHECK_FALSE(initiator->error().by_peer);
  REQUIRE(responder.has_value());
  REQUIRE_FALSE(responder->has_value());
  CHECK(responder->error().label() == "rejected:not_masternode");
  CHECK(responder->error().by_peer);
}

TEST_CASE("garbage instead of a Hello: protocol_error bad_magic, and the sender gets the Reject", "[node][wire]") {
  const auto side = make_side(test::key(90), kSpec);
  const std::string http = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  auto [failure, reject] = respond_to_raw(side, std::vector<std::uint8_t>(http.begin(), http.end()));
  CHECK(failure.kind == FailureKind::protocol_error);
  CHECK(failure.label() == "protocol_error:bad_magic");
  CHECK(reject.known_code() == RejectCode::bad_magic);
  CHECK_THAT(reject.detail, Contains("magic"));
}

TEST_CASE("a frame with a bad checksum: protocol_error bad_checksum", "[node][wire]") {
  const auto side = make_side(test::key(91), kSpec);
  auto frame = p2p::encode_frame(magic_of(side), p2p::MessageType::Ping, p2p::encode(p2p::Ping{7}));
  frame[10] ^= 0xFF;  // first checksum byte (after magic u32, type u16, length u32)
  auto [failure, reject] = respond_to_raw(side, frame);
  CHECK(failure.label() == "protocol_error:bad_checksum");
  CHECK(reject.known_code() == RejectCode::bad_checksum);
}

TEST_CASE("a length above max_message_size is refused from the header alone", "[node][wire]") {
  const auto side = make_side(test::key(92), kSpec);
  constexpr std::size_t kSmallMax = 1024;
  // Only the 14-byte header: the payload it announces never comes, so the
  // responder must decide from the length field without waiting for it.
  std::vector<std::uint8_t> header(p2p::kFrameHeaderSize, 0);
  put_u32(header, 0, magic_of(side));
  header[4] = static_cast<std::uint8_t>(p2p::MessageType::Hello);
  put_u32(header, 6, kSmallMax + 1);
  auto [failure, reject] = respond_to_raw(side, header, kSmallMax);
  CHECK(failure.label() == "protocol_error:oversized");
  CHECK(reject.known_code() == RejectCode::oversized);
  CHECK_THAT(reject.detail, Contains(std::to_string(kSmallMax + 1)));
}

TEST_CASE("connecting to a closed port fails as refused", "[node][wire]") {
  asio::io_context io;
  std::uint16_t port = 0;
  {
    Listener closed(io);  // bound, then closed again: nothing listens there now
    port = closed.port();
  }
  const core::util::HostPort address{"127.0.0.1", port};  // outlives the coroutine that refers to it
  std::optional<tl::expected<tcp::socket, Failure>> result;
  spawn(io, core::node::connect_to(address, Clock::now() + kDeadline), result);
  run_to_completion(io);
  REQUIRE(result.has_value());
  REQUIRE_FALSE(result->has_value());
  CHECK(result->error().kind == FailureKind::refused);
  CHECK(result->error().label() == "refused");
  CHECK_THAT(result->error().detail, Contains("connect"));
}

TEST_CASE("a listener that never speaks: the handshake ends at its deadline as timeout", "[node][wire]") {
  asio::io_context io;
  // Listening but never accepting: the kernel completes the TCP handshake
  // and buffers our Hello; no reply ever comes.
  Listener silent(io);
  constexpr auto kShort = std::chrono::milliseconds(200);
  const auto start = Clock::now();
  std::optional<Outcome> initiator;
  spawn(io, initiate(silent.port(), make_side(test::key(93), kSpec), kShort), initiator);
  run_to_completion(io);
  const auto took = Clock::now() - start;
  REQUIRE(initiator.has_value());
  REQUIRE_FALSE(initiator->has_value());
  CHECK(initiator->error().kind == FailureKind::timeout);
  CHECK(initiator->error().label() == "timeout");
  CHECK(took >= kShort);
  CHECK(took < kDeadline);
}

TEST_CASE("an initiator that never sends its Hello: the responder times out", "[node][wire]") {
  asio::io_context io;
  Listener listener(io);
  constexpr auto kShort = std::chrono::milliseconds(200);
  std::optional<Outcome> responder;
  std::optional<tcp::socket> idle;
  spawn(io, respond(listener.acceptor, make_side(test::key(94), kSpec), kMax, kShort), responder);
  spawn(io, dial(listener.port()), idle);  // connects, then holds the socket without a word
  run_to_completion(io);
  REQUIRE(responder.has_value());
  REQUIRE_FALSE(responder->has_value());
  CHECK(responder->error().label() == "timeout");
}

TEST_CASE("connect_to with a source leaves from that address", "[node][wire]") {
  asio::io_context io;
  Listener listener(io);
  const core::util::HostPort address{"127.0.0.1", listener.port()};
  const auto source = asio::ip::make_address("127.0.0.2");
  std::optional<tl::expected<tcp::socket, Failure>> dialled;
  std::optional<tcp::socket> accepted;
  spawn(io, core::node::connect_to(address, Clock::now() + kDeadline, source), dialled);
  spawn(io, accept_one(listener.acceptor), accepted);
  run_to_completion(io);
  REQUIRE(dialled.has_value());
  INFO((dialled->has_value() ? std::string("ok") : dialled->error().label() + " " + dialled->error().detail));
  REQUIRE(dialled->has_value());
  REQUIRE(accepted.has_value());
  CHECK(core::node::remote_ip_of(*accepted) == "127.0.0.2");
  CHECK((*dialled)->local_endpoint().address() == source);
}

TEST_CASE("connect_to from an address this host does not have fails at the bind, classified", "[node][wire]") {
  asio::io_context io;
  Listener listener(io);
  const core::util::HostPort address{"127.0.0.1", listener.port()};
  std::optional<tl::expected<tcp::socket, Failure>> result;
  // TEST-NET-1 (RFC 5737): never an address of this host.
  spawn(io, core::node::connect_to(address, Clock::now() + kDeadline, asio::ip::make_address("192.0.2.1")), result);
  run_to_completion(io);
  REQUIRE(result.has_value());
  REQUIRE_FALSE(result->has_value());
  CHECK(result->error().kind == FailureKind::unreachable);
  CHECK_THAT(result->error().detail, Contains("bind 192.0.2.1"));
}

TEST_CASE("the announced address: external_address, else a specific listen address, else none", "[node][wire]") {
  using core::node::announced_address;
  using core::node::dial_source;
  const tcp::endpoint any(asio::ip::make_address("0.0.0.0"), 24100);
  const tcp::endpoint any6(asio::ip::make_address("::"), 24100);
  const tcp::endpoint specific(asio::ip::make_address("127.0.0.2"), 24107);
  const tcp::endpoint specific6(asio::ip::make_address("2001:db8::7"), 24100);
  CHECK(announced_address("203.0.113.7:24100", any) == "203.0.113.7:24100");
  CHECK(announced_address("203.0.113.7:24100", specific) == "203.0.113.7:24100");
  CHECK(announced_address("", specific) == "127.0.0.2:24107");  // the port actually bound
  CHECK(announced_address("", specific6) == "[2001:db8::7]:24100");
  CHECK(announced_address("", any).empty());
  CHECK(announced_address("", any6).empty());
  CHECK(dial_source(specific) == asio::ip::make_address("127.0.0.2"));
  CHECK_FALSE(dial_source(any));
  CHECK_FALSE(dial_source(any6));
}

TEST_CASE("the responder leaves its address out of a reply to a version-1 initiator", "[node][wire]") {
  for (const std::uint32_t initiator_version : {std::uint32_t{1}, p2p::kHelloAddressVersion}) {
    INFO("initiator protocol_version " << initiator_version);
    asio::io_context io;
    Listener listener(io);
    auto a = make_side(test::key(50), kSpec);
    a.hello.protocol_version = initiator_version;
    auto b = make_side(test::key(51), kSpec);
    b.hello.address = "127.0.0.3:24100";
    std::optional<Outcome> i, r;
    spawn(io, initiate(listener.port(), a), i);
    spawn(io, respond(listener.acceptor, b), r);
    run_to_completion(io);
    REQUIRE(i.has_value());
    REQUIRE(r.has_value());
    REQUIRE(i->has_value());
    REQUIRE(r->has_value());
    const std::string expected = initiator_version < p2p::kHelloAddressVersion ? "" : "127.0.0.3:24100";
    CHECK((*i)->theirs.address == expected);
    CHECK((*r)->ours.address == expected);
  }
}
