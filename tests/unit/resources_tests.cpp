// libcore/util/resources: open-file limits and budget, TCP states from
// /proc/net/tcp text, ephemeral port range, another process's resources.
// /proc text is a fixture; one test reads this process's own /proc entry
// with a listening socket on 127.0.0.1 open.

#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "libcore/util/resources.hpp"
#include "test_support.hpp"

using Catch::Matchers::Contains;
using core::util::FdBudget;
using core::util::FdLimits;
using core::util::kFdUnlimited;
using test::error_of;

namespace {

// Port 24100 is 0x5E24. Rows on it: LISTEN, ESTABLISHED as local and as
// remote port, TIME_WAIT; rows on 22 and 8080 must not count.
const std::string kTcp4 =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    "   0: 00000000:5E24 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 41001 1 "
    "0000000000000000 100 0 0 10 0\n"
    "   1: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1594 1 "
    "0000000000000000 100 0 0 10 0\n"
    "   2: 0100007F:5E24 0100007F:A1B2 01 00000000:00000000 02:000A7D8C 00000000  1000        0 41002 1 "
    "0000000000000000 20 4 30 10 -1\n"
    "   3: 0100007F:C350 0100007F:5E24 01 00000000:00000000 02:000A7D8C 00000000  1000        0 41003 1 "
    "0000000000000000 20 4 30 10 -1\n"
    "   4: 0100007F:C351 0100007F:5E24 06 00000000:00000000 03:00001734 00000000     0        0 0 3 "
    "0000000000000000\n"
    "   5: 0A00000F:0016 0A000001:D000 01 00000000:00000000 02:000A7D8C 00000000     0        0 1700 1 "
    "0000000000000000 20 4 30 10 -1\n"
    "   6: this line is not a socket\n"
    "\n";

const std::string kTcp6 =
    "  sl  local_address                         remote_address                        st tx_queue rx_queue tr "
    "tm->when retrnsmt   uid  timeout inode\n"
    "   0: 00000000000000000000000000000000:5E24 00000000000000000000000000000000:0000 0A 00000000:00000000 "
    "00:00000000 00000000  1000        0 41010 1 0000000000000000 100 0 0 10 0\n"
    "   1: 0000000000000000FFFF00000100007F:5E24 0000000000000000FFFF00000100007F:B000 01 00000000:00000000 "
    "02:000A7D8C 00000000  1000        0 41011 1 0000000000000000 20 4 30 10 -1\n"
    "   2: 0000000000000000FFFF00000100007F:1F90 0000000000000000FFFF00000100007F:B001 08 00000000:00000000 "
    "00:00000000 00000000  1000        0 41012 1 0000000000000000 20 4 30 10 -1\n"
    "   3: 000000000000FFFF0100007F:5E24 00000000000000000000000000000000:0000 0A 00000000:00000000\n";

// Restores the soft RLIMIT_NOFILE a test raised, so tests stay independent.
class SoftFdLimitGuard {
 public:
  SoftFdLimitGuard() { ::getrlimit(RLIMIT_NOFILE, &saved_); }
  ~SoftFdLimitGuard() {
    rlimit now{};
    if (::getrlimit(RLIMIT_NOFILE, &now) == 0) {
      now.rlim_cur = saved_.rlim_cur;
      ::setrlimit(RLIMIT_NOFILE, &now);
    }
  }
  SoftFdLimitGuard(const SoftFdLimitGuard&) = delete;
  SoftFdLimitGuard& operator=(const SoftFdLimitGuard&) = delete;

 private:
  rlimit saved_{};
};

}  // namespace

// ---------------------------------------------------------------- TCP states

TEST_CASE("count_tcp_states counts IPv4 sockets on the port by state", "[unit][util][resources]") {
  auto counts = core::util::count_tcp_states(kTcp4, 24100);
  CHECK(counts.by_state.at("LISTEN") == 1);
  CHECK(counts.by_state.at("ESTABLISHED") == 2);  // local port 24100, and remote port 24100
  CHECK(counts.by_state.at("TIME_WAIT") == 1);
  CHECK(counts.by_state.size() == 3);
  CHECK(counts.total() == 4);
  CHECK(counts.skipped_lines == 1);

  auto ssh = core::util::count_tcp_states(kTcp4, 22);
  CHECK(ssh.by_state.at("LISTEN") == 1);
  CHECK(ssh.by_state.at("ESTABLISHED") == 1);
  CHECK(ssh.total() == 2);

  CHECK(core::util::count_tcp_states(kTcp4, 9).total() == 0);
}

