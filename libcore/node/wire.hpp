#pragma once
// One peer connection's byte stream as messages, and the handshake on it
// (DESIGN.md section 5), for the daemon and for tpeer-probe. Internal to
// the node module and tpeer-probe: it includes Asio and Beast, so keep it out
// of every header that others include.
//
// Failures are values that name their class the way an operator needs it:
// refused, timeout, reset, unreachable, rejected:<reason> (a Reject from
// either side), protocol_error. A failure found locally that the peer should
// hear about carries the Reject to send (`to_send`); the caller sends it with
// close_gracefully so the peer reads a reason, not a reset.
//
// Threads: a WireStream is used from one strand; at most one read and one
// write may be in flight at a time (Beast's tcp_stream rule).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <tl/expected.hpp>

#include "libcore/chain/genesis.hpp"
#include "libcore/crypto/keys.hpp"
#include "libcore/p2p/frame.hpp"
#include "libcore/p2p/handshake.hpp"
#include "libcore/p2p/messages.hpp"
#include "libcore/util/address.hpp"

namespace core::node {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using SteadyTime = std::chrono::steady_clock::time_point;

// How long a closing side waits for the peer's EOF after sending its reason
// (DESIGN.md section 5: "drains until EOF (bounded by 1 s)").
inline constexpr std::chrono::milliseconds kLingerTimeout{1000};

// The frame magic of a genesis request: a node that holds only the genesis
// hash does not know the network's name (and so its magic) yet. It opens a
// connection, sends GetGenesis in this framing, and the peer answers with
// Genesis in the same framing and closes. No handshake: the receiver trusts
// nothing but the hash it pinned. "TGEN", little-endian.
inline constexpr std::uint32_t kGenesisRequestMagic = 0x4e454754;

enum class FailureKind { refused, timeout, reset, unreachable, rejected, protocol_error };
// "refused", "timeout", "reset", "unreachable", "rejected", "protocol_error".
const char* to_string(FailureKind k);

struct Failure {
  FailureKind kind = FailureKind::reset;
  // The reject code's name for rejected and protocol_error ("genesis_mismatch",
  // "bad_checksum"; a peer's unknown code is "unknown"); empty otherwise.
  std::string code;
  std::string detail;    // human-readable: what happened, with the peer's detail
  bool by_peer = false;  // rejected: the peer sent the Reject (false: we refused them)
  // The Reject to send before closing, when the failure was found locally.
  std::optional<p2p::Reject> to_send;

  // "timeout", "rejected:genesis_mismatch", "protocol_error:bad_checksum".
  std::string label() const;
  // The bounded reason used in metrics and logs: the code when there is
  // one, else the kind's name.
  std::string reason() const { return code.empty() ? to_string(kind) : code; }
};

// A failure we found: the peer is told `rejection` (kind protocol_error for
// frame/decoding faults, rejected for policy refusals).
Failure local_failure(FailureKind kind, const p2p::Rejection& rejection);
// Peer-supplied text enters the node here, made printable once
// (util::printable: printable ASCII, "\n" and "\xNN" escapes, bounded), so
// that logs, /peers, /addrbook and the store only ever hold the escaped
// form: a newline from a peer can never forge a log line. The bounds leave
// room for some escapes; a detail of nothing but control bytes is cut.
inline constexpr std::size_t kMaxPrintedRejectDetail = 2 * p2p::kMaxRejectDetail;
inline constexpr std::size_t kMaxPrintedUserAgent = 2 * p2p::kMaxUserAgent;

// A peer's Reject detail as the node keeps and logs it (printable, at most
// kMaxPrintedRejectDetail bytes; empty stays empty).
std::string printable_detail(const p2p::Reject& r);
// A Reject the peer sent: kind rejected, by_peer, its code name and its
// printable_detail (the code name when it has none).
Failure rejected_by_peer(const p2p::Reject& r);
// The class of a socket error in the given step ("connect", "handshake",
// "read", "write"): connection_refused -> refused; timeouts -> timeout;
// host/network unreachable -> unreachable; EOF, reset, broken pipe, aborted ->
// reset; anything else -> reset with the system's message.
Failure socket_failure(const boost::system::error_code& ec, const std::string& step);

// The remote IP of a connected socket ("1.2.3.4"; an IPv4-mapped IPv6
// address as IPv4; "?" when the socket has no peer) and its port (0).
std::string remote_ip_of(const tcp::socket& socket);
std::uint16_t remote_port_of(const tcp::socket& socket);

// Resolves and connects, at most until `deadline`, trying the resolved
// addresses in order. With a `source` the connection leaves from it: the
// socket is bound to (source, any port) before it connects to an address
// of source's family (one of another family connects unbound: the source
// cannot be its address). A failed bind fails the dial, classified like a
// socket error ("bind 127.0.0.2: cannot assign requested address" is
// unreachable). The stream is returned with no expiry set.
asio::awaitable<tl::expected<tcp::socket, Failure>> connect_to(const util::HostPort& address, SteadyTime deadline,
                                                               std::optional<asio::ip::address> source = std::nullopt);

class WireStream {
 public:
  WireStream(tcp::socket socket, std::uint32_t magic, std::size_t max_message_size);

