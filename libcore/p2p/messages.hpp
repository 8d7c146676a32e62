#pragma once
// The wire messages of the peer protocol (DESIGN.md section 5) and their
// canonical payload encodings (codec/: little-endian, length-prefixed,
// explicit bounds on every count and length).
//
// Every decoder is strict: counts and lengths are checked against the named
// limits below before anything is allocated, enumerations must hold a known
// value, and trailing bytes are refused, so each message has exactly one
// encoding and encode(decode_x(bytes)) == bytes whenever decoding succeeds.
// Decoders return util::Result with a message naming the message and field;
// a peer that sends such a payload gets Reject{malformed}.
//
// Encoders expect values within the limits (they assert); values produced by
// the decoders always are. All functions are pure and may be called from any
// thread.

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "libcore/chain/block.hpp"
#include "libcore/chain/genesis.hpp"
#include "libcore/codec/codec.hpp"
#include "libcore/crypto/types.hpp"
#include "libcore/util/error.hpp"

namespace core::p2p {

// Versions this build speaks: a Hello advertises [kMinProtocolVersion,
// kProtocolVersion] and two peers are compatible when the ranges overlap.
// Version 2 added GetConnections/Connections: a peer whose Hello advertises
// a protocol_version below kConnectionsVersion is never sent GetConnections
// (a version-1 node refuses the unknown type).
// Version 2 also added Hello.address, appended to the Hello encoding only
// when non-empty. A version-1 node refuses a Hello carrying an address as
// malformed (trailing bytes), so a node that announces one cannot open a
// connection to a version-1 node; as a responder it leaves the address out
// of its reply to an initiator below kHelloAddressVersion.
inline constexpr std::uint32_t kProtocolVersion = 2;
inline constexpr std::uint32_t kMinProtocolVersion = 1;
inline constexpr std::uint32_t kConnectionsVersion = 2;
inline constexpr std::uint32_t kHelloAddressVersion = 2;

// Limits of the decoders; each bounds one count or length of one message.
inline constexpr std::size_t kMaxNetworkName = chain::kMaxNetworkName;  // Hello.network
inline constexpr std::size_t kMaxUserAgent = 128;                       // Hello.user_agent
inline constexpr std::size_t kMaxRejectDetail = 256;                    // Reject.detail
inline constexpr std::uint32_t kMaxLocator = 64;                        // GetHeaders.locator
inline constexpr std::uint32_t kMaxHeadersPerMessage = 2000;            // GetHeaders.limit, Headers
inline constexpr std::uint32_t kMaxBlocksPerMessage = 128;              // GetBlocks, Blocks
// One encoded block inside Blocks. The largest valid block (10 000
// transactions with full memos) is about 3.1 MB.
inline constexpr std::size_t kMaxBlockBytes = std::size_t{4} << 20;
inline constexpr std::uint32_t kMaxPeersPerMessage = 1000;          // Peers
inline constexpr std::size_t kMaxPeerAddress = chain::kMaxAddress;  // Peers[].address, Connections[].address
// The largest valid Hello payload (every string at its limit), and so the
// largest frame a peer may send before its handshake is complete: nothing
// valid before the ACK is bigger (HelloAck is a signature, Reject at most
// 6 + kMaxRejectDetail, GetGenesis empty). A node reads at most this much
// from a peer it does not know yet, whatever max_message_size is.
inline constexpr std::size_t kMaxHelloPayload = 4 + 4 + (4 + kMaxNetworkName) + 32 + 32 + 1 + 2 + 8 + 32 + 32 +
                                                (4 + kMaxUserAgent) + 32 + 64 + (4 + kMaxPeerAddress);
inline constexpr std::size_t kMaxHandshakeFrame =
    kMaxHelloPayload > 6 + kMaxRejectDetail ? kMaxHelloPayload : 6 + kMaxRejectDetail;
// The canonical genesis encoding inside Genesis. Note it is larger than the
// default max_message_size: a genesis that big needs a larger setting.
inline constexpr std::size_t kMaxGenesisBytes = std::size_t{16} << 20;

// Wire values are stable: never renumber, only append.
enum class MessageType : std::uint16_t {
  Hello = 1,
  HelloAck = 2,
  Reject = 3,
  Ping = 4,
  Pong = 5,
  GetHeaders = 6,
  Headers = 7,
  GetBlocks = 8,
  Blocks = 9,
  NewBlock = 10,
  GetPeers = 11,
  Peers = 12,
  GetGenesis = 13,
  Genesis = 14,
  GetConnections = 15,
  Connections = 16,
};

inline constexpr std::array kAllMessageTypes = {
    MessageType::Hello,      MessageType::HelloAck,   MessageType::Reject,         MessageType::Ping,
    MessageType::Pong,       MessageType::GetHeaders, MessageType::Headers,        MessageType::GetBlocks,
    MessageType::Blocks,     MessageType::NewBlock,   MessageType::GetPeers,       MessageType::Peers,
    MessageType::GetGenesis, MessageType::Genesis,    MessageType::GetConnections, MessageType::Connections};

// Lower-case snake_case name ("hello", "hello_ack", "get_headers", ...): a
// bounded set, used as the `type` label of tnode_messages_total.
std::string_view to_string(MessageType type);
// The message type with this wire value; nullopt for values no build knows.
std::optional<MessageType> message_type_from_wire(std::uint16_t value);

// Why a connection is refused or closed. Sent in Reject, logged, and used as
// the `reason` label of the close/failure metrics. Wire values are stable:
// never renumber, only append.
enum class RejectCode : std::uint16_t {
  protocol_error = 1,
  bad_magic = 2,
  bad_checksum = 3,
  oversized = 4,
  unknown_type = 5,
  malformed = 6,
  genesis_mismatch = 7,
  network_mismatch = 8,
  version = 9,
  self = 10,
  banned = 11,
  capacity = 12,
  per_ip_limit = 13,
  duplicate = 14,
  stale_session = 15,
  timeout = 16,
  bad_signature = 17,
  not_masternode = 18,
  handshake_order = 19,
  slow_peer = 20,
  shutdown = 21,
  invalid_block = 22,
  evicted = 23,
  admin = 24,
};

inline constexpr std::array kAllRejectCodes = {
    RejectCode::protocol_error, RejectCode::bad_magic,      RejectCode::bad_checksum,     RejectCode::oversized,
    RejectCode::unknown_type,   RejectCode::malformed,      RejectCode::genesis_mismatch, RejectCode::network_mismatch,
    RejectCode::version,        RejectCode::self,           RejectCode::banned,           RejectCode::capacity,
    RejectCode::per_ip_limit,   RejectCode::duplicate,      RejectCode::stale_session,    RejectCode::timeout,
    RejectCode::bad_signature,  RejectCode::not_masternode, RejectCode::handshake_order,  RejectCode::slow_peer,
    RejectCode::shutdown,       RejectCode::invalid_block,  RejectCode::evicted,          RejectCode::admin};

// The code's stable lower-case name, identical to its enumerator ("bad_magic").
std::string_view to_string(RejectCode code);
// The inverse of to_string; nullopt for an unknown name.
std::optional<RejectCode> parse_reject_code(std::string_view name);
// The code with this wire value; nullopt for values no build knows.
std::optional<RejectCode> reject_code_from_wire(std::uint16_t value);

// A reason to refuse or close, with a human-readable detail: what the frame
// decoder and the handshake checks return, and what becomes a Reject.
struct Rejection {
  RejectCode code = RejectCode::protocol_error;
  std::string detail;
  friend bool operator==(const Rejection&, const Rejection&) = default;
};

enum class Role : std::uint8_t { Regular = 0, Masternode = 1 };
std::string_view to_string(Role role);  // "regular", "masternode"

using Nonce = crypto::FixedBytes<32>;

// The first message of each side. The initiator sends it with ack_nonce and
// signature zero; the responder replies with its own Hello whose ack_nonce is
// the initiator's session_nonce, signed (see handshake.hpp).
//
// `address` is the sender's own reachable address ("host:port", port not
// zero, at most kMaxPeerAddress bytes), or empty when it announces none
// (then peers take its socket IP with listen_port). It is encoded after
// the signature field, and only when non-empty: an empty address encodes
// exactly as a version-1 Hello, and a present but empty one is malformed,
// so each Hello keeps exactly one encoding. The signatures cover it like
// every other field (encode() of the whole Hello, signature zeroed).
struct Hello {
  static constexpr MessageType kType = MessageType::Hello;
  std::uint32_t protocol_version = kProtocolVersion;
  std::uint32_t min_version = kMinProtocolVersion;
  std::string network;  // at most kMaxNetworkName bytes
  crypto::Hash32 genesis_hash;
  crypto::PublicKey node_id;
  Role role = Role::Regular;
  std::uint16_t listen_port = 0;  // 0: not listening
  std::uint64_t best_height = 0;
  crypto::Hash32 best_hash;
  Nonce session_nonce;          // fresh per process start (a restart is a new session)
  std::string user_agent;       // at most kMaxUserAgent bytes
  Nonce ack_nonce;              // the initiator's session_nonce in a reply; zero otherwise
  crypto::Signature signature;  // the responder's signature in a reply; zero otherwise
  std::string address;          // announced "host:port"; "" for none (version 2)
  friend bool operator==(const Hello&, const Hello&) = default;
};

// The initiator's signature completing the handshake (see handshake.hpp).
struct HelloAck {
  static constexpr MessageType kType = MessageType::HelloAck;
  crypto::Signature signature;
  friend bool operator==(const HelloAck&, const HelloAck&) = default;
};

// The code is kept as its raw wire value so that a newer peer's codes survive
// decoding; known_code() interprets it.
struct Reject {
  static constexpr MessageType kType = MessageType::Reject;
  std::uint16_t code = static_cast<std::uint16_t>(RejectCode::protocol_error);
  std::string detail;  // at most kMaxRejectDetail bytes

