#include "libcore/node/wire.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>

#include "libcore/util/printable.hpp"

namespace core::node {

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
// One read_some at most this much; the decoder bounds what is kept. The
// buffer is not zeroed: an idle connection's pages stay untouched (and out
// of RSS) until bytes arrive.
constexpr std::size_t kReadChunk = 64 * 1024;
// Bytes discarded while lingering before we stop reading and just close.
constexpr std::size_t kLingerMaxBytes = 1 << 20;

std::string lower_first(std::string s) {
  if (!s.empty() && s.front() >= 'A' && s.front() <= 'Z') s.front() = static_cast<char>(s.front() - 'A' + 'a');
  return s;
}

}  // namespace

const char* to_string(FailureKind k) {
  switch (k) {
    case FailureKind::refused:
      return "refused";
    case FailureKind::timeout:
      return "timeout";
    case FailureKind::reset:
      return "reset";
    case FailureKind::unreachable:
      return "unreachable";
    case FailureKind::rejected:
      return "rejected";
    case FailureKind::protocol_error:
      return "protocol_error";
  }
  return "reset";
}

std::string Failure::label() const {
  if (code.empty()) return to_string(kind);
  return std::string(to_string(kind)) + ":" + code;
}

Failure local_failure(FailureKind kind, const p2p::Rejection& rejection) {
  Failure f;
  f.kind = kind;
  f.code = std::string(p2p::to_string(rejection.code));
  f.detail = rejection.detail;
  f.to_send = p2p::make_reject(rejection);
  return f;
}

std::string printable_detail(const p2p::Reject& r) { return util::printable(r.detail, kMaxPrintedRejectDetail); }

Failure rejected_by_peer(const p2p::Reject& r) {
  Failure f;
  f.kind = FailureKind::rejected;
  f.by_peer = true;
  f.code = std::string(r.code_name());
  f.detail = r.detail.empty() ? f.code : printable_detail(r);
  return f;
}

Failure socket_failure(const boost::system::error_code& ec, const std::string& step) {
  namespace err = asio::error;
  Failure f;
  f.detail = step + ": " + lower_first(ec.message());
  if (ec == err::connection_refused) {
    f.kind = FailureKind::refused;
  } else if (ec == beast::error::timeout || ec == err::timed_out) {
    f.kind = FailureKind::timeout;
    f.detail = step + ": no answer in time";
  } else if (ec == err::host_unreachable || ec == err::network_unreachable || ec == err::host_not_found ||
             ec == err::host_not_found_try_again || ec == boost::system::errc::address_not_available) {
    f.kind = FailureKind::unreachable;
  } else if (ec == err::eof) {
    f.kind = FailureKind::reset;
    f.detail = step + ": the peer closed the connection without a reason";
  } else {
    f.kind = FailureKind::reset;
  }
  return f;
}

std::string remote_ip_of(const tcp::socket& s) {
  boost::system::error_code ec;
  auto ep = s.remote_endpoint(ec);
  if (ec) return "?";
  auto a = ep.address();
  if (a.is_v6() && a.to_v6().is_v4_mapped()) a = asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
  return a.to_string();
}

std::uint16_t remote_port_of(const tcp::socket& s) {
  boost::system::error_code ec;
  auto ep = s.remote_endpoint(ec);
  return ec ? 0 : ep.port();
}

