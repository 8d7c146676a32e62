#pragma once
// Answering peers' chain requests from our store (DESIGN.md 7): GetHeaders
// from the fork point a locator names, GetBlocks by hash. Every reply stays
// below `max_reply_bytes` (a frame the peer accepts) and the protocol's
// per-message counts. Pure functions of the store: no state, no sockets.
//
// Threads: whoever owns the store (the node's strand).

#include <cstddef>

#include "libcore/p2p/messages.hpp"

namespace core::store {
class ChainStore;
}

namespace core::node {

// Bytes a reply spends besides its items (the frame header and counts).
inline constexpr std::size_t kReplyOverhead = 64;
// Bytes each block in a Blocks reply spends besides its encoding (its length).
inline constexpr std::size_t kPerBlockOverhead = 8;

// The headers of our main chain after the first locator hash that is on it
// (genesis if none is), at most request.limit (capped at
// kMaxHeadersPerMessage) and max_reply_bytes.
p2p::Headers headers_for(const store::ChainStore& store, const p2p::GetHeaders& request, std::size_t max_reply_bytes);

// The blocks we have among request.hashes, in request order (unknown ones
// skipped), at most kMaxBlocksPerMessage and max_reply_bytes.
p2p::Blocks blocks_for(const store::ChainStore& store, const p2p::GetBlocks& request, std::size_t max_reply_bytes);

}  // namespace core::node
