// Blocks and headers from untrusted bytes: decoding never crashes, and what
// decodes re-encodes to exactly the input (one encoding per value).
#include <cstdlib>

#include "libcore/chain/block.hpp"
#include "libcore/crypto/hash.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static bool init = (core::crypto::init(), true);
  (void)init;
  std::span<const std::uint8_t> in(data, size);
  if (auto b = core::chain::decode_block(in)) {
    auto again = core::chain::encode(*b);
    if (again.size() != size || !std::equal(again.begin(), again.end(), data)) std::abort();
    (void)core::chain::transactions_root(b->transactions);
  }
  if (auto h = core::chain::decode_header(in)) {
    auto again = core::chain::encode(*h);
    if (again.size() != size || !std::equal(again.begin(), again.end(), data)) std::abort();
  }
  return 0;
}