  // The magic of the first frame, read but not consumed (at most until
  // `deadline`); fails as socket_failure("read").
  asio::awaitable<tl::expected<std::uint32_t, Failure>> peek_magic(SteadyTime deadline);
  // Frames from now on use `magic` (both directions).
  void use_magic(std::uint32_t magic);
  // Frames read from now on may carry up to this many payload bytes.
  void set_max_message_size(std::size_t max_message_size) { decoder_.set_max_message_size(max_message_size); }

  // Deadline for the reads and writes started from now on (Beast timeouts).
  void expires_at(SteadyTime deadline) { stream_.expires_at(deadline); }
  void expires_never() { stream_.expires_never(); }

  // The next message. A frame or payload fault fails with protocol_error and
  // the Reject to send; socket errors as socket_failure("read"). A Reject
  // from the peer is returned as a message (the caller decides what it means).
  asio::awaitable<tl::expected<p2p::Message, Failure>> read_message();

  // Sends a whole frame. Fails as socket_failure("write").
  asio::awaitable<tl::expected<void, Failure>> write_message(const p2p::Message& message);
  asio::awaitable<tl::expected<void, Failure>> write_frame(const std::shared_ptr<const codec::Bytes>& frame);
  // The frame of `message` for this stream's network.
  std::shared_ptr<const codec::Bytes> frame_of(const p2p::Message& message) const;

  // Sends `reject` (if any, within kLingerTimeout), shuts down the sending
  // side, reads and discards until the peer's EOF or kLingerTimeout, closes.
  // For use when no other read or write is in flight. Never fails.
  asio::awaitable<void> close_gracefully(const std::optional<p2p::Reject>& reject);

  // Discards whatever the peer still sends until EOF or `deadline`.
  asio::awaitable<void> drain_until(SteadyTime deadline);

  beast::tcp_stream& stream() { return stream_; }
  tcp::socket& socket() { return stream_.socket(); }
  void close();  // closes the socket at once; pending operations end with an error

  std::uint64_t bytes_in() const { return bytes_in_; }
  std::uint64_t bytes_out() const { return bytes_out_; }
  std::uint32_t magic() const { return magic_; }
  // Called for each message read or written (type, frame bytes, received?).
  std::function<void(p2p::MessageType, std::size_t, bool)> on_message;

 private:
  beast::tcp_stream stream_;
  std::uint32_t magic_;
  p2p::FrameDecoder decoder_;
  std::unique_ptr<std::uint8_t[]> buffer_;  // kReadChunk bytes
  std::size_t buffer_begin_ = 0, buffer_end_ = 0;
  std::uint64_t bytes_in_ = 0, bytes_out_ = 0;
};

// Coroutines in node/ that are co_awaited take their arguments by reference
// (the caller's frame owns them) and callers pass named objects, never
// temporaries: GCC 12 destroys some temporaries of a co_await
// full-expression twice. Nor is a co_await the operand of an operator in a
// condition (`if (!co_await f()) co_return;`): GCC 12 then resumed the
// coroutine at an invalid point (SIGILL in ConnectionManager::adopt); bind
// the result to a named variable first.

// Asks `address` for its genesis with a genesis request (kGenesisRequestMagic)
// and returns the spec as served, checked only for validity (the decoder's):
// who trusts it must compare its hash with a pin, or say it was not checked.
asio::awaitable<tl::expected<chain::GenesisSpec, Failure>> request_genesis(const util::HostPort& address,
                                                                           SteadyTime deadline);

// request_genesis, then checks the spec against `expected` before returning it. A spec whose hash
// differs fails with kind rejected and code "genesis_mismatch" (by_peer
// false), naming both hashes; socket and framing failures as usual.
asio::awaitable<tl::expected<chain::GenesisSpec, Failure>> fetch_genesis(const util::HostPort& address,
                                                                         const crypto::Hash32& expected,
                                                                         SteadyTime deadline);

// Both Hellos of a completed handshake.
struct HandshakeResult {
  p2p::Hello ours;  // as sent (signed when we responded)
  // As received and verified, except its user_agent, which is made
  // printable (at most kMaxPrintedUserAgent bytes) after the signature
  // checks: the only free text of a Hello (its network equals ours).
  p2p::Hello theirs;
};

// The initiator's side: sends `ours` (unsigned; session_nonce set), checks
// the reply (check_hello, verify_responder_hello) and sends HelloAck. Ends
// at `deadline` with a timeout failure. A peer's Reject fails with kind
// rejected, by_peer, its code and detail.
asio::awaitable<tl::expected<HandshakeResult, Failure>> initiate_handshake(WireStream& wire, const p2p::Hello& ours,
                                                                           const crypto::KeyPair& key,
                                                                           const p2p::LocalIdentity& identity,
                                                                           SteadyTime deadline);

// The responder's node-state checks of a proven-shape initiator Hello
// (banned, capacity, ...): a Rejection refuses it.
using AdmitFn = std::function<std::optional<p2p::Rejection>(const p2p::Hello& theirs)>;

// The responder's side: reads the initiator's Hello, checks it
// (check_initiator_hello, check_hello, then `admit`), replies with `ours`
// signed over both nonces, and verifies the HelloAck.
asio::awaitable<tl::expected<HandshakeResult, Failure>> respond_handshake(WireStream& wire, const p2p::Hello& ours,
                                                                          const crypto::KeyPair& key,
                                                                          const p2p::LocalIdentity& identity,
                                                                          const AdmitFn& admit, SteadyTime deadline);

}  // namespace core::node