TEST_CASE("count_tcp_states reads IPv6 rows and skips malformed ones", "[unit][util][resources]") {
  auto counts = core::util::count_tcp_states(kTcp6, 24100);
  CHECK(counts.by_state.at("LISTEN") == 1);
  CHECK(counts.by_state.at("ESTABLISHED") == 1);
  CHECK(counts.total() == 2);
  CHECK(counts.skipped_lines == 1);  // 24-digit address

  auto http = core::util::count_tcp_states(kTcp6, 8080);
  CHECK(http.by_state.at("CLOSE_WAIT") == 1);
}

TEST_CASE("count_tcp_states never fails on bad text", "[unit][util][resources]") {
  using core::util::count_tcp_states;
  CHECK(count_tcp_states("", 24100).total() == 0);
  CHECK(count_tcp_states("", 24100).skipped_lines == 0);
  auto bad = count_tcp_states(
      "   0: 0100007F:5E24 0100007F:A1B2\n"        // no state
      "   1: 0100007F:5E2 0100007F:A1B2 01\n"      // 3-digit port
      "   2: 0100007G:5E24 0100007F:A1B2 01\n"     // not hex
      "   3 0100007F:5E24 0100007F:A1B2 01\n"      // no colon after sl
      "   4: 0100007F:5E24 0100007F:A1B2 1\n"      // 1-digit state
      "   5: 0100007F5E24 0100007F:A1B2 01\n"      // no colon in address
      "   6: 0100007F:5E24 0100007F:A1B2 0C\r\n",  // unknown state, CRLF: counted
      24100);
  CHECK(bad.skipped_lines == 6);
  CHECK(bad.by_state.at("UNKNOWN(0x0C)") == 1);
  CHECK(bad.total() == 1);
}

TEST_CASE("read_tcp_states sums tcp and tcp6 and tolerates a missing tcp6", "[unit][util][resources]") {
  test::TempDir dir;
  test::write_text(dir / "tcp", kTcp4);
  auto v4_only = core::util::read_tcp_states(24100, dir.path());
  REQUIRE(v4_only.has_value());
  CHECK(v4_only->total() == 4);
  CHECK(v4_only->skipped_lines == 1);

  test::write_text(dir / "tcp6", kTcp6);
  auto both = core::util::read_tcp_states(24100, dir.path());
  REQUIRE(both.has_value());
  CHECK(both->by_state.at("LISTEN") == 2);
  CHECK(both->by_state.at("ESTABLISHED") == 3);
  CHECK(both->by_state.at("TIME_WAIT") == 1);
  CHECK(both->skipped_lines == 2);

  test::TempDir empty;
  CHECK_THAT(error_of(core::util::read_tcp_states(24100, empty.path())), Contains("tcp"));

  // The real /proc is readable (no sockets are opened here).
  CHECK(core::util::read_tcp_states(24100).has_value());
}

// ---------------------------------------------------------------- another process

TEST_CASE("parse_tcp_sockets keeps the rows of the given inodes, with addresses", "[unit][util][resources]") {
  auto v4 = core::util::parse_tcp_sockets(kTcp4, {41001, 41002, 99999});
  REQUIRE(v4.size() == 2);
  CHECK((v4[0].local == "0.0.0.0:24100" && v4[0].remote == "0.0.0.0:0" && v4[0].state == "LISTEN"));
  CHECK((v4[0].local_port == 24100 && v4[0].inode == 41001));
  CHECK((v4[1].local == "127.0.0.1:24100" && v4[1].remote == "127.0.0.1:41394" && v4[1].state == "ESTABLISHED"));
  CHECK(v4[1].remote_port == 41394);
  // IPv6, an IPv4-mapped address shown as IPv4; the malformed row 3 is skipped.
  auto v6 = core::util::parse_tcp_sockets(kTcp6, {41010, 41011, 41012});
  REQUIRE(v6.size() == 3);
  CHECK((v6[0].local == "[::]:24100" && v6[0].state == "LISTEN"));
  CHECK((v6[1].local == "127.0.0.1:24100" && v6[1].remote == "127.0.0.1:45056" && v6[1].state == "ESTABLISHED"));
  CHECK(v6[2].state == "CLOSE_WAIT");
  CHECK(core::util::parse_tcp_sockets(kTcp4, {}).empty());
  CHECK(core::util::parse_tcp_sockets("garbage\n\n", {41001}).empty());
}

