#include "libcore/node/chain_server.hpp"

#include <algorithm>

#include "libcore/store/chain_store.hpp"

namespace core::node {

p2p::Headers headers_for(const store::ChainStore& store, const p2p::GetHeaders& request, std::size_t max_reply_bytes) {
  p2p::Headers reply;
  std::uint64_t from = 1;
  for (const auto& hash : request.locator) {
    auto h = store.header(hash);
    if (!h) continue;
    if (store.hash_at(h->height) == hash) {
      from = h->height + 1;
      break;
    }
  }
  const auto limit = std::min<std::uint32_t>(request.limit, p2p::kMaxHeadersPerMessage);
  const auto top = store.tip().height;
  std::size_t bytes = 0;
  for (std::uint64_t height = from; height <= top && reply.headers.size() < limit; ++height) {
    auto hash = store.hash_at(height);
    if (!hash) break;
    auto h = store.header(*hash);
    if (!h) break;
    bytes += chain::kHeaderSize;
    if (bytes + kReplyOverhead > max_reply_bytes) break;
    reply.headers.push_back(std::move(*h));
  }
  return reply;
}

p2p::Blocks blocks_for(const store::ChainStore& store, const p2p::GetBlocks& request, std::size_t max_reply_bytes) {
  p2p::Blocks reply;
  std::size_t bytes = kReplyOverhead;
  for (const auto& hash : request.hashes) {
    if (reply.blocks.size() >= p2p::kMaxBlocksPerMessage) break;
    auto b = store.block(hash);
    if (!b) continue;
    const auto size = chain::encode(*b).size() + kPerBlockOverhead;
    if (bytes + size > max_reply_bytes) break;
    bytes += size;
    reply.blocks.push_back(std::move(*b));
  }
  return reply;
}

}  // namespace core::node