asio::awaitable<tl::expected<tcp::socket, Failure>> connect_to(const util::HostPort& address, SteadyTime deadline,
                                                               std::optional<asio::ip::address> source) {
  auto executor = co_await asio::this_coro::executor;
  boost::system::error_code ec;
  std::vector<tcp::endpoint> endpoints;
  if (auto ip = asio::ip::make_address(address.host, ec); !ec) {
    endpoints.emplace_back(ip, address.port);
  } else {
    tcp::resolver resolver(executor);
    const std::string service = std::to_string(address.port);
    auto [rec, results] = co_await resolver.async_resolve(address.host, service, kTuple);
    if (rec) co_return tl::unexpected(socket_failure(rec, "resolve " + address.host));
    for (const auto& r : results) endpoints.push_back(r.endpoint());
    if (endpoints.empty()) {
      Failure f;
      f.kind = FailureKind::unreachable;
      f.detail = "resolve " + address.host + ": no addresses";
      co_return tl::unexpected(f);
    }
  }
  // One socket per address tried: asio's range connect reopens the socket
  // for each, which would lose the bind.
  const std::string step = source ? "connect from " + source->to_string() : "connect";
  Failure last;
  for (const auto& endpoint : endpoints) {
    beast::tcp_stream stream(executor);
    stream.socket().open(endpoint.protocol(), ec);
    if (ec) co_return tl::unexpected(socket_failure(ec, "open socket"));
    if (source && source->is_v4() == endpoint.address().is_v4()) {
      stream.socket().bind(tcp::endpoint(*source, 0), ec);
      if (ec) co_return tl::unexpected(socket_failure(ec, "bind " + source->to_string()));
    }
    stream.expires_at(deadline);
    auto [cec] = co_await stream.async_connect(endpoint, kTuple);
    if (cec) {
      last = socket_failure(cec, step);
      if (last.kind == FailureKind::timeout) break;  // the deadline is spent
      continue;
    }
    stream.expires_never();
    stream.socket().set_option(tcp::no_delay(true), ec);
    co_return stream.release_socket();
  }
  co_return tl::unexpected(std::move(last));
}

WireStream::WireStream(tcp::socket socket, std::uint32_t magic, std::size_t max_message_size)
    : stream_(std::move(socket)),
      magic_(magic),
      decoder_(magic, max_message_size),
      buffer_(std::make_unique_for_overwrite<std::uint8_t[]>(kReadChunk)) {}

asio::awaitable<tl::expected<std::uint32_t, Failure>> WireStream::peek_magic(SteadyTime deadline) {
  if (buffer_begin_ > 0 && buffer_begin_ == buffer_end_) buffer_begin_ = buffer_end_ = 0;
  stream_.expires_at(deadline);
  while (buffer_end_ - buffer_begin_ < 4) {
    auto [ec, n] =
        co_await stream_.async_read_some(asio::buffer(buffer_.get() + buffer_end_, kReadChunk - buffer_end_), kTuple);
    if (ec) {
      stream_.expires_never();
      co_return tl::unexpected(socket_failure(ec, "read"));
    }
    buffer_end_ += n;
    bytes_in_ += n;
  }
  stream_.expires_never();
  const std::uint8_t* b = buffer_.get() + buffer_begin_;
  co_return static_cast<std::uint32_t>(b[0]) | static_cast<std::uint32_t>(b[1]) << 8 |
      static_cast<std::uint32_t>(b[2]) << 16 | static_cast<std::uint32_t>(b[3]) << 24;
}

void WireStream::use_magic(std::uint32_t magic) {
  magic_ = magic;
  decoder_ = p2p::FrameDecoder(magic, decoder_.max_message_size());
}

void WireStream::close() {
  boost::system::error_code ec;
  stream_.socket().close(ec);
}

std::shared_ptr<const codec::Bytes> WireStream::frame_of(const p2p::Message& message) const {
  auto encoded = p2p::encode_message(message);
  return std::make_shared<const codec::Bytes>(p2p::encode_frame(magic_, encoded.type, encoded.payload));
}

asio::awaitable<tl::expected<p2p::Message, Failure>> WireStream::read_message() {
  for (;;) {
    while (buffer_begin_ < buffer_end_) {
      std::span<const std::uint8_t> in(buffer_.get() + buffer_begin_, buffer_end_ - buffer_begin_);
      buffer_begin_ += decoder_.feed(in);
      auto frame = decoder_.next();
      if (!frame) co_return tl::unexpected(local_failure(FailureKind::protocol_error, frame.error()));
      if (!*frame) continue;
      auto& f = **frame;
      auto message = p2p::decode_message(f.type, f.payload);
      if (!message)
        co_return tl::unexpected(local_failure(FailureKind::protocol_error,
                                               p2p::Rejection{p2p::RejectCode::malformed, message.error().message}));
      if (on_message) on_message(f.type, p2p::kFrameHeaderSize + f.payload.size(), true);
      co_return std::move(*message);
    }
    buffer_begin_ = buffer_end_ = 0;
    auto [ec, n] = co_await stream_.async_read_some(asio::buffer(buffer_.get(), kReadChunk), kTuple);
    if (ec) co_return tl::unexpected(socket_failure(ec, "read"));
    buffer_end_ = n;
    bytes_in_ += n;
  }
}

