#pragma once
// Framing of the byte stream between two peers:
//
//   magic u32 | type u16 | length u32 | checksum u32 | payload (length bytes)
//
// all little-endian, a 14-byte header. magic is chain::network_magic(network);
// checksum is the first 4 bytes (little-endian u32) of BLAKE2b-256(payload).
//
// FrameDecoder turns a stream fed in arbitrary pieces back into frames. It
// holds at most one frame at a time, checks each header field the moment it is
// complete (magic after 4 bytes, type after 6, length after 10, before any
// payload byte is taken or allocated), so no peer can make it buffer more
// than kFrameHeaderSize + max_message_size bytes.

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include <tl/expected.hpp>

#include "libcore/codec/codec.hpp"
#include "libcore/p2p/messages.hpp"

namespace core::p2p {

inline constexpr std::size_t kFrameHeaderSize = 4 + 2 + 4 + 4;
// Default of the `max_message_size` setting: the largest payload accepted.
inline constexpr std::size_t kDefaultMaxMessageSize = std::size_t{4} << 20;

// "HTTP" read as a frame magic (little-endian): the other side answered
// with an HTTP status line. The bad_magic detail then ends with
// kHttpServerNote, so whoever dialled an HTTP port by mistake is told so.
inline constexpr std::uint32_t kHttpMagic = 0x50545448;
inline constexpr std::string_view kHttpServerNote =
    "the peer answered in HTTP: this is an HTTP server, not a peer port";

struct Frame {
  MessageType type = MessageType::Hello;
  codec::Bytes payload;
  friend bool operator==(const Frame&, const Frame&) = default;
};

// First 4 bytes of BLAKE2b-256(payload), little-endian.
std::uint32_t payload_checksum(std::span<const std::uint8_t> payload);

// The frame carrying `payload`. The payload must fit in a u32 (asserted);
// keeping it within the receiver's max_message_size is the caller's job.
codec::Bytes encode_frame(std::uint32_t magic, MessageType type, std::span<const std::uint8_t> payload);

// Incremental decoder for one connection's inbound stream. Not thread-safe:
// one connection's reader owns it. Use:
//
//   while (!in.empty()) {
//     in = in.subspan(decoder.feed(in));
//     auto frame = decoder.next();
//     if (!frame) -> send Reject{frame.error().code}, close
//     else if (*frame) -> handle(std::move(**frame))
//   }
class FrameDecoder {
 public:
  // max_message_size bounds the payload length, inclusive.
  FrameDecoder(std::uint32_t magic, std::size_t max_message_size);

  // Takes bytes of the current frame from the front of `data` and returns how
  // many it took. It stops at the end of a frame (a complete frame must be
  // collected with next() before the next frame's bytes are taken; until
  // then it returns 0) and at the byte that makes the frame invalid. Once the
  // decoder has failed it discards all input (returns data.size()).
  [[nodiscard]] std::size_t feed(std::span<const std::uint8_t> data);

  // The complete frame, if there is one (the decoder then starts on the next
  // frame); nullopt when more bytes are needed; or, once the stream is
  // invalid, the Rejection: bad_magic, unknown_type, oversized or
  // bad_checksum. A failed decoder stays failed and returns the same error.
  tl::expected<std::optional<Frame>, Rejection> next();

  // Bytes currently held (header and payload of the frame in progress);
  // never more than kFrameHeaderSize + max_message_size().
  std::size_t buffered() const { return header_size_ + payload_.size(); }
  bool failed() const { return failure_.has_value(); }
  std::size_t max_message_size() const { return max_message_size_; }
  // A new payload bound, from the next frame header on (a frame in
  // progress keeps the bound it was checked against). The node reads a
  // handshake with a small bound and raises it once the peer is known.
  void set_max_message_size(std::size_t max_message_size) { max_message_size_ = max_message_size; }

 private:
  void header_field_complete();
  void payload_complete();
  void fail(RejectCode code, std::string detail);

  std::uint32_t magic_;
  std::size_t max_message_size_;
  std::array<std::uint8_t, kFrameHeaderSize> header_{};
  std::size_t header_size_ = 0;
  MessageType type_ = MessageType::Hello;
  std::uint32_t length_ = 0;
  std::uint32_t checksum_ = 0;
  codec::Bytes payload_;
  bool complete_ = false;
  std::optional<Rejection> failure_;
};

}  // namespace core::p2p
