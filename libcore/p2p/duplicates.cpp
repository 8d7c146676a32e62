#include "libcore/p2p/duplicates.hpp"

#include <algorithm>
#include <cassert>

#include "libcore/crypto/hash.hpp"

namespace core::p2p {

const char* to_string(DuplicateVerdict v) {
  switch (v) {
    case DuplicateVerdict::KeepExisting:
      return "keep_existing";
    case DuplicateVerdict::ReplaceWithNew:
      return "replace_with_new";
    case DuplicateVerdict::ProbeExistingFirst:
      return "probe_existing_first";
  }
  return "unknown";
}

crypto::Hash32 tie_break_key(const NodeId& a, const NodeId& b, const NodeId& initiator) {
  const auto& [lo, hi] = std::minmax(a, b);
  crypto::Hasher h;
  h.update(lo.span()).update(hi.span()).update(initiator.span());
  return h.finish();
}

NodeId preferred_initiator(const NodeId& a, const NodeId& b) {
  if (a == b) return a;
  // Keys of distinct initiators differ unless BLAKE2b collides, so the order
  // of the arguments cannot matter.
  return tie_break_key(a, b, a) < tie_break_key(a, b, b) ? a : b;
}

DuplicateVerdict resolve_duplicate(const NodeId& ours, const NodeId& theirs, const ConnectionFacts& existing,
                                   const ConnectionFacts& incoming) {
  assert(existing.initiator == ours || existing.initiator == theirs);
  assert(incoming.initiator == ours || incoming.initiator == theirs);
  if (incoming.remote_session != existing.remote_session) return DuplicateVerdict::ReplaceWithNew;
  const NodeId preferred = preferred_initiator(ours, theirs);
  if (incoming.initiator == preferred && existing.initiator != preferred) return DuplicateVerdict::ReplaceWithNew;
  // Either the same side dialled twice (the key cannot choose) or the new
  // connection loses the tie-break: the old one wins only if it is alive.
  return DuplicateVerdict::ProbeExistingFirst;
}

bool should_skip_dial(const std::optional<NodeId>& last_seen, const std::function<bool(const NodeId&)>& is_connected) {
  return last_seen.has_value() && is_connected(*last_seen);
}

bool should_skip_dial(const std::optional<NodeId>& last_seen, const std::set<NodeId>& connected) {
  return last_seen.has_value() && connected.count(*last_seen) > 0;
}

}  // namespace core::p2p
