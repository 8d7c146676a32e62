// fake_peer: a misbehaving peer for sync and hostile scenarios. It dials a
// node with the identity of a testnet node's tnode.toml (key, genesis), or
// with fresh keys, completes the real handshake (libcore/node/wire), then
// misbehaves on purpose. Not installed.
//
//   fake_peer --config tnode.toml --connect HOST:PORT --mode MODE [--claim-height N] [--listen-port P]
//             [--random-key] [--bind IP] [--count N]
//
// Modes:
//   stall          claims a better tip (height N, a made-up hash) and never
//                  answers GetHeaders or GetBlocks;
//   invalid-block  announces (NewBlock) and serves a block on genesis that
//                  this key was not scheduled to produce (wrong_producer);
//   slow-reader    asks for headers from genesis (GetHeaders) again and
//                  again and never reads an answer, so the node's send
//                  queue for it fills up;
//   garbage        sends one frame with a bad checksum (a protocol
//                  violation) and waits for the node to close;
//   hold           holds its connection and does nothing else: a slot
//                  taken by a peer that costs nothing (the eclipse attack);
//   reject-forge   log forging (DESIGN.md 11): its Hello's user agent holds
//                  a newline and a forged log line; after the handshake it
//                  sends Reject{protocol_error, forged_detail()} (a newline, a
//                  forged text line, a forged JSON record, a terminal
//                  escape, invalid UTF-8, ESC bytes up to the size limit)
//                  and closes gracefully;
//   reject-forge-early  the same Reject instead of its Hello (the node reads
//                  it as a failed inbound handshake) and closes gracefully.
// --listen-port P puts P in the Hello (the node then keeps an address book
// entry, and so a score, for 127.0.0.1:P).
// --random-key dials with a freshly generated key instead of the config's
// (a regular peer: no genesis key needed); the config still gives the
// genesis and the network.
// --bind IP dials from that local address (e.g. 127.0.0.12 on loopback);
// --connect must then name an IP address.
// --count N (with --random-key) opens N connections one after another, each
// with its own fresh key, and holds them all (default 1).
// Pings are answered in every mode. Output, one line per event:
//   "connected <node id>", "got <message type>", "closed: <reason>",
//   "sent reject" (the reject-forge modes, which then exit 0);
// with --count over 1 every line starts with "[<our node id>] ", and
// "holding <K> of <N>" follows the last handshake attempt.
// Exits when the node has closed every connection (status 0), or on a
// failed connect/handshake ("fail <label>"; status 1, after the others
// closed when there are several).

#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "libcore/chain/block.hpp"
#include "libcore/chain/genesis.hpp"
#include "libcore/chain/schedule.hpp"
#include "libcore/config/node_config.hpp"
#include "libcore/crypto/hash.hpp"
#include "libcore/crypto/keys.hpp"
#include "libcore/node/wire.hpp"
#include "libcore/p2p/handshake.hpp"
#include "libcore/util/time.hpp"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace p2p = core::p2p;
using core::node::Failure;
using core::node::WireStream;
using tcp = asio::ip::tcp;
using Socket = tl::expected<tcp::socket, Failure>;

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr auto kConnectTimeout = std::chrono::seconds(10);

// What the reject-forge modes send: each line break is followed by a line
// in one of the node's own log formats (levels as the log names them); then
// ESC bytes up to the most a Reject carries, so that the escaped detail
// (four bytes for each ESC) is longer than the node keeps and is cut.
std::string forged_detail() {
  std::string d =
      "bye\n2026-01-01T00:00:00.000Z warning p2p: banned 0000000000000000 for 1h: forged\r\n"
      "{\"time\":\"2026-01-01T00:00:00.000Z\",\"level\":\"warning\",\"msg\":\"forged\"}\n"
      "\x1b[2J\xff end";
  d.resize(p2p::kMaxRejectDetail, '\x1b');
  return d;
}
const std::string kForgedUserAgent =
    "fake_peer\n2026-01-01T00:00:00.000Z warning p2p: forged user agent\n{\"msg\":\"forged\"}";

bool forges(const std::string& mode) { return mode == "reject-forge" || mode == "reject-forge-early"; }

// Sends the forged Reject and closes gracefully.
asio::awaitable<void> send_forged_reject(WireStream& wire, const std::string& who) {
  const std::optional<p2p::Reject> forged = p2p::make_reject(p2p::RejectCode::protocol_error, forged_detail());
  co_await wire.close_gracefully(forged);
  std::cout << who << "sent reject" << std::endl;
}

struct Options {
  core::config::NodeConfig config;
  core::chain::GenesisSpec spec;
  core::crypto::KeyPair key;
  core::util::HostPort target;
  std::string mode;
  std::uint64_t claim_height = 1'000'000;
  std::uint16_t listen_port = 0;
  bool random_key = false;
  std::string bind;  // local address to dial from ("" = any)
  int count = 1;
};

