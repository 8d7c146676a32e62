#include "libcore/util/resources.hpp"

#include <arpa/inet.h>
#include <sys/resource.h>
#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <system_error>
#include <vector>

#include "libcore/util/files.hpp"

namespace core::util {

namespace {

std::uint64_t from_rlim(rlim_t v) { return v == RLIM_INFINITY ? kFdUnlimited : static_cast<std::uint64_t>(v); }

rlim_t to_rlim(std::uint64_t v) { return v == kFdUnlimited ? RLIM_INFINITY : static_cast<rlim_t>(v); }

std::string limit_text(std::uint64_t v) { return v == kFdUnlimited ? "unlimited" : std::to_string(v); }

std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) { return b > kFdUnlimited - a ? kFdUnlimited : a + b; }

Result<rlimit> get_nofile() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0)
    return fail(std::string("getrlimit(RLIMIT_NOFILE): ") + std::strerror(errno));
  return rl;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Whitespace-separated tokens of `line`, at most `max` of them.
std::vector<std::string_view> tokens(std::string_view line, std::size_t max) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (out.size() < max) {
    while (i < line.size() && is_space(line[i])) ++i;
    if (i == line.size()) break;
    std::size_t start = i;
    while (i < line.size() && !is_space(line[i])) ++i;
    out.push_back(line.substr(start, i - start));
  }
  return out;
}

// An unsigned number that is the whole of `text` (no sign, no prefix).
template <typename T>
bool parse_whole(std::string_view text, int base, T& out) {
  if (text.empty()) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out, base);
  return ec == std::errc() && ptr == text.data() + text.size();
}

// "0100007F:5DC4" (IPv4) or 32 hex digits ":" port (IPv6) -> port.
bool parse_endpoint_port(std::string_view endpoint, std::uint16_t& port) {
  auto colon = endpoint.find(':');
  if (colon == std::string_view::npos) return false;
  std::string_view ip = endpoint.substr(0, colon);
  std::string_view port_hex = endpoint.substr(colon + 1);
  if (ip.size() != 8 && ip.size() != 32) return false;
  if (!std::all_of(ip.begin(), ip.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }))
    return false;
  return port_hex.size() == 4 && parse_whole(port_hex, 16, port);
}

// Kernel TCP state codes (include/net/tcp_states.h), 1-based.
constexpr std::array<const char*, 11> kTcpStateNames = {"ESTABLISHED", "SYN_SENT",  "SYN_RECV", "FIN_WAIT1",
                                                        "FIN_WAIT2",   "TIME_WAIT", "CLOSE",    "CLOSE_WAIT",
                                                        "LAST_ACK",    "LISTEN",    "CLOSING"};

std::string tcp_state_name(unsigned code) {
  if (code >= 1 && code <= kTcpStateNames.size()) return kTcpStateNames[code - 1];
  static constexpr char kHex[] = "0123456789ABCDEF";
  return std::string("UNKNOWN(0x") + kHex[(code >> 4) & 0xF] + kHex[code & 0xF] + ")";
}

// "0100007F:5DC4" -> "127.0.0.1:24004"; 32 hex digits -> "[::1]:port". The
// kernel prints each 32-bit word of the address as a host-order integer.
bool parse_endpoint(std::string_view endpoint, std::string& out, std::uint16_t& port) {
  if (!parse_endpoint_port(endpoint, port)) return false;
  const std::string_view hex = endpoint.substr(0, endpoint.find(':'));
  unsigned char bytes[16];
  for (std::size_t word = 0; word < hex.size() / 8; ++word) {
    std::uint32_t v = 0;
    if (!parse_whole(hex.substr(word * 8, 8), 16, v)) return false;
    std::memcpy(bytes + word * 4, &v, 4);
  }
  char text[INET6_ADDRSTRLEN] = {};
  static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
  if (hex.size() == 8 || std::memcmp(bytes, kMapped, 12) == 0) {
    ::inet_ntop(AF_INET, hex.size() == 8 ? bytes : bytes + 12, text, sizeof text);
    out = std::string(text) + ":" + std::to_string(port);
  } else {
    ::inet_ntop(AF_INET6, bytes, text, sizeof text);
    out = "[" + std::string(text) + "]:" + std::to_string(port);
  }
  return true;
}

void merge_into(TcpStateCounts& into, const TcpStateCounts& from) {
  for (const auto& [state, n] : from.by_state) into.by_state[state] += n;
  into.skipped_lines += from.skipped_lines;
}

}  // namespace

// ------------------------------------------------------------ open files

std::uint64_t required_fds(const FdBudget& b) {
  std::uint64_t sum = 0;
  for (std::uint64_t part :
       {b.max_inbound, b.max_outbound, b.masternodes, b.max_handshakes, b.http_connections, b.reserve})
    sum = saturating_add(sum, part);
  return sum;
}

Result<FdLimits> current_fd_limits() {
  auto rl = get_nofile();
  if (!rl) return tl::unexpected(rl.error());
  return FdLimits{from_rlim(rl->rlim_cur), from_rlim(rl->rlim_max)};
}

