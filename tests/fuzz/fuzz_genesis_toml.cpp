// genesis.toml text: parsing never crashes; what parses renders back to TOML
// that parses to the same spec (and so the same hash).
#include <cstdlib>
#include <string_view>

#include "libcore/chain/block.hpp"
#include "libcore/crypto/hash.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static bool init = (core::crypto::init(), true);
  (void)init;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto g = core::chain::parse_genesis_toml(text, "fuzz.toml")) {
    auto again = core::chain::parse_genesis_toml(core::chain::to_toml(*g), "again.toml");
    if (!again || !(*again == *g)) std::abort();
  }
  return 0;
}