TEST_CASE("parse_proc_fd_limits reads the Max open files row", "[unit][util][resources]") {
  const std::string text =
      "Limit                     Soft Limit           Hard Limit           Units     \n"
      "Max processes             127431               127431               processes \n"
      "Max open files            1024                 524288               files     \n"
      "Max locked memory         8388608              8388608              bytes     \n";
  auto limits = core::util::parse_proc_fd_limits(text);
  REQUIRE(limits.has_value());
  CHECK((limits->soft == 1024 && limits->hard == 524288));
  auto unlimited = core::util::parse_proc_fd_limits("Max open files            unlimited            unlimited files\n");
  REQUIRE(unlimited.has_value());
  CHECK((unlimited->soft == kFdUnlimited && unlimited->hard == kFdUnlimited));
  CHECK_THAT(error_of(core::util::parse_proc_fd_limits("Max processes 1 2 processes\n")), Contains("Max open files"));
  CHECK_THAT(error_of(core::util::parse_proc_fd_limits("Max open files  many  4096  files\n")), Contains("many  4096"));
}

TEST_CASE("read_process_resources sees this process's limits, descriptors and listening socket",
          "[unit][util][resources]") {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  const bool listening = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 && ::listen(fd, 1) == 0 &&
                         ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  const auto port = ntohs(addr.sin_port);
  auto r = core::util::read_process_resources(::getpid());
  ::close(fd);
  REQUIRE(listening);
  INFO((r ? std::string() : r.error().message));
  REQUIRE(r.has_value());
  CHECK(r->pid == ::getpid());
  // comm: the executable's name, cut to 15 characters.
  CHECK(r->name == std::filesystem::read_symlink("/proc/self/exe").filename().string().substr(0, 15));
  CHECK(!r->cmdline.empty());
  auto own = core::util::current_fd_limits();
  REQUIRE(own.has_value());
  CHECK((r->limits.soft == own->soft && r->limits.hard == own->hard));
  CHECK(r->open_fds >= 4);  // stdin/out/err and the socket
  const std::string wanted = "127.0.0.1:" + std::to_string(port);
  bool found = false;
  for (const auto& sock : r->sockets) found = found || (sock.local == wanted && sock.state == "LISTEN");
  CHECK(found);
}

TEST_CASE("read_process_resources names a process that does not exist", "[unit][util][resources]") {
  test::TempDir proc;
  CHECK(error_of(core::util::read_process_resources(123, proc.path())) == "process 123: no such process");
  CHECK(error_of(core::util::read_process_resources(0)) == "process 0: no such process");
  // A process without a readable limits file (a fake /proc entry).
  std::filesystem::create_directories(proc / "77");
  test::write_text(proc / "77" / "comm", "tnode\n");
  CHECK_THAT(error_of(core::util::read_process_resources(77, proc.path())), Contains("process 77"));
}

// ---------------------------------------------------------------- port range

TEST_CASE("parse_port_range reads the kernel's format", "[unit][util][resources]") {
  using core::util::parse_port_range;
  CHECK(parse_port_range("32768\t60999\n").value() == std::pair<std::uint16_t, std::uint16_t>{32768, 60999});
  CHECK(parse_port_range("1024 65535").value() == std::pair<std::uint16_t, std::uint16_t>{1024, 65535});
  CHECK(parse_port_range("  40000   40000  \n").value() == std::pair<std::uint16_t, std::uint16_t>{40000, 40000});
}

TEST_CASE("parse_port_range refuses bad ranges, quoting the text", "[unit][util][resources]") {
  using core::util::parse_port_range;
  CHECK_THAT(error_of(parse_port_range("60999\t32768\n")), Contains("low port is above high port"));
  CHECK_THAT(error_of(parse_port_range("abc def")), Contains("\"abc def\""));
  CHECK_THAT(error_of(parse_port_range("32768")), Contains("two port numbers"));
  CHECK_THAT(error_of(parse_port_range("")), Contains("two port numbers"));
  CHECK_THAT(error_of(parse_port_range("1 2 3")), Contains("two port numbers"));
  CHECK_THAT(error_of(parse_port_range("-1 100")), Contains("not a number"));
  CHECK_THAT(error_of(parse_port_range("32768x 60999")), Contains("not a number"));
  CHECK_THAT(error_of(parse_port_range("32768 65536")), Contains("between 1 and 65535"));
  CHECK_THAT(error_of(parse_port_range("0 100")), Contains("between 1 and 65535"));
  CHECK_THAT(error_of(parse_port_range("1 99999999999999999999")), Contains("not a number"));
}

TEST_CASE("read_ephemeral_port_range names the file", "[unit][util][resources]") {
  test::TempDir dir;
  test::write_text(dir / "range", "32768\t60999\n");
  CHECK(core::util::read_ephemeral_port_range(dir / "range").value().first == 32768);
  test::write_text(dir / "bad", "nonsense\n");
  CHECK_THAT(error_of(core::util::read_ephemeral_port_range(dir / "bad")), Contains((dir / "bad").string()));
  CHECK_THAT(error_of(core::util::read_ephemeral_port_range(dir / "missing")), Contains("missing"));
}

