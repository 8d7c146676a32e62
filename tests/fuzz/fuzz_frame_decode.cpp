// The inbound wire path from untrusted bytes: FrameDecoder fed in arbitrary
// chunk sizes, then decode_message on every framed payload. Nothing crashes,
// the decoder never holds more than one maximum frame, and every message that
// decodes re-encodes to exactly its payload.
//
// Input: byte 0 picks the mode (mod 3), byte 1 seeds the chunk sizes, the
// rest is
//   raw mode: the stream itself;
//   framed mode: records `type u8 | length u16 | payload`, each wrapped by
//     encode_frame with a correct checksum, so the fuzzer reaches
//     decode_message without having to forge BLAKE2b;
//   patched mode: records `sample u8 | offset u16 | n u8 | n bytes`: a valid
//     sample message (one per type, built in) with n bytes overwritten at
//     offset, framed likewise, so the decoders' deep paths are reached
//     without a seed corpus.
// In both framed modes the decoder must yield exactly the frames built, up to
// the first one it must refuse.
#include <cstdlib>
#include <optional>
#include <vector>

#include "libcore/chain/block.hpp"
#include "libcore/chain/genesis.hpp"
#include "libcore/crypto/hash.hpp"
#include "libcore/crypto/keys.hpp"
#include "libcore/p2p/frame.hpp"
#include "libcore/p2p/messages.hpp"

