#pragma once
// tnode: the masternode network daemon.

#include <optional>
#include <string>
#include <vector>

#include "common/app.hpp"

namespace tnode {

struct Settings {
  std::string config;                  // --config FILE
  std::vector<std::string> overrides;  // --set SECTION.KEY=VALUE, then the shorthand flags
  std::string log_file;                // --log-file FILE
  bool check_config = false;           // --check-config: print the resolved config and exit
};

int run_tnode(const Settings& s);
int tnode_main(int argc, char** argv);

}  // namespace tnode
