#include "libcore/p2p/handshake.hpp"

#include <sodium.h>

#include <cassert>

#include "libcore/chain/block.hpp"
#include "libcore/chain/schedule.hpp"
#include "libcore/crypto/hash.hpp"
#include "libcore/util/printable.hpp"

namespace core::p2p {

namespace {

// A peer's network name as its refusal quotes it (sent back in the Reject,
// logged by both sides): made printable, and short enough that the detail
// stays under kMaxRejectDetail.
constexpr std::size_t kMaxQuotedNetwork = 2 * kMaxNetworkName;

std::string version_range(std::uint32_t min, std::uint32_t max) {
  return "[" + std::to_string(min) + ", " + std::to_string(max) + "]";
}

tl::unexpected<Rejection> reject(RejectCode code, std::string detail) {
  return tl::unexpected(Rejection{code, std::move(detail)});
}

}  // namespace

Nonce new_session_nonce() {
  Nonce n;
  do {
    randombytes_buf(n.data(), n.kSize);
  } while (n.is_zero());
  return n;
}

crypto::Hash32 responder_transcript(const Hello& reply) {
  Hello unsigned_reply = reply;
  unsigned_reply.signature = {};
  return crypto::blake2b256(encode(unsigned_reply));
}

codec::Bytes initiator_transcript(const Hello& initiator_hello, const Hello& responder_hello) {
  Hello unsigned_hello = initiator_hello;
  unsigned_hello.signature = {};
  codec::Bytes out = encode(unsigned_hello);
  out.insert(out.end(), responder_hello.session_nonce.bytes.begin(), responder_hello.session_nonce.bytes.end());
  return out;
}

void sign_responder_hello(Hello& reply, const crypto::KeyPair& key) {
  assert(reply.node_id == key.public_key());
  assert(!reply.ack_nonce.is_zero());
  reply.signature = key.sign(kResponderDomain, responder_transcript(reply).span());
}

util::Result<void> verify_responder_hello(const Hello& reply, const Hello& initiator_hello) {
  if (reply.ack_nonce != initiator_hello.session_nonce)
    return util::fail("reply acknowledges session nonce " + reply.ack_nonce.short_hex() + ", not ours (" +
                      initiator_hello.session_nonce.short_hex() + ")");
  // A reply that reuses our nonce as its own would let our Hello's signature
  // context be reflected back at us.
  if (reply.session_nonce == initiator_hello.session_nonce)
    return util::fail("reply reuses our session nonce as its own");
  if (!crypto::verify(reply.node_id, kResponderDomain, responder_transcript(reply).span(), reply.signature))
    return util::fail("reply signature is not valid for node " + reply.node_id.short_hex());
  return {};
}

HelloAck make_hello_ack(const Hello& initiator_hello, const Hello& responder_hello, const crypto::KeyPair& key) {
  assert(initiator_hello.node_id == key.public_key());
  HelloAck ack;
  ack.signature = key.sign(kInitiatorDomain, initiator_transcript(initiator_hello, responder_hello));
  return ack;
}

util::Result<void> verify_hello_ack(const HelloAck& ack, const Hello& initiator_hello, const Hello& responder_hello) {
  if (!crypto::verify(initiator_hello.node_id, kInitiatorDomain, initiator_transcript(initiator_hello, responder_hello),
                      ack.signature))
    return util::fail("hello_ack signature is not valid for node " + initiator_hello.node_id.short_hex());
  return {};
}

LocalIdentity make_local_identity(const chain::GenesisSpec& spec, const crypto::PublicKey& node_id) {
  LocalIdentity id;
  id.network = spec.network;
  id.genesis_hash = chain::genesis_hash(spec);
  id.node_id = node_id;
  id.is_masternode = [schedule = chain::Schedule(spec)](const crypto::PublicKey& key) {
    return schedule.is_masternode(key);
  };
  return id;
}

tl::expected<void, Rejection> check_hello(const Hello& theirs, const LocalIdentity& ours) {
  if (theirs.min_version > theirs.protocol_version || theirs.min_version > ours.protocol_version ||
      ours.min_version > theirs.protocol_version)
    return reject(RejectCode::version, "peer speaks protocol versions " +
                                           version_range(theirs.min_version, theirs.protocol_version) + ", we speak " +
                                           version_range(ours.min_version, ours.protocol_version));
  if (theirs.network != ours.network)
    return reject(RejectCode::network_mismatch, "peer is on network \"" +
                                                    util::printable(theirs.network, kMaxQuotedNetwork) +
                                                    "\", we are on \"" + ours.network + "\"");
  if (theirs.genesis_hash != ours.genesis_hash)
    return reject(RejectCode::genesis_mismatch,
                  "peer has genesis " + theirs.genesis_hash.hex() + ", we have " + ours.genesis_hash.hex());
  if (theirs.node_id == ours.node_id)
    return reject(RejectCode::self, "connected to ourselves (node id " + ours.node_id.short_hex() + ")");
  if (theirs.role == Role::Masternode && !(ours.is_masternode && ours.is_masternode(theirs.node_id)))
    return reject(RejectCode::not_masternode,
                  "node " + theirs.node_id.short_hex() + " claims the masternode role but is not a genesis masternode");
  if (theirs.session_nonce.is_zero()) return reject(RejectCode::malformed, "zero session nonce");
  return {};
}

tl::expected<void, Rejection> check_initiator_hello(const Hello& hello) {
  if (!hello.ack_nonce.is_zero() || !hello.signature.is_zero())
    return reject(RejectCode::handshake_order, "opening hello carries an ack nonce or signature (a reply?)");
  return {};
}

}  // namespace core::p2p