  // The code, if this build knows it.
  std::optional<RejectCode> known_code() const { return reject_code_from_wire(code); }
  // A bounded label for logs and metrics: the code's name, or "unknown".
  std::string_view code_name() const;
  friend bool operator==(const Reject&, const Reject&) = default;
};

// A Reject carrying `code`, with `detail` cut to kMaxRejectDetail bytes.
Reject make_reject(RejectCode code, std::string_view detail);
Reject make_reject(const Rejection& rejection);

struct Ping {
  static constexpr MessageType kType = MessageType::Ping;
  std::uint64_t nonce = 0;
  friend bool operator==(const Ping&, const Ping&) = default;
};

struct Pong {
  static constexpr MessageType kType = MessageType::Pong;
  std::uint64_t nonce = 0;  // the Ping's nonce
  friend bool operator==(const Pong&, const Pong&) = default;
};

// Headers after the first locator hash the responder has on its best chain.
struct GetHeaders {
  static constexpr MessageType kType = MessageType::GetHeaders;
  std::vector<crypto::Hash32> locator;          // at most kMaxLocator, newest first
  std::uint32_t limit = kMaxHeadersPerMessage;  // 1..kMaxHeadersPerMessage
  friend bool operator==(const GetHeaders&, const GetHeaders&) = default;
};

struct Headers {
  static constexpr MessageType kType = MessageType::Headers;
  std::vector<chain::BlockHeader> headers;  // at most kMaxHeadersPerMessage
  friend bool operator==(const Headers&, const Headers&) = default;
};

struct GetBlocks {
  static constexpr MessageType kType = MessageType::GetBlocks;
  std::vector<crypto::Hash32> hashes;  // at most kMaxBlocksPerMessage
  friend bool operator==(const GetBlocks&, const GetBlocks&) = default;
};

// Each block travels as a length-prefixed chain::encode(Block), at most
// kMaxBlockBytes.
struct Blocks {
  static constexpr MessageType kType = MessageType::Blocks;
  std::vector<chain::Block> blocks;  // at most kMaxBlocksPerMessage
  friend bool operator==(const Blocks&, const Blocks&) = default;
};

// Announces a block that extends the sender's best chain.
struct NewBlock {
  static constexpr MessageType kType = MessageType::NewBlock;
  chain::BlockHeader header;
  friend bool operator==(const NewBlock&, const NewBlock&) = default;
};

struct GetPeers {
  static constexpr MessageType kType = MessageType::GetPeers;
  friend bool operator==(const GetPeers&, const GetPeers&) = default;
};

struct PeerEntry {
  crypto::PublicKey node_id;
  std::string address;  // "host:port", at most kMaxPeerAddress bytes
  Role role = Role::Regular;
  std::int64_t last_seen_ms = 0;
  friend bool operator==(const PeerEntry&, const PeerEntry&) = default;
};

struct Peers {
  static constexpr MessageType kType = MessageType::Peers;
  std::vector<PeerEntry> peers;  // at most kMaxPeersPerMessage
  friend bool operator==(const Peers&, const Peers&) = default;
};

struct GetGenesis {
  static constexpr MessageType kType = MessageType::GetGenesis;
  friend bool operator==(const GetGenesis&, const GetGenesis&) = default;
};

// The genesis spec as its length-prefixed canonical encoding (chain::encode),
// at most kMaxGenesisBytes; decoding validates it (chain::decode_genesis).
// The receiver still has to check chain::genesis_hash(spec) against its pin.
struct Genesis {
  static constexpr MessageType kType = MessageType::Genesis;
  chain::GenesisSpec spec;
  friend bool operator==(const Genesis&, const Genesis&) = default;
};

codec::Bytes encode(const Hello& m);
codec::Bytes encode(const HelloAck& m);
codec::Bytes encode(const Reject& m);
codec::Bytes encode(const Ping& m);
codec::Bytes encode(const Pong& m);
codec::Bytes encode(const GetHeaders& m);
codec::Bytes encode(const Headers& m);
codec::Bytes encode(const GetBlocks& m);
codec::Bytes encode(const Blocks& m);
codec::Bytes encode(const NewBlock& m);
// Asks which peers the node is connected to now (not addresses it knows):
// what a crawler maps the network's graph from. Protocol version 2.
struct GetConnections {
  static constexpr MessageType kType = MessageType::GetConnections;
  friend bool operator==(const GetConnections&, const GetConnections&) = default;
};

// One connected peer as the answering node sees it. Everything in it is the
// answering node's claim: a hint for a map, never a proof.
struct ConnectionEntry {
  crypto::PublicKey node_id;
  std::string address;            // its listen address "host:port"; "" when it does not listen
  Role role = Role::Regular;      // as proven in its handshake with the answering node
  bool outbound = false;          // the answering node dialled it
  std::uint64_t best_height = 0;  // its best height as the answering node knows it
  friend bool operator==(const ConnectionEntry&, const ConnectionEntry&) = default;
};

struct Connections {
  static constexpr MessageType kType = MessageType::Connections;
  std::vector<ConnectionEntry> peers;  // at most kMaxPeersPerMessage
  friend bool operator==(const Connections&, const Connections&) = default;
};

codec::Bytes encode(const GetPeers& m);
codec::Bytes encode(const Peers& m);
codec::Bytes encode(const GetGenesis& m);
codec::Bytes encode(const Genesis& m);
codec::Bytes encode(const GetConnections& m);
codec::Bytes encode(const Connections& m);

util::Result<Hello> decode_hello(std::span<const std::uint8_t> payload);
util::Result<HelloAck> decode_hello_ack(std::span<const std::uint8_t> payload);
util::Result<Reject> decode_reject(std::span<const std::uint8_t> payload);
util::Result<Ping> decode_ping(std::span<const std::uint8_t> payload);
util::Result<Pong> decode_pong(std::span<const std::uint8_t> payload);
util::Result<GetHeaders> decode_get_headers(std::span<const std::uint8_t> payload);
util::Result<Headers> decode_headers(std::span<const std::uint8_t> payload);
util::Result<GetBlocks> decode_get_blocks(std::span<const std::uint8_t> payload);
util::Result<Blocks> decode_blocks(std::span<const std::uint8_t> payload);
util::Result<NewBlock> decode_new_block(std::span<const std::uint8_t> payload);
util::Result<GetPeers> decode_get_peers(std::span<const std::uint8_t> payload);
util::Result<Peers> decode_peers(std::span<const std::uint8_t> payload);
util::Result<GetGenesis> decode_get_genesis(std::span<const std::uint8_t> payload);
util::Result<Genesis> decode_genesis(std::span<const std::uint8_t> payload);
util::Result<GetConnections> decode_get_connections(std::span<const std::uint8_t> payload);
util::Result<Connections> decode_connections(std::span<const std::uint8_t> payload);

// Any message. Alternatives are in wire order: index i holds type i + 1.
using Message = std::variant<Hello, HelloAck, Reject, Ping, Pong, GetHeaders, Headers, GetBlocks, Blocks, NewBlock,
                             GetPeers, Peers, GetGenesis, Genesis, GetConnections, Connections>;

struct EncodedMessage {
  MessageType type = MessageType::Hello;
  codec::Bytes payload;
  friend bool operator==(const EncodedMessage&, const EncodedMessage&) = default;
};

MessageType message_type(const Message& m);
// The message's type and payload, ready for encode_frame.
EncodedMessage encode_message(const Message& m);
// Decodes a payload of the given type with that type's strict decoder.
util::Result<Message> decode_message(MessageType type, std::span<const std::uint8_t> payload);

}  // namespace core::p2p
