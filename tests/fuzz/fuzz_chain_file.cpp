// Chain files (tchain import input): reading never crashes or over-allocates.
#include <unistd.h>
#include <cstdio>

#include "libcore/crypto/hash.hpp"
#include "libcore/store/chain_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static bool init = (core::crypto::init(), true);
  (void)init;
  static const std::string path = "/tmp/fuzz_chain_file." + std::to_string(::getpid());
  if (std::FILE* f = std::fopen(path.c_str(), "wb")) {
    std::fwrite(data, 1, size, f);
    std::fclose(f);
  }
  if (auto r = core::store::ChainFileReader::open(path)) {
    for (int i = 0; i < 1000; ++i) {
      auto b = r->next();
      if (!b || !*b) break;
    }
  }
  return 0;
}
