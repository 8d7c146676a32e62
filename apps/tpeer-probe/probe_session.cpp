// The probe's side of one peer connection: its identity, the ping, and the
// close after a failed step (see probe_session.hpp).
#include "tpeer-probe/probe_session.hpp"

#include <random>
#include <utility>
#include <variant>

#include "common/app.hpp"

namespace tpeer_probe {

namespace {

namespace asio = boost::asio;
namespace p2p = core::p2p;
using core::node::Failure;
using core::node::FailureKind;
using core::node::rejected_by_peer;
using core::node::WireStream;

// Messages a peer may send between our Ping and its Pong (announcements,
// its own requests) before we stop waiting: the step's deadline bounds the
// time, this bounds the work.
constexpr int kMaxMessagesBeforePong = 1000;

std::uint64_t random_u64() {
  static std::mt19937_64 rng{std::random_device{}()};
  return rng();
}

}  // namespace

ProbeIdentity make_probe_identity(const Network& n) {
  ProbeIdentity id{core::crypto::KeyPair::generate(), {}, {}};
  auto& h = id.hello;
  h.network = n.name;
  h.genesis_hash = n.genesis_hash;
  h.node_id = id.key.public_key();
  h.role = p2p::Role::Regular;
  h.listen_port = 0;
  h.best_height = 0;
  h.best_hash = n.genesis_hash;  // the genesis block is the tip of an empty chain
  h.session_nonce = p2p::new_session_nonce();
  h.user_agent = std::string(kTool) + "/" + app::version();
  if (n.spec) {
    id.local = p2p::make_local_identity(*n.spec, id.key.public_key());
  } else {
    id.local.network = n.name;
    id.local.genesis_hash = n.genesis_hash;
    id.local.node_id = id.key.public_key();
    // With only the genesis hash the probe does not know the masternode
    // list, so it cannot check a masternode claim: it accepts the claim (the
    // signature still proves the peer holds the key it names) and the
    // output says the role was not checked.
    id.local.is_masternode = [](const core::crypto::PublicKey&) { return true; };
  }
  return id;
}

asio::awaitable<void> close_after(WireStream& wire, const Failure& f) {
  if (f.to_send)
    co_await wire.close_gracefully(f.to_send);
  else if (f.kind == FailureKind::rejected && f.by_peer)
    co_await wire.close_gracefully(std::nullopt);
  else
    wire.close();
}

asio::awaitable<tl::expected<double, Failure>> ping(WireStream& wire, Clock::time_point deadline) {
  const p2p::Ping ping{random_u64()};
  wire.expires_at(deadline);
  const auto sent = Clock::now();
  if (auto w = co_await wire.write_message(ping); !w) co_return tl::unexpected(std::move(w.error()));
  for (int i = 0; i < kMaxMessagesBeforePong; ++i) {
    auto message = co_await wire.read_message();
    if (!message) co_return tl::unexpected(std::move(message.error()));
    if (auto* pong = std::get_if<p2p::Pong>(&*message); pong && pong->nonce == ping.nonce) {
      const double rtt = ms_since(sent);
      wire.expires_never();
      co_return rtt;
    }
    if (auto* r = std::get_if<p2p::Reject>(&*message)) co_return tl::unexpected(rejected_by_peer(*r));
    if (auto* their = std::get_if<p2p::Ping>(&*message))
      if (auto w = co_await wire.write_message(p2p::Pong{their->nonce}); !w)
        co_return tl::unexpected(std::move(w.error()));
  }
  Failure f;
  f.kind = FailureKind::timeout;
  f.detail = "ping: no pong among the peer's first " + std::to_string(kMaxMessagesBeforePong) + " messages";
  co_return tl::unexpected(std::move(f));
}

}  // namespace tpeer_probe
