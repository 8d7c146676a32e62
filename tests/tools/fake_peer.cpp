// fake_peer: a misbehaving peer for sync and hostile-peer scenarios. It
// dials a node with the identity of a testnet node's tnode.toml (key,
// genesis), completes the real handshake (libcore/node/wire), then
// misbehaves on purpose. Not installed.
//
//   fake_peer --config tnode.toml --connect HOST:PORT --mode MODE [--claim-height N] [--listen-port P]
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
// Pings are answered in every mode. Output, one line per event:
//   "connected <node id>", "got <message type>", "closed: <reason>",
//   "sent reject" (the reject-forge modes, which then exit 0).
// Exits when the node closes the connection (status 0) or on a failed
// connect/handshake (status 1, "fail <label>").

#include <iostream>
#include <optional>
#include <string>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

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
namespace p2p = core::p2p;
using core::node::WireStream;

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

struct Options {
  core::config::NodeConfig config;
  core::chain::GenesisSpec spec;
  core::crypto::KeyPair key;
  core::util::HostPort target;
  std::string mode;
  std::uint64_t claim_height = 1'000'000;
  std::uint16_t listen_port = 0;
};

core::chain::Block invalid_block(const Options& o) {
  const core::chain::Schedule schedule(o.spec);
  const auto now = core::util::now_ms();
  auto slot = schedule.slot_at(now).value_or(1);
  if (slot == 0) slot = 1;
  return core::chain::make_block(core::chain::genesis_header(o.spec), slot, schedule.slot_start(slot), o.key);
}

asio::awaitable<int> run(const Options& o) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  auto socket = co_await core::node::connect_to(o.target, deadline);
  if (!socket) {
    std::cout << "fail " << socket.error().label() << std::endl;
    co_return 1;
  }
  WireStream wire(std::move(*socket), core::chain::network_magic(o.spec.network), o.config.max_message_size);
  p2p::Hello ours;
  ours.network = o.spec.network;
  ours.genesis_hash = core::chain::genesis_hash(o.spec);
  ours.node_id = o.key.public_key();
  ours.best_height = o.mode == "stall" ? o.claim_height : 0;
  ours.best_hash =
      o.mode == "stall" ? core::crypto::blake2b256(std::string_view("a tip nobody has")) : ours.genesis_hash;
  ours.session_nonce = p2p::new_session_nonce();
  ours.user_agent = o.mode == "reject-forge" ? kForgedUserAgent : "fake_peer/" + o.mode;
  ours.listen_port = o.listen_port;
  if (o.mode == "reject-forge-early") {
    wire.expires_at(deadline);
    const std::optional<p2p::Reject> forged = p2p::make_reject(p2p::RejectCode::protocol_error, forged_detail());
    co_await wire.close_gracefully(forged);
    std::cout << "sent reject" << std::endl;
    co_return 0;
  }
  const auto identity = p2p::make_local_identity(o.spec, o.key.public_key());
  auto hs = co_await core::node::initiate_handshake(wire, ours, o.key, identity, deadline);
  if (!hs) {
    std::cout << "fail " << hs.error().label() << std::endl;
    co_return 1;
  }
  std::cout << "connected " << hs->theirs.node_id.hex() << std::endl;
  if (o.mode == "reject-forge") {
    const std::optional<p2p::Reject> forged = p2p::make_reject(p2p::RejectCode::protocol_error, forged_detail());
    co_await wire.close_gracefully(forged);
    std::cout << "sent reject" << std::endl;
    co_return 0;
  }
  const auto bad = invalid_block(o);
  if (o.mode == "invalid-block") {
    const p2p::Message announce = p2p::NewBlock{bad.header};
    (void)co_await wire.write_message(announce);
  }
  if (o.mode == "garbage") {
    auto frame = *wire.frame_of(p2p::Ping{7});
    frame.back() ^= 0xff;  // the payload no longer matches its checksum
    const auto bad = std::make_shared<const core::codec::Bytes>(std::move(frame));
    (void)co_await wire.write_frame(bad);
  }
  if (o.mode == "slow-reader") {
    p2p::GetHeaders ask;
    ask.locator = {ours.genesis_hash};
    const p2p::Message request = ask;
    std::uint64_t sent = 0;
    for (;; ++sent) {
      wire.expires_at(std::chrono::steady_clock::now() + std::chrono::seconds(30));
      auto w = co_await wire.write_message(request);
      if (!w) {
        std::cout << "closed: " << w.error().label() << " after " << sent << " requests" << std::endl;
        co_return 0;
      }
      if (sent % 1000 == 0) std::cout << "sent " << sent << " requests" << std::endl;
    }
  }
  for (;;) {
    auto message = co_await wire.read_message();
    if (!message) {
      std::cout << "closed: " << message.error().label() << std::endl;
      co_return 0;
    }
    std::cout << "got " << p2p::to_string(p2p::message_type(*message)) << std::endl;
    if (auto* ping = std::get_if<p2p::Ping>(&*message)) {
      const p2p::Message pong = p2p::Pong{ping->nonce};
      (void)co_await wire.write_message(pong);
    } else if (auto* reject = std::get_if<p2p::Reject>(&*message)) {
      std::cout << "closed: " << reject->code_name() << " " << reject->detail << std::endl;
      const std::optional<p2p::Reject> none;
      co_await wire.close_gracefully(none);
      co_return 0;
    } else if (std::holds_alternative<p2p::GetBlocks>(*message) && o.mode == "invalid-block") {
      const p2p::Message blocks = p2p::Blocks{{bad}};
      (void)co_await wire.write_message(blocks);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path, connect, mode;
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
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
  }
  if (config_path.empty() || connect.empty() ||
      (mode != "stall" && mode != "invalid-block" && mode != "slow-reader" && mode != "garbage" && !forges(mode))) {
    std::cerr << "usage: fake_peer --config tnode.toml --connect HOST:PORT --mode "
                 "stall|invalid-block|slow-reader|garbage|reject-forge|reject-forge-early "
                 "[--claim-height N] [--listen-port P]\n";
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
  auto key = core::crypto::load_key_file(config->key_path());
  if (!spec || !key) {
    std::cerr << "fake_peer: " << (spec ? key.error().message : spec.error().message) << "\n";
    return 2;
  }
  o.config = *config;
  o.spec = *spec;
  o.key = *key;
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