Result<FdLimits> raise_fd_soft_limit(std::uint64_t wanted) {
  auto rl = get_nofile();
  if (!rl) return tl::unexpected(rl.error());
  FdLimits now{from_rlim(rl->rlim_cur), from_rlim(rl->rlim_max)};
  std::uint64_t target = std::min(wanted, now.hard);
  if (target <= now.soft) return now;
  rlimit next = *rl;  // the hard limit stays as it is: lowering it is irreversible
  next.rlim_cur = to_rlim(target);
  if (::setrlimit(RLIMIT_NOFILE, &next) != 0)
    return fail("cannot raise the open-file soft limit from " + limit_text(now.soft) + " to " + limit_text(target) +
                ": setrlimit: " + std::strerror(errno));
  return current_fd_limits();
}

Result<void> ensure_fd_capacity(const FdBudget& b) {
  const std::uint64_t need = required_fds(b);
  const std::string breakdown =
      "max_inbound=" + std::to_string(b.max_inbound) + " + max_outbound=" + std::to_string(b.max_outbound) +
      " + masternodes=" + std::to_string(b.masternodes) + " + handshakes=" + std::to_string(b.max_handshakes) +
      " + http=" + std::to_string(b.http_connections) + " + reserve=" + std::to_string(b.reserve);
  auto limits = raise_fd_soft_limit(need);
  if (!limits)
    return fail("need " + std::to_string(need) + " open files for " + breakdown + ": " + limits.error().message);
  if (limits->soft >= need) return {};
  // A successful raise reaches min(need, hard), so here the hard limit is short.
  return fail("need " + std::to_string(need) + " open files for " + breakdown + ", the hard limit is " +
              limit_text(limits->hard) + ": raise it (ulimit -Hn / LimitNOFILE=) or lower network.max_inbound");
}

// ------------------------------------------------------------ TCP sockets

std::uint64_t TcpStateCounts::total() const {
  std::uint64_t sum = 0;
  for (const auto& entry : by_state) sum += entry.second;
  return sum;
}

TcpStateCounts count_tcp_states(std::string_view text, std::uint16_t port) {
  TcpStateCounts counts;
  while (!text.empty()) {
    auto eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);

    auto fields = tokens(line, 4);
    if (fields.empty()) continue;
    if (fields[0] == "sl") continue;  // header
    std::uint16_t local_port = 0;
    std::uint16_t remote_port = 0;
    unsigned state = 0;
    if (fields.size() < 4 || fields[0].back() != ':' || !parse_endpoint_port(fields[1], local_port) ||
        !parse_endpoint_port(fields[2], remote_port) || fields[3].size() != 2 || !parse_whole(fields[3], 16, state)) {
      ++counts.skipped_lines;
      continue;
    }
    if (local_port == port || remote_port == port) ++counts.by_state[tcp_state_name(state)];
  }
  return counts;
}

Result<TcpStateCounts> read_tcp_states(std::uint16_t port, const std::filesystem::path& proc_net) {
  // /proc files report size 0, so read_file's size cap does not bound them;
  // a host with very many sockets still yields only a few MiB here.
  auto v4 = read_file(proc_net / "tcp");
  if (!v4) return tl::unexpected(v4.error());
  TcpStateCounts counts = count_tcp_states(*v4, port);
  std::error_code ec;
  if (std::filesystem::exists(proc_net / "tcp6", ec)) {
    auto v6 = read_file(proc_net / "tcp6");
    if (!v6) return tl::unexpected(v6.error());
    merge_into(counts, count_tcp_states(*v6, port));
  }
  return counts;
}

// ------------------------------------------------------------ another process

std::vector<TcpSocket> parse_tcp_sockets(std::string_view text, const std::set<std::uint64_t>& inodes) {
  std::vector<TcpSocket> out;
  while (!text.empty()) {
    auto eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
    // sl local rem st tx:rx tr:when retrnsmt uid timeout inode
    auto fields = tokens(line, 10);
    TcpSocket s;
    unsigned state = 0;
    if (fields.size() < 10 || fields[0].back() != ':' || !parse_whole(fields[9], 10, s.inode) ||
        !inodes.count(s.inode) || !parse_endpoint(fields[1], s.local, s.local_port) ||
        !parse_endpoint(fields[2], s.remote, s.remote_port) || fields[3].size() != 2 ||
        !parse_whole(fields[3], 16, state))
      continue;
    s.state = tcp_state_name(state);
    out.push_back(std::move(s));
  }
  return out;
}

Result<FdLimits> parse_proc_fd_limits(std::string_view text) {
  constexpr std::string_view kRow = "Max open files";
  const auto at = text.find(kRow);
  if (at == std::string_view::npos) return fail("no \"Max open files\" row");
  std::string_view rest = text.substr(at + kRow.size());
  auto fields = tokens(rest.substr(0, rest.find('\n')), 3);
  FdLimits limits;
  auto parse = [](std::string_view f, std::uint64_t& v) {
    if (f == "unlimited") {
      v = kFdUnlimited;
      return true;
    }
    return parse_whole(f, 10, v);
  };
  if (fields.size() < 2 || !parse(fields[0], limits.soft) || !parse(fields[1], limits.hard))
    return fail("\"Max open files\" row is not \"SOFT HARD files\": \"" + std::string(rest.substr(0, rest.find('\n'))) +
                "\"");
  return limits;
}