namespace {

namespace p2p = core::p2p;

constexpr std::uint32_t kMagic = 0x7E57AB1E;
constexpr std::size_t kMaxMessage = 32 * 1024;

void check(bool ok) {
  if (!ok) std::abort();
}

void check_payload(const p2p::Frame& frame) {
  auto m = p2p::decode_message(frame.type, frame.payload);
  if (!m) return;
  check(p2p::message_type(*m) == frame.type);
  auto again = p2p::encode_message(*m);
  check(again.type == frame.type && again.payload == frame.payload);
}

// One valid message of every type.
std::vector<p2p::EncodedMessage> make_samples() {
  namespace chain = core::chain;
  auto key = [](std::uint8_t n) {
    core::crypto::Seed seed;
    seed.bytes.fill(n);
    return core::crypto::KeyPair::from_seed(seed);
  };
  chain::GenesisSpec spec;
  spec.network = "fuzznet";
  spec.timestamp_ms = 1'767'225'600'000;
  spec.block_time_ms = 1000;
  spec.masternodes = {chain::Masternode{"mn1", key(1).public_key(), "127.0.0.1:24100"},
                      chain::Masternode{"mn2", key(2).public_key(), ""}};
  spec.allocations = {chain::Allocation{key(3).public_key(), 1000}};
  auto genesis = chain::genesis_header(spec);
  auto block = chain::make_block(genesis, 1, spec.timestamp_ms + 1000, key(2));

  p2p::Hello hello;
  hello.network = spec.network;
  hello.genesis_hash = genesis.hash();
  hello.node_id = key(4).public_key();
  hello.role = p2p::Role::Masternode;
  hello.listen_port = 24100;
  hello.best_height = 1;
  hello.best_hash = block.hash();
  hello.session_nonce.bytes.fill(5);
  hello.user_agent = "tnode/fuzz";
  hello.ack_nonce.bytes.fill(6);
  hello.signature.bytes.fill(7);
  p2p::HelloAck ack;
  ack.signature.bytes.fill(8);
  p2p::GetHeaders get_headers;
  get_headers.locator = {block.hash(), genesis.hash()};
  get_headers.limit = 100;
  p2p::Headers headers;
  headers.headers = {genesis, block.header};
  p2p::GetBlocks get_blocks;
  get_blocks.hashes = {block.hash()};
  p2p::Blocks blocks;
  blocks.blocks = {block};
  p2p::Peers peers;
  peers.peers = {p2p::PeerEntry{key(9).public_key(), "10.0.0.9:24100", p2p::Role::Regular, 42}};

  std::vector<p2p::Message> messages = {hello,
                                        ack,
                                        p2p::make_reject(p2p::RejectCode::duplicate, "duplicate"),
                                        p2p::Ping{1},
                                        p2p::Pong{2},
                                        get_headers,
                                        headers,
                                        get_blocks,
                                        blocks,
                                        p2p::NewBlock{block.header},
                                        p2p::GetPeers{},
                                        peers,
                                        p2p::GetGenesis{},
                                        p2p::Genesis{spec}};
  std::vector<p2p::EncodedMessage> out;
  for (const auto& m : messages) out.push_back(p2p::encode_message(m));
  return out;
}

struct Expected {
  std::vector<p2p::Frame> frames;
  std::optional<p2p::RejectCode> error;
};

// Appends one frame to the stream and records what the decoder must make of
// it. A frame whose payload is shorter than `announced` is cut (it can only be
// the last one).
void add_frame(std::vector<std::uint8_t>& stream, Expected& expected, std::uint16_t raw_type, std::size_t announced,
               std::vector<std::uint8_t> payload) {
  auto frame = p2p::encode_frame(kMagic, static_cast<p2p::MessageType>(raw_type), payload);
  if (payload.size() < announced) {
    frame[6] = static_cast<std::uint8_t>(announced);
    frame[7] = static_cast<std::uint8_t>(announced >> 8);
  }
  stream.insert(stream.end(), frame.begin(), frame.end());
  if (expected.error) return;
  if (!p2p::message_type_from_wire(raw_type))
    expected.error = p2p::RejectCode::unknown_type;
  else if (announced > kMaxMessage)
    expected.error = p2p::RejectCode::oversized;
  else if (payload.size() == announced)
    expected.frames.push_back(p2p::Frame{static_cast<p2p::MessageType>(raw_type), std::move(payload)});
}

// Framed mode: records `type u8 | length u16 | payload`.
std::vector<std::uint8_t> build_frames(std::span<const std::uint8_t> in, Expected& expected) {
  std::vector<std::uint8_t> stream;
  std::size_t pos = 0;
  while (pos + 3 <= in.size()) {
    auto raw_type = static_cast<std::uint16_t>(in[pos] % 16);  // 0 and 15 are unknown
    std::size_t len = static_cast<std::size_t>(in[pos + 1]) | static_cast<std::size_t>(in[pos + 2]) << 8;
    pos += 3;
    std::size_t carried = std::min(len, in.size() - pos);
    add_frame(stream, expected, raw_type, len,
              {in.begin() + static_cast<std::ptrdiff_t>(pos), in.begin() + static_cast<std::ptrdiff_t>(pos + carried)});
    pos += carried;
  }
  return stream;
}

// Patched mode: records `sample u8 | offset u16 | n u8 | n bytes`.
std::vector<std::uint8_t> build_patched(std::span<const std::uint8_t> in, Expected& expected) {
  static const std::vector<p2p::EncodedMessage> samples = make_samples();
  std::vector<std::uint8_t> stream;
  std::size_t pos = 0;
  while (pos + 4 <= in.size()) {
    const auto& sample = samples[in[pos] % samples.size()];
    std::size_t offset = (static_cast<std::size_t>(in[pos + 1]) | static_cast<std::size_t>(in[pos + 2]) << 8) %
                         (sample.payload.size() + 1);
    std::size_t n = std::min<std::size_t>(in[pos + 3], in.size() - pos - 4);
    pos += 4;
    auto payload = sample.payload;
    if (offset + n > payload.size()) payload.resize(offset + n);
    std::copy_n(in.begin() + static_cast<std::ptrdiff_t>(pos), n,
                payload.begin() + static_cast<std::ptrdiff_t>(offset));
    pos += n;
    auto announced = payload.size();
    add_frame(stream, expected, static_cast<std::uint16_t>(sample.type), announced, std::move(payload));
  }
  return stream;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static bool init = (core::crypto::init(), true);
  (void)init;
  if (size < 2) return 0;
  const int mode = data[0] % 3;
  const bool framed = mode != 0;
  std::uint32_t rng = 0x9E3779B9u ^ data[1];
  const std::uint32_t max_chunk = 1u << (data[1] % 16);
  std::span<const std::uint8_t> rest(data + 2, size - 2);

  Expected expected;
  std::vector<std::uint8_t> built;
  std::span<const std::uint8_t> stream = rest;
  if (framed) {
    built = mode == 1 ? build_frames(rest, expected) : build_patched(rest, expected);
    stream = built;
  }

  p2p::FrameDecoder decoder(kMagic, kMaxMessage);
  std::vector<p2p::Frame> frames;
  std::optional<p2p::Rejection> error;
  while (!stream.empty() && !error) {
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    auto chunk = stream.first(std::min<std::size_t>(1 + rng % max_chunk, stream.size()));
    stream = stream.subspan(chunk.size());
    while (!chunk.empty()) {
      chunk = chunk.subspan(decoder.feed(chunk));
      check(decoder.buffered() <= p2p::kFrameHeaderSize + kMaxMessage);
      auto next = decoder.next();
      if (!next) {
        error = next.error();
        check(decoder.failed());
        break;
      }
      if (*next) {
        check_payload(**next);
        frames.push_back(std::move(**next));
      }
    }
  }
  if (error) {
    // A failed decoder stays failed and swallows everything.
    check(decoder.feed(rest) == rest.size());
    auto again = decoder.next();
    check(!again && again.error() == *error);
  }

  if (framed) {
    check(frames == expected.frames);
    if (expected.error) check(error && error->code == *expected.error);
    if (!expected.error) check(!error);
  }
  return 0;
}
