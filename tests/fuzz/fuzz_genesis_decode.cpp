// The canonical genesis encoding (what a bootstrap peer sends): decoding never
// crashes, and what decodes is valid and re-encodes to the input.
#include <cstdlib>

#include "libcore/chain/genesis.hpp"
#include "libcore/crypto/hash.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static bool init = (core::crypto::init(), true);
  (void)init;
  if (auto g = core::chain::decode_genesis(std::span(data, size))) {
    if (!core::chain::validate(*g)) std::abort();
    auto again = core::chain::encode(*g);
    if (again.size() != size || !std::equal(again.begin(), again.end(), data)) std::abort();
  }
  return 0;
}