namespace {
// The error for a failed read of `path`, a file of process `pid`.
Error process_error(int pid, const std::filesystem::path& path, const std::error_code& ec) {
  const std::string who = "process " + std::to_string(pid) + ": ";
  if (ec == std::errc::no_such_file_or_directory || ec == std::errc::no_such_process)
    return Error{who + "no such process"};
  if (ec == std::errc::permission_denied || ec == std::errc::operation_not_permitted)
    return Error{who + "permission denied reading " + path.string() +
                 " (run as the user the node runs as, or as root)"};
  return Error{who + path.string() + ": " + ec.message()};
}

// A small /proc file, read whole (its size is reported as 0).
Result<std::string> read_proc_file(int pid, const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return tl::unexpected(process_error(pid, path, std::error_code(errno, std::generic_category())));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return tl::unexpected(process_error(pid, path, std::error_code(errno, std::generic_category())));
  return text;
}
}  // namespace

Result<ProcessResources> read_process_resources(int pid, const std::filesystem::path& proc) {
  namespace fs = std::filesystem;
  const fs::path dir = proc / std::to_string(pid);
  std::error_code ec;
  if (pid <= 0 || !fs::is_directory(dir, ec)) return fail("process " + std::to_string(pid) + ": no such process");
  ProcessResources r;
  r.pid = pid;
  auto comm = read_proc_file(pid, dir / "comm");
  if (!comm) return tl::unexpected(comm.error());
  r.name = comm->substr(0, comm->find('\n'));
  if (auto cmdline = read_proc_file(pid, dir / "cmdline")) {
    for (std::size_t i = 0; i < cmdline->size();) {
      const auto end = std::min(cmdline->find('\0', i), cmdline->size());
      r.cmdline.push_back(cmdline->substr(i, end - i));
      i = end + 1;
    }
  }
  r.cwd = fs::read_symlink(dir / "cwd", ec);
  if (ec) r.cwd.clear();
  auto limits_text = read_proc_file(pid, dir / "limits");
  if (!limits_text) return tl::unexpected(limits_text.error());
  auto limits = parse_proc_fd_limits(*limits_text);
  if (!limits) return tl::unexpected(limits.error().context((dir / "limits").string() + ": "));
  r.limits = *limits;

  std::set<std::uint64_t> inodes;
  fs::directory_iterator it(dir / "fd", ec);
  if (ec) return tl::unexpected(process_error(pid, dir / "fd", ec));
  while (it != fs::directory_iterator()) {
    ++r.open_fds;
    // "socket:[12345]"; a descriptor closed meanwhile is simply not a socket.
    std::error_code link_ec;
    const std::string target = fs::read_symlink(it->path(), link_ec).string();
    std::uint64_t inode = 0;
    if (!link_ec && target.rfind("socket:[", 0) == 0 && target.back() == ']' &&
        parse_whole(std::string_view(target).substr(8, target.size() - 9), 10, inode))
      inodes.insert(inode);
    it.increment(ec);
    if (ec) return tl::unexpected(process_error(pid, dir / "fd", ec));
  }
  for (const char* table : {"tcp", "tcp6"}) {
    const fs::path path = dir / "net" / table;
    if (std::string(table) == "tcp6" && !fs::exists(path, ec)) continue;  // IPv6 disabled
    auto text = read_proc_file(pid, path);
    if (!text) return tl::unexpected(text.error());
    for (auto& s : parse_tcp_sockets(*text, inodes)) r.sockets.push_back(std::move(s));
  }
  return r;
}

// ------------------------------------------------------------ ephemeral ports

Result<std::pair<std::uint16_t, std::uint16_t>> parse_port_range(std::string_view text) {
  auto quoted = [&] { return "\"" + std::string(text) + "\""; };
  auto fields = tokens(text, 3);
  if (fields.size() != 2) return fail("port range " + quoted() + ": expected two port numbers \"LOW HIGH\"");
  std::uint32_t low = 0;
  std::uint32_t high = 0;
  if (!parse_whole(fields[0], 10, low) || !parse_whole(fields[1], 10, high))
    return fail("port range " + quoted() + ": not a number");
  if (low < 1 || low > 65535 || high < 1 || high > 65535)
    return fail("port range " + quoted() + ": ports must be between 1 and 65535");
  if (low > high) return fail("port range " + quoted() + ": low port is above high port");
  return std::pair{static_cast<std::uint16_t>(low), static_cast<std::uint16_t>(high)};
}

Result<std::pair<std::uint16_t, std::uint16_t>> read_ephemeral_port_range(const std::filesystem::path& path) {
  auto text = read_file(path);
  if (!text) return tl::unexpected(text.error());
  auto range = parse_port_range(*text);
  if (!range) return tl::unexpected(range.error().context(path.string() + ": "));
  return range;
}

}  // namespace core::util