asio::awaitable<tl::expected<void, Failure>> WireStream::write_frame(const std::shared_ptr<const codec::Bytes>& frame) {
  auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(*frame), kTuple);
  bytes_out_ += n;
  if (ec) co_return tl::unexpected(socket_failure(ec, "write"));
  if (on_message && frame->size() >= p2p::kFrameHeaderSize) {
    std::uint16_t wire_type = static_cast<std::uint16_t>((*frame)[4] | ((*frame)[5] << 8));
    if (auto type = p2p::message_type_from_wire(wire_type)) on_message(*type, frame->size(), false);
  }
  co_return tl::expected<void, Failure>{};
}

asio::awaitable<tl::expected<void, Failure>> WireStream::write_message(const p2p::Message& message) {
  const auto frame = frame_of(message);
  co_return co_await write_frame(frame);
}

asio::awaitable<void> WireStream::drain_until(SteadyTime deadline) {
  stream_.expires_at(deadline);
  std::size_t discarded = 0;
  while (discarded < kLingerMaxBytes) {
    auto [ec, n] = co_await stream_.async_read_some(asio::buffer(buffer_.get(), kReadChunk), kTuple);
    if (ec) break;
    discarded += n;
    bytes_in_ += n;
  }
  stream_.expires_never();
}

asio::awaitable<void> WireStream::close_gracefully(const std::optional<p2p::Reject>& reject) {
  const auto deadline = std::chrono::steady_clock::now() + kLingerTimeout;
  if (reject && stream_.socket().is_open()) {
    stream_.expires_at(deadline);
    const p2p::Message message = *reject;
    (void)co_await write_message(message);
  }
  boost::system::error_code ec;
  if (stream_.socket().is_open()) {
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (!ec) co_await drain_until(deadline);
  }
  close();
}

asio::awaitable<tl::expected<chain::GenesisSpec, Failure>> request_genesis(const util::HostPort& address,
                                                                           SteadyTime deadline) {
  auto socket = co_await connect_to(address, deadline);
  if (!socket) co_return tl::unexpected(std::move(socket.error()));
  WireStream wire(std::move(*socket), kGenesisRequestMagic, p2p::kMaxGenesisBytes + 8);
  wire.expires_at(deadline);
  const p2p::Message request = p2p::GetGenesis{};
  if (auto w = co_await wire.write_message(request); !w) co_return tl::unexpected(std::move(w.error()));
  auto reply = co_await wire.read_message();
  const std::optional<p2p::Reject> none;
  co_await wire.close_gracefully(none);
  if (!reply) co_return tl::unexpected(std::move(reply.error()));
  if (auto* r = std::get_if<p2p::Reject>(&*reply)) co_return tl::unexpected(rejected_by_peer(*r));
  auto* g = std::get_if<p2p::Genesis>(&*reply);
  if (!g)
    co_return tl::unexpected(local_failure(
        FailureKind::protocol_error,
        p2p::Rejection{p2p::RejectCode::protocol_error,
                       "expected genesis, got " + std::string(p2p::to_string(p2p::message_type(*reply)))}));
  co_return std::move(g->spec);
}

asio::awaitable<tl::expected<chain::GenesisSpec, Failure>> fetch_genesis(const util::HostPort& address,
                                                                         const crypto::Hash32& expected,
                                                                         SteadyTime deadline) {
  auto spec = co_await request_genesis(address, deadline);
  if (!spec) co_return spec;
  const auto got = chain::genesis_hash(*spec);
  if (got != expected) {
    Failure f;
    f.kind = FailureKind::rejected;
    f.code = std::string(p2p::to_string(p2p::RejectCode::genesis_mismatch));
    f.detail =
        "it serves genesis " + got.hex() + " (network '" + spec->network + "'), not the pinned " + expected.hex();
    co_return tl::unexpected(std::move(f));
  }
  co_return spec;
}

// ------------------------------------------------------------------ handshake

