#pragma once
// The authenticated handshake (DESIGN.md section 5) as pure functions over
// Hello messages; the connection code sends, receives and times out.
//
//   initiator -> Hello I   (session_nonce n_i; ack_nonce and signature zero)
//   responder:  check_initiator_hello(I), check_hello(I, ours), node-state
//               checks (banned, capacity, duplicates); on failure Reject.
//   responder -> Hello R   (session_nonce n_r, ack_nonce = n_i,
//                           signature = sign_responder_hello)
//   initiator:  check_hello(R, ours), verify_responder_hello(R, I);
//               on failure Reject.
//   initiator -> HelloAck  (make_hello_ack(I, R))
//   responder:  verify_hello_ack(ack, I, R); only now is the peer connected.
//
// What is signed (KeyPair::sign prefixes the domain and a zero byte):
//   responder, domain kResponderDomain:
//     BLAKE2b-256(encode(R with signature zeroed))
//     R carries n_r and, as ack_nonce, n_i: the signature covers both nonces
//     and every field of R (identity, role, versions, genesis, tip).
//   initiator, domain kInitiatorDomain:
//     encode(I with signature zeroed) || n_r
//     covering n_i, every field of I, and the responder's fresh nonce.
// Each signature therefore binds a fresh nonce chosen by the other side, so a
// signature recorded in one session is useless in another, and the distinct
// domains keep a responder signature from ever passing as an initiator's (or
// as a block signature). A masternode role is proven by these signatures:
// check_hello accepts it only for keys in the genesis masternode list.
//
// All functions are pure and may be called from any thread.

#include <functional>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

#include "libcore/chain/genesis.hpp"
#include "libcore/codec/codec.hpp"
#include "libcore/crypto/keys.hpp"
#include "libcore/crypto/types.hpp"
#include "libcore/p2p/messages.hpp"
#include "libcore/util/error.hpp"

namespace core::p2p {

inline constexpr std::string_view kResponderDomain = "tnode/handshake/responder/v1";
inline constexpr std::string_view kInitiatorDomain = "tnode/handshake/initiator/v1";

// A fresh random session nonce (libsodium randombytes); never zero.
Nonce new_session_nonce();

// What the responder signs: BLAKE2b-256(encode(reply, signature zeroed)).
crypto::Hash32 responder_transcript(const Hello& reply);
// What the initiator signs: encode(initiator_hello, signature zeroed) ||
// responder_hello.session_nonce.
codec::Bytes initiator_transcript(const Hello& initiator_hello, const Hello& responder_hello);

// Signs the responder's reply in place. Preconditions (asserted): reply.node_id
// is key's public key, and reply.ack_nonce already holds the initiator's
// session_nonce.
void sign_responder_hello(Hello& reply, const crypto::KeyPair& key);

// The initiator's check of the reply to its `initiator_hello`: the reply must
// acknowledge our nonce (ack_nonce == initiator_hello.session_nonce), must not
// echo it as its own, and must be signed by reply.node_id. The error names
// which; the connection then closes with Reject{bad_signature}.
util::Result<void> verify_responder_hello(const Hello& reply, const Hello& initiator_hello);

// The initiator's acknowledgement. Precondition (asserted): key is
// initiator_hello.node_id's key.
HelloAck make_hello_ack(const Hello& initiator_hello, const Hello& responder_hello, const crypto::KeyPair& key);

// The responder's check that `ack` is initiator_hello.node_id's signature over
// initiator_transcript(initiator_hello, responder_hello). On failure the
// connection closes with Reject{bad_signature}.
util::Result<void> verify_hello_ack(const HelloAck& ack, const Hello& initiator_hello, const Hello& responder_hello);

// What a node checks every Hello it receives against.
struct LocalIdentity {
  std::string network;
  crypto::Hash32 genesis_hash;
  crypto::PublicKey node_id;
  std::uint32_t protocol_version = kProtocolVersion;
  std::uint32_t min_version = kMinProtocolVersion;
  // Whether a key is a genesis masternode. Empty: no key is (every masternode
  // claim is refused). A node that only pins the genesis hash and has not
  // fetched the spec yet must decide itself what to pass here.
  std::function<bool(const crypto::PublicKey&)> is_masternode;
};

// The identity of a node on the network `spec` defines, using the spec's
// masternode list.
LocalIdentity make_local_identity(const chain::GenesisSpec& spec, const crypto::PublicKey& node_id);

// The checks of a peer's Hello that need no node state, for both directions
// (the responder checks the initiator's Hello, the initiator the reply), in
// this order:
//   version          their [min_version, protocol_version] does not overlap
//                    ours (or is empty)
//   network_mismatch network names differ
//   genesis_mismatch genesis hashes differ
//   self             their node_id is ours (we dialled ourselves)
//   not_masternode   role Masternode claimed by a key not in genesis
//   malformed        zero session_nonce
// The Rejection's detail says what differs. Banned peers, capacity and
// duplicates are the node's checks.
tl::expected<void, Rejection> check_hello(const Hello& theirs, const LocalIdentity& ours);

// The responder's extra check of the opening Hello: ack_nonce and signature
// must be zero (a signed reply sent as an opening Hello is handshake_order).
tl::expected<void, Rejection> check_initiator_hello(const Hello& hello);

}  // namespace core::p2p
