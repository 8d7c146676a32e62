// wire_responder: the responder side of the peer handshake (libcore/node/wire)
// on 127.0.0.1, standing in for a node in tests/integration/test_probe_classes.py.
// Not installed.
//
//   wire_responder --config tnode.toml [--port P]
//
// Takes the network, key and role from the node config (as tnode would),
// listens on 127.0.0.1:P (default: a free port) and prints "port <bound
// port>" on stdout. Each
// connection: respond_handshake; on failure, the Reject is sent with a
// graceful close. After a handshake it answers Pings with Pongs until the
// peer closes. One line per connection on stdout:
//   "ok <peer node id> closed: <reject code> <detail>"   (or "closed: eof")
//   "fail <failure label>"
// Serves until SIGTERM/SIGINT.

#include <csignal>
#include <iostream>
#include <string>
#include <string_view>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "libcore/chain/block.hpp"
#include "libcore/chain/genesis.hpp"
#include "libcore/config/node_config.hpp"
#include "libcore/crypto/hash.hpp"
#include "libcore/crypto/keys.hpp"
#include "libcore/node/wire.hpp"
#include "libcore/p2p/handshake.hpp"

namespace {

namespace asio = boost::asio;
namespace p2p = core::p2p;
using core::node::WireStream;
using tcp = asio::ip::tcp;

constexpr auto kHandshakeTimeout = std::chrono::seconds(10);
constexpr auto kIdleTimeout = std::chrono::seconds(30);

struct Node {
  core::config::NodeConfig config;
  core::chain::GenesisSpec spec;
  core::crypto::KeyPair key;
  p2p::Nonce session = p2p::new_session_nonce();
  std::uint16_t port = 0;
};

asio::awaitable<void> serve(tcp::socket socket, const Node& node) {
  WireStream wire(std::move(socket), core::chain::network_magic(node.spec.network), node.config.max_message_size);
  p2p::Hello ours;
  ours.network = node.spec.network;
  ours.genesis_hash = core::chain::genesis_hash(node.spec);
  ours.node_id = node.key.public_key();
  ours.role = node.config.role == core::config::Role::Masternode ? p2p::Role::Masternode : p2p::Role::Regular;
  ours.listen_port = node.port;
  ours.best_hash = ours.genesis_hash;
  ours.session_nonce = node.session;
  ours.user_agent = "wire_responder/test";
  const auto identity = p2p::make_local_identity(node.spec, node.key.public_key());
  auto hs = co_await core::node::respond_handshake(wire, ours, node.key, identity, {},
                                                   std::chrono::steady_clock::now() + kHandshakeTimeout);
  if (!hs) {
    std::cout << "fail " << hs.error().label() << std::endl;
    co_await wire.close_gracefully(hs.error().to_send);
    co_return;
  }
  std::string closed = "eof";
  for (;;) {
    wire.expires_at(std::chrono::steady_clock::now() + kIdleTimeout);
    auto message = co_await wire.read_message();
    if (!message) {
      closed = message.error().label();
      co_await wire.close_gracefully(message.error().to_send);
      break;
    }
    if (auto* ping = std::get_if<p2p::Ping>(&*message)) {
      if (!co_await wire.write_message(p2p::Pong{ping->nonce})) break;
    } else if (auto* reject = std::get_if<p2p::Reject>(&*message)) {
      closed = std::string(reject->code_name()) + " " + reject->detail;
      co_await wire.close_gracefully(std::nullopt);
      break;
    }
  }
  std::cout << "ok " << hs->theirs.node_id.hex() << " closed: " << closed << std::endl;
}

asio::awaitable<void> accept_loop(tcp::acceptor& acceptor, const Node& node) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    asio::co_spawn(acceptor.get_executor(), serve(std::move(socket), node), asio::detached);
  }
}

}  // namespace

int main(int argc, char** argv) {
  unsigned short port = 0;
  if (argc == 5 && std::string_view(argv[3]) == "--port") port = static_cast<unsigned short>(std::stoi(argv[4]));
  if ((argc != 3 && argc != 5) || std::string_view(argv[1]) != "--config") {
    std::cerr << "usage: wire_responder --config tnode.toml [--port P]\n";
    return 2;
  }
  core::crypto::init();
  auto config = core::config::load_node_config(argv[2]);
  if (!config) {
    std::cerr << "wire_responder: " << config.error().message << "\n";
    return 2;
  }
  auto genesis_path = config->genesis_path();
  if (!genesis_path) {
    std::cerr << "wire_responder: the config needs genesis.file\n";
    return 2;
  }
  auto spec = core::chain::load_genesis_file(*genesis_path);
  auto key = core::crypto::load_key_file(config->key_path());
  if (!spec || !key) {
    std::cerr << "wire_responder: " << (spec ? key.error().message : spec.error().message) << "\n";
    return 2;
  }
  Node node{*config, *spec, *key};

  try {
    asio::io_context io;
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    node.port = acceptor.local_endpoint().port();
    std::cout << "port " << node.port << std::endl;
    asio::co_spawn(io, accept_loop(acceptor, node), asio::detached);
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code&, int) { io.stop(); });
    io.run();
  } catch (const std::exception& e) {
    std::cerr << "wire_responder: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
