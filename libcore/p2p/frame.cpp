#include "libcore/p2p/frame.hpp"

#include <algorithm>
#include <cassert>
#include <cstdio>
#include <limits>
#include <string>

#include "libcore/crypto/hash.hpp"

namespace core::p2p {

namespace {

// Where each header field ends; the decoder checks a field as soon as its
// last byte arrives.
constexpr std::size_t kMagicEnd = 4;
constexpr std::size_t kTypeEnd = 6;
constexpr std::size_t kLengthEnd = 10;
constexpr std::size_t kChecksumEnd = kFrameHeaderSize;
// The payload buffer grows with the bytes that actually arrive (doubling from
// this size, capped at the announced length), so a header alone cannot make
// the decoder allocate max_message_size.
constexpr std::size_t kInitialPayloadReserve = std::size_t{64} << 10;

std::uint32_t le32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
         static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}

std::string hex32(std::uint32_t v) {
  char buf[11];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

}  // namespace

std::uint32_t payload_checksum(std::span<const std::uint8_t> payload) {
  return le32(crypto::blake2b256(payload).data());
}

codec::Bytes encode_frame(std::uint32_t magic, MessageType type, std::span<const std::uint8_t> payload) {
  assert(payload.size() <= std::numeric_limits<std::uint32_t>::max());
  codec::Writer w;
  w.u32(magic).u16(static_cast<std::uint16_t>(type)).u32(static_cast<std::uint32_t>(payload.size()));
  w.u32(payload_checksum(payload)).raw(payload);
  return w.take();
}

FrameDecoder::FrameDecoder(std::uint32_t magic, std::size_t max_message_size)
    : magic_(magic), max_message_size_(max_message_size) {}

std::size_t FrameDecoder::feed(std::span<const std::uint8_t> data) {
  if (failure_) return data.size();
  std::size_t used = 0;
  while (used < data.size() && !complete_ && !failure_) {
    auto rest = data.subspan(used);
    if (header_size_ < kFrameHeaderSize) {
      // Up to the end of the current header field only, so it is checked
      // before any byte after it is taken.
      std::size_t field_end = header_size_ < kMagicEnd    ? kMagicEnd
                              : header_size_ < kTypeEnd   ? kTypeEnd
                              : header_size_ < kLengthEnd ? kLengthEnd
                                                          : kChecksumEnd;
      std::size_t n = std::min(field_end - header_size_, rest.size());
      std::copy_n(rest.begin(), n, header_.begin() + static_cast<std::ptrdiff_t>(header_size_));
      header_size_ += n;
      used += n;
      if (header_size_ == field_end) header_field_complete();
    } else {
      std::size_t n = std::min<std::size_t>(length_ - payload_.size(), rest.size());
      std::size_t wanted = payload_.size() + n;
      if (wanted > payload_.capacity())
        payload_.reserve(std::min<std::size_t>(length_, std::max(wanted, 2 * payload_.capacity())));
      payload_.insert(payload_.end(), rest.begin(), rest.begin() + static_cast<std::ptrdiff_t>(n));
      used += n;
      if (payload_.size() == length_) payload_complete();
    }
  }
  return used;
}

void FrameDecoder::header_field_complete() {
  switch (header_size_) {
    case kMagicEnd: {
      std::uint32_t magic = le32(header_.data());
      if (magic != magic_)
        fail(RejectCode::bad_magic, "bad magic " + hex32(magic) + ", expected " + hex32(magic_) +
                                        (magic == kHttpMagic ? " (" + std::string(kHttpServerNote) + ")" : ""));
      break;
    }
    case kTypeEnd: {
      auto raw = static_cast<std::uint16_t>(header_[4] | header_[5] << 8);
      auto type = message_type_from_wire(raw);
      if (!type)
        fail(RejectCode::unknown_type, "unknown message type " + std::to_string(raw));
      else
        type_ = *type;
      break;
    }
    case kLengthEnd:
      length_ = le32(header_.data() + kTypeEnd);
      if (length_ > max_message_size_)
        fail(RejectCode::oversized, std::string(to_string(type_)) + " of " + std::to_string(length_) +
                                        " bytes exceeds max_message_size " + std::to_string(max_message_size_));
      break;
    case kChecksumEnd:
      checksum_ = le32(header_.data() + kLengthEnd);
      payload_.reserve(std::min<std::size_t>(length_, kInitialPayloadReserve));
      if (length_ == 0) payload_complete();
      break;
    default:
      assert(false && "header_field_complete called inside a field");
  }
}

void FrameDecoder::payload_complete() {
  auto actual = payload_checksum(payload_);
  if (actual != checksum_) {
    fail(RejectCode::bad_checksum, std::string(to_string(type_)) + " checksum " + hex32(checksum_) +
                                       " does not match its payload (" + hex32(actual) + ")");
    return;
  }
  complete_ = true;
}

void FrameDecoder::fail(RejectCode code, std::string detail) {
  failure_ = Rejection{code, std::move(detail)};
  // Nothing more will be decoded: release the buffer now.
  payload_ = codec::Bytes();
}

tl::expected<std::optional<Frame>, Rejection> FrameDecoder::next() {
  if (failure_) return tl::unexpected(*failure_);
  if (!complete_) return std::nullopt;
  Frame frame{type_, std::move(payload_)};
  payload_ = codec::Bytes();
  header_size_ = 0;
  length_ = 0;
  checksum_ = 0;
  complete_ = false;
  return frame;
}

}  // namespace core::p2p
