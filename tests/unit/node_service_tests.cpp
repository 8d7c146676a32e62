// libcore/node/service: the STATUS line, the pid file, and that the systemd
// notifier stays silent without NOTIFY_SOCKET. The notify protocol itself is
// checked against the real daemon (integration/test_tnode_init_service.py).

#include <catch2/catch.hpp>

#include <unistd.h>

#include <fstream>

#include "libcore/node/service.hpp"
#include "libcore/util/files.hpp"
#include "test_support.hpp"

using Catch::Matchers::Contains;
using core::node::PidFile;

TEST_CASE("service_status names height, peers and masternodes", "[unit][node][service]") {
  CHECK(core::node::service_status(120, 5, 3) == "height 120, 5 peers (3 masternodes)");
  CHECK(core::node::service_status(0, 1, 1) == "height 0, 1 peer (1 masternode)");
  CHECK(core::node::service_status(7, 0, 0) == "height 7, 0 peers (0 masternodes)");
}

TEST_CASE("the notifier is off without NOTIFY_SOCKET", "[unit][node][service]") {
  test::EnvGuard env("NOTIFY_SOCKET", nullptr);
  core::node::ServiceNotifier n;
  CHECK_FALSE(n.enabled());
  n.ready("x");  // does nothing, and does not fail
  n.stopping();
}

TEST_CASE("the pid file holds this process's id while it lives", "[unit][node][service]") {
  test::TempDir dir;
  const auto path = dir / "tnode.pid";
  {
    auto pid = PidFile::create(path);
    REQUIRE(pid);
    auto text = core::util::read_file(path);
    REQUIRE(text);
    CHECK(*text == std::to_string(::getpid()) + "\n");
    auto moved = std::move(*pid);  // the moved-from object removes nothing
  }
  CHECK_FALSE(std::filesystem::exists(path));
}

TEST_CASE("a pid file another process has taken over is left alone", "[unit][node][service]") {
  test::TempDir dir;
  const auto path = dir / "tnode.pid";
  {
    auto pid = PidFile::create(path);
    REQUIRE(pid);
    std::ofstream(path) << "999999\n";
  }
  REQUIRE(std::filesystem::exists(path));
}

TEST_CASE("a pid file that cannot be written names the option and the path", "[unit][node][service]") {
  test::TempDir dir;
  std::ofstream(dir / "not-a-dir") << "x";  // a parent that is a file
  auto pid = PidFile::create(dir / "not-a-dir" / "tnode.pid");
  REQUIRE_FALSE(pid);
  CHECK_THAT(pid.error().message, Contains("--pid-file") && Contains("not-a-dir"));
}
