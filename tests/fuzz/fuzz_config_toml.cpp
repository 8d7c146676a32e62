// tnode.toml text: parsing never crashes; what parses renders back to TOML
// that parses again.
#include <cstdlib>
#include <string_view>

#include "libcore/config/node_config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto c = core::config::parse_node_config(text, "fuzz.toml", "/tmp")) {
    auto again = core::config::parse_node_config(core::config::to_toml(*c), "again.toml", "/tmp");
    if (!again) std::abort();
  }
  return 0;
}