core::chain::Block invalid_block(const Options& o, const core::crypto::KeyPair& key) {
  const core::chain::Schedule schedule(o.spec);
  const auto now = core::util::now_ms();
  auto slot = schedule.slot_at(now).value_or(1);
  if (slot == 0) slot = 1;
  return core::chain::make_block(core::chain::genesis_header(o.spec), slot, schedule.slot_start(slot), key);
}

// Dials `o.target` from the local address `o.bind` (connect_to cannot bind).
asio::awaitable<Socket> connect_from(const Options& o, core::node::SteadyTime deadline) {
  boost::system::error_code ec;
  const auto to = asio::ip::make_address(o.target.host, ec);
  const auto from = ec ? asio::ip::address{} : asio::ip::make_address(o.bind, ec);
  if (ec) {
    Failure f;
    f.kind = core::node::FailureKind::unreachable;
    f.detail = "--bind needs IP addresses in --bind and --connect";
    co_return tl::unexpected(f);
  }
  beast::tcp_stream stream(co_await asio::this_coro::executor);
  stream.socket().open(to.is_v4() ? tcp::v4() : tcp::v6(), ec);
  if (!ec) stream.socket().bind(tcp::endpoint(from, 0), ec);
  if (ec) co_return tl::unexpected(core::node::socket_failure(ec, "bind " + o.bind));
  stream.expires_at(deadline);
  const tcp::endpoint endpoint(to, o.target.port);
  auto [cec] = co_await stream.async_connect(endpoint, kTuple);
  if (cec) co_return tl::unexpected(core::node::socket_failure(cec, "connect"));
  stream.expires_never();
  stream.socket().set_option(tcp::no_delay(true), ec);
  co_return stream.release_socket();
}

// One connection: its key, its stream once connected, and the prefix of
// its output lines.
struct Session {
  core::crypto::KeyPair key;
  std::unique_ptr<WireStream> wire;
  p2p::Hello ours;
  std::string who;
  bool done = false;  // reject-forge-early: nothing left to do
};

// Connects and completes the handshake; false (having said why) if either failed.
asio::awaitable<bool> open(const Options& o, Session& s) {
  const auto deadline = std::chrono::steady_clock::now() + kConnectTimeout;
  Socket socket = tl::unexpected(Failure{});
  if (o.bind.empty())
    socket = co_await core::node::connect_to(o.target, deadline);
  else
    socket = co_await connect_from(o, deadline);
  if (!socket) {
    std::cout << s.who << "fail " << socket.error().label() << std::endl;
    co_return false;
  }
  s.wire = std::make_unique<WireStream>(std::move(*socket), core::chain::network_magic(o.spec.network),
                                        o.config.max_message_size);
  auto& ours = s.ours;
  ours.network = o.spec.network;
  ours.genesis_hash = core::chain::genesis_hash(o.spec);
  ours.node_id = s.key.public_key();
  ours.best_height = o.mode == "stall" ? o.claim_height : 0;
  ours.best_hash =
      o.mode == "stall" ? core::crypto::blake2b256(std::string_view("a tip nobody has")) : ours.genesis_hash;
  ours.session_nonce = p2p::new_session_nonce();
  ours.user_agent = o.mode == "reject-forge" ? kForgedUserAgent : "fake_peer/" + o.mode;
  ours.listen_port = o.listen_port;
  if (o.mode == "reject-forge-early") {
    s.wire->expires_at(deadline);
    co_await send_forged_reject(*s.wire, s.who);
    s.done = true;
    co_return true;
  }
  const auto identity = p2p::make_local_identity(o.spec, s.key.public_key());
  auto hs = co_await core::node::initiate_handshake(*s.wire, ours, s.key, identity, deadline);
  if (!hs) {
    std::cout << s.who << "fail " << hs.error().label() << std::endl;
    co_return false;
  }
  std::cout << s.who << "connected " << hs->theirs.node_id.hex() << std::endl;
  co_return true;
}

// The connected life of one session in its mode; returns when the node closed it.
asio::awaitable<void> misbehave(const Options& o, Session& s) {
  if (s.done) co_return;
  WireStream& wire = *s.wire;
  if (o.mode == "reject-forge") {
    co_await send_forged_reject(wire, s.who);
    co_return;
  }
  const auto bad = invalid_block(o, s.key);
  if (o.mode == "invalid-block") {
    const p2p::Message announce = p2p::NewBlock{bad.header};
    (void)co_await wire.write_message(announce);
  }
  if (o.mode == "garbage") {
    auto frame = *wire.frame_of(p2p::Ping{7});
    frame.back() ^= 0xff;  // the payload no longer matches its checksum
    const auto broken = std::make_shared<const core::codec::Bytes>(std::move(frame));
    (void)co_await wire.write_frame(broken);
  }
  if (o.mode == "slow-reader") {
    p2p::GetHeaders ask;
    ask.locator = {s.ours.genesis_hash};
    const p2p::Message request = ask;
    std::uint64_t sent = 0;
    for (;; ++sent) {
      wire.expires_at(std::chrono::steady_clock::now() + std::chrono::seconds(30));
      auto w = co_await wire.write_message(request);
      if (!w) {
        std::cout << s.who << "closed: " << w.error().label() << " after " << sent << " requests" << std::endl;
        co_return;
      }
      if (sent % 1000 == 0) std::cout << s.who << "sent " << sent << " requests" << std::endl;
    }
  }
  for (;;) {
    auto message = co_await wire.read_message();
    if (!message) {
      std::cout << s.who << "closed: " << message.error().label() << std::endl;
      co_return;
    }
    std::cout << s.who << "got " << p2p::to_string(p2p::message_type(*message)) << std::endl;
    if (auto* ping = std::get_if<p2p::Ping>(&*message)) {
      const p2p::Message pong = p2p::Pong{ping->nonce};
      (void)co_await wire.write_message(pong);
    } else if (auto* reject = std::get_if<p2p::Reject>(&*message)) {
      std::cout << s.who << "closed: " << reject->code_name() << " " << reject->detail << std::endl;
      const std::optional<p2p::Reject> none;
      co_await wire.close_gracefully(none);
      co_return;
    } else if (std::holds_alternative<p2p::GetBlocks>(*message) && o.mode == "invalid-block") {
      const p2p::Message blocks = p2p::Blocks{{bad}};
      (void)co_await wire.write_message(blocks);
    }
  }
}