// ---------------------------------------------------------------- fd budget

TEST_CASE("required_fds sums connections and the reserve", "[unit][util][resources]") {
  using core::util::required_fds;
  // Nothing but the reserve by default: the caller gives its limits.
  CHECK(required_fds(FdBudget{}) == core::util::kStoreFdReserve + core::util::kProcessFdReserve);
  CHECK(FdBudget{}.reserve == core::util::kStoreFdReserve + core::util::kProcessFdReserve);

  FdBudget b;
  b.max_inbound = 100;
  b.max_outbound = 10;
  b.masternodes = 5;
  b.max_handshakes = 20;
  b.http_connections = 8;
  b.reserve = 300;
  CHECK(required_fds(b) == 443);

  b.reserve = kFdUnlimited - 10;
  CHECK(required_fds(b) == kFdUnlimited);  // saturates, never wraps
}

// ---------------------------------------------------------------- fd limits

TEST_CASE("current_fd_limits reports soft <= hard", "[unit][util][resources]") {
  auto limits = core::util::current_fd_limits();
  REQUIRE(limits.has_value());
  CHECK(limits->soft > 0);
  CHECK(limits->soft <= limits->hard);
}

TEST_CASE("raise_fd_soft_limit never lowers and is capped at the hard limit", "[unit][util][resources]") {
  SoftFdLimitGuard restore;
  FdLimits before = core::util::current_fd_limits().value();

  auto same = core::util::raise_fd_soft_limit(1);
  REQUIRE(same.has_value());
  CHECK(same->soft == before.soft);
  CHECK(same->hard == before.hard);
  CHECK(core::util::current_fd_limits().value().soft == before.soft);

  if (before.hard == kFdUnlimited) {
    if (before.soft == kFdUnlimited) {
      WARN("soft and hard open-file limits are unlimited: nothing to raise");
      return;
    }
    // No cap to hit; a modest raise must land exactly.
    auto raised = core::util::raise_fd_soft_limit(before.soft + 16);
    REQUIRE(raised.has_value());
    CHECK(raised->soft == before.soft + 16);
    CHECK(raised->hard == kFdUnlimited);
    WARN("hard open-file limit is unlimited: the cap at the hard limit was not exercised");
    return;
  }
  auto capped = core::util::raise_fd_soft_limit(before.hard + 1000);
  REQUIRE(capped.has_value());
  CHECK(capped->soft == before.hard);
  CHECK(capped->hard == before.hard);
  CHECK(core::util::current_fd_limits().value().soft == before.hard);
}

TEST_CASE("ensure_fd_capacity passes a small budget", "[unit][util][resources]") {
  SoftFdLimitGuard restore;
  FdBudget small;
  small.max_inbound = 0;
  small.max_outbound = 0;
  small.masternodes = 0;
  small.max_handshakes = 0;
  small.http_connections = 0;
  small.reserve = 1;
  CHECK(core::util::ensure_fd_capacity(small).has_value());
}

TEST_CASE("ensure_fd_capacity names the hard limit when it is too low", "[unit][util][resources]") {
  SoftFdLimitGuard restore;
  FdLimits limits = core::util::current_fd_limits().value();
  if (limits.hard == kFdUnlimited) {
    WARN("hard open-file limit is unlimited: cannot ask for more than it, assertion skipped");
    return;
  }
  FdBudget big;  // tnode.toml's defaults, plus a reserve that alone exceeds the hard limit
  big.max_inbound = 64;
  big.max_outbound = 8;
  big.reserve = limits.hard + 1;
  const std::uint64_t need = core::util::required_fds(big);
  auto message = error_of(core::util::ensure_fd_capacity(big));
  CHECK_THAT(message, Contains("need " + std::to_string(need) + " open files"));
  CHECK_THAT(message, Contains("max_inbound=64 + max_outbound=8"));
  CHECK_THAT(message, Contains("reserve=" + std::to_string(limits.hard + 1)));
  CHECK_THAT(message, Contains("the hard limit is " + std::to_string(limits.hard)));
  CHECK_THAT(message, Contains("ulimit -Hn / LimitNOFILE="));
  CHECK_THAT(message, Contains("lower network.max_inbound"));
  // Even when failing, the soft limit went as far as it could.
  CHECK(core::util::current_fd_limits().value().soft == limits.hard);
}
