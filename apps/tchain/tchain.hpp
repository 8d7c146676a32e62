#pragma once
// tchain: inspect, verify, export, import and compare chain stores.

#include <cstdint>
#include <string>

#include "common/app.hpp"

namespace tchain {

struct Settings {
  std::string command;  // info | block | headers | verify | export | import | diff | peers | bans
  bool json = false;
  app::StoreLocation store;

  std::string block_id;      // block: height or hash
  std::uint64_t from = 0;    // headers, export: first height
  std::uint64_t count = 20;  // headers: how many
  std::string file;          // export/import: chain file
  std::string genesis_file;  // import: genesis for a new store (default: the file's own)
  std::string a, b;          // diff: two data dirs (or store dirs)
};

int run_tchain(const Settings& s);
int tchain_main(int argc, char** argv);

}  // namespace tchain
