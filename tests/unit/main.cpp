#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "libcore/crypto/hash.hpp"

int main(int argc, char** argv) {
  core::crypto::init();
  return Catch::Session().run(argc, argv);
}