// Opens the sessions one after another, then lets each misbehave until the
// node closes it. 0 when every handshake completed, else 1.
asio::awaitable<int> run(const Options& o) {
  std::vector<std::unique_ptr<Session>> sessions;
  int failed = 0;
  for (int i = 0; i < o.count; ++i) {
    auto s = std::make_unique<Session>();
    s->key = o.random_key ? core::crypto::KeyPair::generate() : o.key;
    if (o.count > 1) s->who = "[" + s->key.public_key().hex() + "] ";
    const bool opened = co_await open(o, *s);
    if (opened)
      sessions.push_back(std::move(s));
    else
      ++failed;
  }
  if (o.count > 1) std::cout << "holding " << sessions.size() << " of " << o.count << std::endl;
  // Each session runs on its own; the last one to close ends the wait.
  auto executor = co_await asio::this_coro::executor;
  asio::steady_timer all_closed(executor, asio::steady_timer::time_point::max());
  std::size_t open_sessions = sessions.size();
  for (auto& s : sessions)
    asio::co_spawn(executor, misbehave(o, *s), [&](std::exception_ptr) {
      if (--open_sessions == 0) all_closed.cancel();
    });
  if (open_sessions > 0) (void)co_await all_closed.async_wait(kTuple);
  co_return failed > 0 ? 1 : 0;
}

const char* const kUsage =
    "usage: fake_peer --config tnode.toml --connect HOST:PORT --mode "
    "stall|invalid-block|slow-reader|garbage|hold|reject-forge|reject-forge-early "
    "[--claim-height N] [--listen-port P] [--random-key] [--bind IP] [--count N]\n";

}  // namespace

int main(int argc, char** argv) {
  std::string config_path, connect, mode;
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--random-key") {
      o.random_key = true;
      continue;
    }
    if (i + 1 >= argc) {
      std::cerr << kUsage;
      return 2;
    }
    const std::string value = argv[++i];
    if (flag == "--config")
      config_path = value;
    else if (flag == "--connect")
      connect = value;
    else if (flag == "--mode")
      mode = value;
    else if (flag == "--claim-height")
      o.claim_height = std::stoull(value);
    else if (flag == "--listen-port")
      o.listen_port = static_cast<std::uint16_t>(std::stoul(value));
    else if (flag == "--bind")
      o.bind = value;
    else if (flag == "--count")
      o.count = std::stoi(value);
  }
  if (config_path.empty() || connect.empty() ||
      (mode != "stall" && mode != "invalid-block" && mode != "slow-reader" && mode != "garbage" && mode != "hold" &&
       !forges(mode)) ||
      o.count < 1 || (o.count > 1 && !o.random_key)) {
    std::cerr << kUsage << "(--count over 1 needs --random-key: one key cannot hold two connections)\n";
    return 2;
  }
  core::crypto::init();
  auto config = core::config::load_node_config(config_path);
  auto target = core::util::parse_host_port(connect);
  if (!config || !target || !config->genesis_path()) {
    std::cerr << "fake_peer: bad --config or --connect\n";
    return 2;
  }
  auto spec = core::chain::load_genesis_file(*config->genesis_path());
  if (!spec) {
    std::cerr << "fake_peer: " << spec.error().message << "\n";
    return 2;
  }
  if (!o.random_key) {
    auto key = core::crypto::load_key_file(config->key_path());
    if (!key) {
      std::cerr << "fake_peer: " << key.error().message << "\n";
      return 2;
    }
    o.key = *key;
  }
  o.config = *config;
  o.spec = *spec;
  o.target = *target;
  o.mode = mode;
  asio::io_context io;
  int status = 1;
  asio::co_spawn(io, run(o), [&](std::exception_ptr e, int rc) {
    status = e ? 1 : rc;
    io.stop();
  });
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int) { io.stop(); });
  io.run();
  return status;
}
