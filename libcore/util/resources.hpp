#pragma once
// Process and host resources a node depends on (DESIGN.md sections 6 and 10):
// the open-file limit and the budget of descriptors the configured
// connections need, sockets on a port by TCP state (/proc/net/tcp{,6}), and
// the ephemeral port range. Used by tnode at start and by `tpeer-probe local`.
// Linux only. Parsers are pure; the read_* functions read /proc, the fd limit
// functions call getrlimit/setrlimit (process-wide: call them from the main
// thread at start, not while other threads open files).

#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "libcore/util/error.hpp"

namespace core::util {

// ------------------------------------------------------------ open files

// RLIM_INFINITY as reported in FdLimits.
inline constexpr std::uint64_t kFdUnlimited = std::numeric_limits<std::uint64_t>::max();

struct FdLimits {
  std::uint64_t soft = 0;  // RLIMIT_NOFILE soft limit, kFdUnlimited when unlimited
  std::uint64_t hard = 0;  // RLIMIT_NOFILE hard limit, kFdUnlimited when unlimited
};

// Descriptors held besides peer and HTTP sockets. RocksDB keeps every table
// file open (the store uses max_open_files = -1), plus WAL, MANIFEST, LOCK,
// LOG and OPTIONS: 256 covers a store of ~16 GiB at the default 64 MiB table
// size, far more than the chain reaches in its first years.
inline constexpr std::uint64_t kStoreFdReserve = 256;
// stdin/out/err, log files (reopened on SIGHUP, briefly two), epoll, eventfd,
// timerfd and signal descriptors of the event loop, the two listening sockets,
// key/genesis/config reads and resolver sockets: a few each, rounded up.
inline constexpr std::uint64_t kProcessFdReserve = 32;
// What the node will hold open at most. The caller fills in its
// connection limits (tnode.toml's, the handshake cap, the HTTP server's;
// `masternodes`, dialled beyond max_outbound, from the genesis): util
// repeats none of them.
struct FdBudget {
  std::uint64_t max_inbound = 0;
  std::uint64_t max_outbound = 0;
  std::uint64_t masternodes = 0;
  std::uint64_t max_handshakes = 0;
  std::uint64_t http_connections = 0;
  std::uint64_t reserve = kStoreFdReserve + kProcessFdReserve;
};

// The sum of every field of `budget` (saturating at kFdUnlimited).
std::uint64_t required_fds(const FdBudget& budget);

// The current RLIMIT_NOFILE. Fails only if getrlimit fails (with errno text).
Result<FdLimits> current_fd_limits();

// Raises the soft limit to min(wanted, hard) when that is above the current
// soft limit; never lowers it and never touches the hard limit, so no
// privilege is needed. Returns the limits in force afterwards. Fails when
// getrlimit/setrlimit fail (e.g. the kernel's fs.nr_open is below the target
// when the hard limit is unlimited); the message names the target.
Result<FdLimits> raise_fd_soft_limit(std::uint64_t wanted);

// Raises the soft limit to required_fds(budget) and succeeds when it is then
// at least that. Otherwise fails with a message an operator can act on: the
// need broken down by field, the hard limit, and how to raise it or what to
// lower.
Result<void> ensure_fd_capacity(const FdBudget& budget);

// ------------------------------------------------------------ TCP sockets

// Sockets on one port, by state name: ESTABLISHED, SYN_SENT, SYN_RECV,
// FIN_WAIT1, FIN_WAIT2, TIME_WAIT, CLOSE, CLOSE_WAIT, LAST_ACK, LISTEN,
// CLOSING; an unknown state code counts as "UNKNOWN(0xNN)". States with no
// socket are absent.
struct TcpStateCounts {
  std::map<std::string, std::uint64_t> by_state;
  std::uint64_t skipped_lines = 0;  // malformed rows, ignored

  std::uint64_t total() const;
};

// Parses /proc/net/tcp or /proc/net/tcp6 text (a header line starting with
// "sl", then one row per socket: "sl local_address rem_address st ...",
// addresses as hex ip:port) and counts sockets whose local or remote port is
// `port`. Never fails: malformed rows are counted in skipped_lines, blank
// lines and the header are ignored.
TcpStateCounts count_tcp_states(std::string_view proc_net_tcp_text, std::uint16_t port);

// count_tcp_states over <proc_net>/tcp and <proc_net>/tcp6, summed. A missing
// tcp6 (IPv6 disabled) is fine; a missing or unreadable tcp fails naming it.
Result<TcpStateCounts> read_tcp_states(std::uint16_t port, const std::filesystem::path& proc_net = "/proc/net");

// ------------------------------------------------------------ another process

// One TCP socket of /proc/net/tcp{,6}: addresses as "127.0.0.1:24100" or
// "[::1]:24100" (an IPv4-mapped IPv6 address as its IPv4 form).
struct TcpSocket {
  std::string local;
  std::string remote;
  std::uint16_t local_port = 0;
  std::uint16_t remote_port = 0;
  std::string state;  // as in TcpStateCounts
  std::uint64_t inode = 0;
};

// The rows of /proc/net/tcp or tcp6 text whose socket inode (the 10th
// column) is in `inodes`, in file order. Never fails: malformed rows, the
// header and blank lines are skipped.
std::vector<TcpSocket> parse_tcp_sockets(std::string_view proc_net_tcp_text, const std::set<std::uint64_t>& inodes);

// Parses /proc/PID/limits text: the soft and hard columns of its
// "Max open files" row ("unlimited" as kFdUnlimited). Fails naming the row
// when it is missing or not two limits.
Result<FdLimits> parse_proc_fd_limits(std::string_view proc_limits_text);

// What /proc shows of a running process.
struct ProcessResources {
  int pid = 0;
  std::string name;                  // /proc/PID/comm (at most 15 characters)
  std::vector<std::string> cmdline;  // /proc/PID/cmdline, one argument each
  std::filesystem::path cwd;         // /proc/PID/cwd, empty when unreadable
  FdLimits limits;                   // its RLIMIT_NOFILE, from /proc/PID/limits
  std::uint64_t open_fds = 0;        // entries of /proc/PID/fd
  std::vector<TcpSocket> sockets;    // its TCP sockets, IPv4 then IPv6
};

// Reads process `pid` under `proc` (its sockets from its own network
// namespace's PID/net/tcp{,6}). Fails with "process PID: no such process"
// when it does not exist (or has exited meanwhile), with "process PID:
// permission denied reading <path> (...)" when its fd directory or files
// belong to another user, and otherwise naming the file that failed.
Result<ProcessResources> read_process_resources(int pid, const std::filesystem::path& proc = "/proc");

// ------------------------------------------------------------ ephemeral ports

inline constexpr const char* kEphemeralPortRangePath = "/proc/sys/net/ipv4/ip_local_port_range";

// Parses "32768\t60999\n": two port numbers (1..65535) separated by
// whitespace, low <= high. Fails on anything else, quoting the text.
Result<std::pair<std::uint16_t, std::uint16_t>> parse_port_range(std::string_view text);

// Reads and parses the kernel's ephemeral port range; errors name the path.
Result<std::pair<std::uint16_t, std::uint16_t>> read_ephemeral_port_range(
    const std::filesystem::path& path = kEphemeralPortRangePath);

}  // namespace core::util