namespace {

Failure out_of_order(const char* expected, const p2p::Message& got) {
  return local_failure(
      FailureKind::protocol_error,
      p2p::Rejection{p2p::RejectCode::handshake_order, std::string("expected ") + expected + ", got " +
                                                           std::string(p2p::to_string(p2p::message_type(got)))});
}

// The peer's verified Hello as the node keeps it (HandshakeResult::theirs).
p2p::Hello with_printable_text(p2p::Hello theirs) {
  theirs.user_agent = util::printable(theirs.user_agent, kMaxPrintedUserAgent);
  return theirs;
}

// Reads the next handshake message of type T, turning a Reject into a
// rejected failure and anything else into handshake_order.
template <typename T>
asio::awaitable<tl::expected<T, Failure>> expect(WireStream& wire, const char* name) {
  auto message = co_await wire.read_message();
  if (!message) co_return tl::unexpected(std::move(message.error()));
  if (auto* r = std::get_if<p2p::Reject>(&*message)) co_return tl::unexpected(rejected_by_peer(*r));
  if (auto* m = std::get_if<T>(&*message)) co_return std::move(*m);
  co_return tl::unexpected(out_of_order(name, *message));
}

}  // namespace

asio::awaitable<tl::expected<HandshakeResult, Failure>> initiate_handshake(WireStream& wire, const p2p::Hello& hello,
                                                                           const crypto::KeyPair& key,
                                                                           const p2p::LocalIdentity& identity,
                                                                           SteadyTime deadline) {
  wire.expires_at(deadline);
  p2p::Hello ours = hello;
  ours.ack_nonce = {};
  ours.signature = {};
  const p2p::Message opening = ours;
  if (auto w = co_await wire.write_message(opening); !w) co_return tl::unexpected(std::move(w.error()));
  auto reply = co_await expect<p2p::Hello>(wire, "hello");
  if (!reply) co_return tl::unexpected(std::move(reply.error()));
  if (auto ok = p2p::check_hello(*reply, identity); !ok)
    co_return tl::unexpected(local_failure(FailureKind::rejected, ok.error()));
  if (auto ok = p2p::verify_responder_hello(*reply, ours); !ok)
    co_return tl::unexpected(
        local_failure(FailureKind::rejected, p2p::Rejection{p2p::RejectCode::bad_signature, ok.error().message}));
  const p2p::Message ack = p2p::make_hello_ack(ours, *reply, key);
  if (auto w = co_await wire.write_message(ack); !w) co_return tl::unexpected(std::move(w.error()));
  wire.expires_never();
  co_return HandshakeResult{std::move(ours), with_printable_text(std::move(*reply))};
}

asio::awaitable<tl::expected<HandshakeResult, Failure>> respond_handshake(WireStream& wire, const p2p::Hello& hello,
                                                                          const crypto::KeyPair& key,
                                                                          const p2p::LocalIdentity& identity,
                                                                          const AdmitFn& admit, SteadyTime deadline) {
  wire.expires_at(deadline);
  auto theirs = co_await expect<p2p::Hello>(wire, "hello");
  if (!theirs) co_return tl::unexpected(std::move(theirs.error()));
  if (auto ok = p2p::check_initiator_hello(*theirs); !ok)
    co_return tl::unexpected(local_failure(FailureKind::protocol_error, ok.error()));
  if (auto ok = p2p::check_hello(*theirs, identity); !ok)
    co_return tl::unexpected(local_failure(FailureKind::rejected, ok.error()));
  if (admit)
    if (auto refusal = admit(*theirs)) co_return tl::unexpected(local_failure(FailureKind::rejected, *refusal));
  p2p::Hello ours = hello;
  // A version-1 initiator would refuse a reply carrying an address.
  if (theirs->protocol_version < p2p::kHelloAddressVersion) ours.address.clear();
  ours.ack_nonce = theirs->session_nonce;
  p2p::sign_responder_hello(ours, key);
  const p2p::Message reply = ours;
  if (auto w = co_await wire.write_message(reply); !w) co_return tl::unexpected(std::move(w.error()));
  auto ack = co_await expect<p2p::HelloAck>(wire, "hello_ack");
  if (!ack) co_return tl::unexpected(std::move(ack.error()));
  if (auto ok = p2p::verify_hello_ack(*ack, *theirs, ours); !ok)
    co_return tl::unexpected(
        local_failure(FailureKind::rejected, p2p::Rejection{p2p::RejectCode::bad_signature, ok.error().message}));
  wire.expires_never();
  co_return HandshakeResult{std::move(ours), with_printable_text(std::move(*theirs))};
}

}  // namespace core::node
