// hostile_peer: a peer that speaks the real wire protocol (libcore/node/wire)
// and breaks its rules on purpose, for the hostile scenarios (TESTING.md,
// "Hostile"; DESIGN.md sections 5, 6 and 11). Not installed.
//
//   hostile_peer --config tnode.toml --connect HOST:PORT --mode MODE [options]
//
// Common options:
//   --config F          a node's tnode.toml: its genesis file gives the network
//                       (name, magic, genesis hash, slot schedule) and its
//                       max_message_size bounds what we read. Its key is not used.
//   --connect H:P       the node under attack (loopback addresses only)
//   --bind IP           source address of every connection (loopback only,
//                       e.g. 127.0.0.5); default: the system's choice
//   --key-file F        the identity of every connection (a key file, mode 0600)
//   --random-key        a fresh Ed25519 key for every connection, reconnections too
//                       (default: a fresh key per concurrent connection, kept
//                       when that connection reconnects)
//   --count N           N concurrent connections (default 1)
//   --listen-port P     the listen port put in Hello (default 0: none)
//   --seconds S         stop after S seconds (default 0: when every connection
//                       has ended; SIGTERM/SIGINT stop it at any time, a second
//                       signal exits at once). Stopping closes every open
//                       connection at once, without a Reject.
//   --json              events go to stderr; stdout holds one JSON document,
//                       the summary
// Modes (each a function below, registered in kModes):
//   claim       handshake claiming --claim-height H (default 1e9) with a random
//               best hash; answers pings, never GetHeaders/GetBlocks; with
//               --announce, a NewBlock of a random unsigned header at a huge
//               height every second.
//   gossip      after the handshake, sends --addresses N made-up addresses
//               (127.200-249.x.y, ports 1024 up to the ephemeral range: none
//               reachable) in unsolicited Peers messages of at most
//               kMaxPeersPerMessage, --rate R messages/s (default 10);
//               --tag-id HEX --tag-count K tags K of them with that node id
//               and role masternode. GetPeers is answered with the first batch.
//   violate     handshake, one frame with a bad checksum, wait for the close
//               (at most kViolationWait); --times N rounds, reconnecting.
//   hijack      violate from --bind IP announcing --listen-port P (required):
//               the port of an honest peer on that IP, whose address book
//               entry the misbehaviour might be charged to.
//   far-future  handshake, then --times N NewBlocks, each an unsigned header
//               on genesis (--parent tip: on the node's announced tip) at a
//               slot --ahead S seconds (default 3600) in the future, with the
//               slot's scheduled producer and a timestamp inside the slot, so
//               every check before the clock's passes; --headers sends them
//               as one unsolicited Headers message (a chain) instead.
//   ping-flood  handshake with a small receive buffer (SO_RCVBUF), then Pings
//               as fast as the node takes them, never reading. "sent <n>
//               pings" counts what was written into our socket (the last
//               few MB may still sit in our kernel's send buffer). Once a
//               write fails, the node's Reject is looked for behind the
//               Pongs left in our receive buffer.
//   half-frame  before any handshake, a frame header with the right magic
//               announcing --frame-bytes B (default 4 MiB), half of that
//               payload, then silence until the node closes or --seconds.
// Output (stdout, one flushed line per event, for scenario scripts; see
// tests/integration/hostile.py):
//   opened conn=<c> from=<ip:port>              TCP connection <c> is up
//   connected <our id> conn=<c> peer=<their id> handshake done
//   fail <label> (<detail>) conn=<c>            connect or handshake failed
//                                               ("refused", "rejected:banned")
//   closed: <reason> (<detail>) conn=<c> t=<s>  the connection ended <s>
//       seconds after it opened: a Reject's code ("bad_checksum",
//       "slow_peer"), "eof" (closed without a reason), "reset", or
//       "kept_open" (violate: the node did not close it in time)
//   sent <n> <what> conn=<c>                    <n> so far on that connection
//   got <message type> conn=<c>
//   note <text>
//   summary {json}                              last line: counts by reason,
//       and every connection's record
// Exit status: 0 when it ran as asked (the node closing connections is the
// expected outcome of most modes), 1 when no TCP connection could be made at
// all (or an internal error), 2 on usage or configuration errors.

#include <sodium.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <functional>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include "common/app.hpp"
#include "libcore/chain/block.hpp"
#include "libcore/chain/genesis.hpp"
#include "libcore/chain/schedule.hpp"
#include "libcore/config/node_config.hpp"
#include "libcore/crypto/hash.hpp"
#include "libcore/crypto/keys.hpp"
#include "libcore/node/wire.hpp"
#include "libcore/p2p/frame.hpp"
#include "libcore/p2p/handshake.hpp"
#include "libcore/p2p/messages.hpp"
#include "libcore/util/time.hpp"

namespace {

namespace asio = boost::asio;
namespace chain = core::chain;
namespace crypto = core::crypto;
namespace p2p = core::p2p;
using core::node::Failure;
using core::node::FailureKind;
using core::node::WireStream;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr auto kConnectTimeout = std::chrono::seconds(10);
constexpr auto kHandshakeTimeout = std::chrono::seconds(10);
// How long violate/hijack wait for the node to close after the bad frame.
constexpr auto kViolationWait = std::chrono::seconds(5);
constexpr auto kAnnounceInterval = std::chrono::seconds(1);
// ping-flood: the receive buffer asked for (the kernel doubles it and has a
// floor), pings per write, how often progress is printed, and how long to
// look for the node's Reject once a write failed.
constexpr int kFloodReceiveBuffer = 4096;
constexpr std::size_t kPingsPerWrite = 256;
constexpr auto kFloodProgress = std::chrono::seconds(1);
constexpr auto kRejectLookup = std::chrono::seconds(1);
// A wait with nothing to wait for ends this far away.
constexpr auto kForever = std::chrono::hours(24 * 365);
// Bounds of the options and of the summary.
constexpr std::uint32_t kMaxCount = 1024;
constexpr std::uint32_t kMaxTimes = 100'000;
constexpr std::uint32_t kMaxAddresses = 1'000'000;
constexpr std::size_t kMaxConnectionsListed = 1000;
constexpr std::size_t kMaxDetail = 300;
// Made-up gossip addresses: 127.A.B.C with A in [kGossipFirstOctet,
// kGossipFirstOctet + kGossipOctets) (clear of 127.0.x.x, where scenarios run
// nodes), ports from kGossipFirstPort up to the ephemeral range.
constexpr std::uint32_t kGossipFirstOctet = 200;
constexpr std::uint32_t kGossipOctets = 50;
constexpr std::uint32_t kGossipFirstPort = 1024;
constexpr std::uint32_t kEphemeralDefault = 32768;

// ------------------------------------------------------------ settings

struct Settings {
  std::string config, connect, bind, key_file, mode;
  bool random_key = false, json = false;
  std::uint32_t count = 1;
  std::uint16_t listen_port = 0;
  double seconds = 0;
  std::uint64_t claim_height = 1'000'000'000;  // claim
  bool announce = false;
  std::uint32_t addresses = 1000;  // gossip
  std::string tag_id;
  std::uint32_t tag_count = 0;
  double rate = 10;
  std::uint32_t times = 1;  // violate, hijack, far-future
  bool headers = false;     // far-future
  double ahead = 3600;
  std::string parent = "genesis";
  std::uint32_t frame_bytes = std::uint32_t{4} << 20;  // half-frame
};

// What the run needs to know, from the settings and the node's files.
struct Network {
  chain::GenesisSpec spec;
  crypto::Hash32 genesis_hash;
  std::uint32_t magic = 0;
  std::size_t max_message_size = p2p::kDefaultMaxMessageSize;
  tcp::endpoint target;
  std::optional<asio::ip::address> bind;
  std::optional<crypto::KeyPair> key;  // --key-file
  crypto::PublicKey tag_id;            // gossip --tag-id
};

crypto::Hash32 random_hash() {
  crypto::Hash32 h;
  randombytes_buf(h.data(), crypto::Hash32::kSize);
  return h;
}

// Peer-supplied text on one line, bounded.
std::string one_line(std::string_view text) {
  std::string out(text.substr(0, kMaxDetail));
  for (auto& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return out;
}

double seconds_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

// ------------------------------------------------------------ report

// Every connection's record, the event lines and the summary. One thread.
class Report {
 public:
  Report(std::string mode, std::string target, bool json)
      : mode_(std::move(mode)), target_(std::move(target)), json_(json), events_(json ? std::cerr : std::cout) {}

  // A new connection record for `lane` as `key`; returns its number.
  int open(int lane, const crypto::PublicKey& key) {
    Record r;
    r.conn = static_cast<int>(records_.size());
    r.lane = lane;
    r.key = key.hex();
    records_.push_back(std::move(r));
    return records_.back().conn;
  }
  void opened(int conn, const std::string& local) {
    auto& r = records_.at(conn);
    r.opened = true;
    r.opened_at = Clock::now();
    event("opened conn=" + std::to_string(conn) + " from=" + local);
  }
  void connected(int conn, const crypto::PublicKey& theirs) {
    auto& r = records_.at(conn);
    r.peer = theirs.hex();
    event("connected " + r.key + " conn=" + std::to_string(conn) + " peer=" + r.peer);
  }
  void failed(int conn, const Failure& f) {
    auto& r = records_.at(conn);
    r.fail = f.label();
    r.detail = one_line(f.detail);
    event("fail " + r.fail + " (" + r.detail + ") conn=" + std::to_string(conn));
  }
  void closed(int conn, std::string_view reason, std::string_view detail) {
    auto& r = records_.at(conn);
    r.closed = reason;
    r.detail = one_line(detail);
    r.closed_at = Clock::now();
    char t[32];
    std::snprintf(t, sizeof t, "%.3f", seconds_between(r.opened_at, r.closed_at));
    event("closed: " + r.closed + " (" + r.detail + ") conn=" + std::to_string(conn) + " t=" + t);
  }
  // Counts `n` more `what` sent on `conn`; prints the total when `print`.
  void sent(int conn, const std::string& what, std::uint64_t n, bool print = true) {
    auto& total = records_.at(conn).sent[what];
    total += n;
    if (print) event("sent " + std::to_string(total) + " " + what + " conn=" + std::to_string(conn));
  }
  void got(int conn, p2p::MessageType type) {
    const std::string name(p2p::to_string(type));
    ++records_.at(conn).got[name];
    event("got " + name + " conn=" + std::to_string(conn));
  }
  void note(const std::string& text) { event("note " + text); }

  bool any_opened() const {
    return std::any_of(records_.begin(), records_.end(), [](const Record& r) { return r.opened; });
  }
  void print_summary(std::string_view stopped_by) const;

 private:
  struct Record {
    int conn = 0;
    int lane = 0;
    std::string key;  // our node id on it
    std::string peer, fail, closed, detail;
    bool opened = false;
    Clock::time_point opened_at{}, closed_at{};
    std::map<std::string, std::uint64_t> sent, got;
  };
  static nlohmann::json record_json(const Record& r);
  void event(const std::string& line) { events_ << line << std::endl; }

  std::string mode_, target_;
  bool json_;
  std::ostream& events_;
  Clock::time_point start_ = Clock::now();
  std::vector<Record> records_;
};

nlohmann::json Report::record_json(const Record& r) {
  const auto end = r.closed.empty() ? Clock::now() : r.closed_at;
  auto null_if_empty = [](const std::string& s) { return s.empty() ? nlohmann::json() : nlohmann::json(s); };
  return {{"conn", r.conn},
          {"lane", r.lane},
          {"key", r.key},
          {"opened", r.opened},
          {"peer", null_if_empty(r.peer)},
          {"fail", null_if_empty(r.fail)},
          {"closed", null_if_empty(r.closed)},
          {"detail", null_if_empty(r.detail)},
          {"seconds", r.opened ? seconds_between(r.opened_at, end) : 0.0},
          {"sent", r.sent},
          {"got", r.got}};
}

void Report::print_summary(std::string_view stopped_by) const {
  std::map<std::string, std::uint64_t> fails, closes, sent, got;
  std::uint64_t opened = 0, connected = 0;
  auto j = nlohmann::json::array();
  for (const auto& r : records_) {
    opened += r.opened ? 1 : 0;
    connected += r.peer.empty() ? 0 : 1;
    if (!r.fail.empty()) ++fails[r.fail];
    if (!r.closed.empty()) ++closes[r.closed];
    for (const auto& [what, n] : r.sent) sent[what] += n;
    for (const auto& [what, n] : r.got) got[what] += n;
    if (j.size() < kMaxConnectionsListed) j.push_back(record_json(r));
  }
  const nlohmann::json summary = {{"mode", mode_},
                                  {"target", target_},
                                  {"seconds", seconds_between(start_, Clock::now())},
                                  {"stopped_by", stopped_by},
                                  {"attempts", records_.size()},
                                  {"opened", opened},
                                  {"connected", connected},
                                  {"fails", fails},
                                  {"closes", closes},
                                  {"sent", sent},
                                  {"got", got},
                                  {"connections", j},
                                  {"connections_truncated", records_.size() > kMaxConnectionsListed}};
  if (json_)
    std::cout << summary.dump(2) << std::endl;
  else
    std::cout << "summary " << summary.dump() << std::endl;
}

// ------------------------------------------------------------ run, lanes, sessions

// One TCP connection: its stream and its number in the report. Created
// before connecting, so that stopping the run can close it at any step.
struct Session {
  Session(const asio::any_io_executor& executor, const Network& net, int number)
      : wire(tcp::socket(executor), net.magic, net.max_message_size), conn(number) {}
  WireStream wire;
  int conn;
  p2p::Hello theirs;  // after the handshake
};
using SessionPtr = std::shared_ptr<Session>;

// The whole run's state: what every lane shares, and how it stops (all
// lanes done, --seconds, or a signal). Everything runs on one thread.
class Run {
 public:
  Run(asio::io_context& io, const Settings& s, const Network& n, Report& r)
      : io(io), settings(s), net(n), report(r), signals_(io, SIGINT, SIGTERM), deadline_(io) {}

  asio::io_context& io;
  const Settings& settings;
  const Network& net;
  Report& report;

  // Starts `lanes` lanes running `task`; io.run() returns once they ended.
  void start(std::uint32_t lanes, const std::function<asio::awaitable<void>(int)>& task);
  bool stopping() const { return !stopped_by_.empty(); }
  const std::string& stopped_by() const { return stopped_by_; }
  // Closes every session; the lanes then end.
  void stop(const std::string& why);
  void track(const SessionPtr& s) {
    if (sessions_.size() % 1024 == 1023) std::erase_if(sessions_, [](const auto& w) { return w.expired(); });
    sessions_.push_back(s);
  }
  bool failed() const { return internal_errors_ > 0; }

 private:
  void lane_done(const std::exception_ptr& e);

  asio::signal_set signals_;
  asio::steady_timer deadline_;
  std::string stopped_by_;
  std::uint32_t running_ = 0;
  std::uint32_t internal_errors_ = 0;
  std::vector<std::weak_ptr<Session>> sessions_;
};

void Run::start(std::uint32_t lanes, const std::function<asio::awaitable<void>(int)>& task) {
  running_ = lanes;
  for (std::uint32_t i = 0; i < lanes; ++i)
    asio::co_spawn(io, task(static_cast<int>(i)), [this](std::exception_ptr e) { lane_done(e); });
  signals_.async_wait([this](const boost::system::error_code& ec, int) {
    if (ec) return;
    stop("signal");
    // A second signal: exit at once with what we have.
    signals_.async_wait([this](const boost::system::error_code& again, int) {
      if (again) return;
      report.print_summary("signal");
      std::_Exit(app::kOk);
    });
  });
  if (settings.seconds > 0) {
    deadline_.expires_after(
        std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(settings.seconds)));
    deadline_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) stop("seconds");
    });
  }
}

void Run::stop(const std::string& why) {
  if (stopping()) return;
  stopped_by_ = why;
  for (auto& weak : sessions_)
    if (auto s = weak.lock()) s->wire.close();
  sessions_.clear();
}

void Run::lane_done(const std::exception_ptr& e) {
  if (e) {
    ++internal_errors_;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      report.note(std::string("internal error: ") + ex.what());
    }
  }
  if (--running_ > 0) return;
  if (!stopping()) stopped_by_ = "end";
  signals_.cancel();
  deadline_.cancel();
}

// One of the --count concurrent connections, with its identity.
struct Lane {
  Run& run;
  int index;
  crypto::KeyPair key;

  // The key of the next connection: the lane's, or with --random-key a fresh one.
  crypto::KeyPair next_key() const { return run.settings.random_key ? crypto::KeyPair::generate() : key; }

  // An honest-looking Hello from `k`: genesis tip, a fresh session.
  p2p::Hello hello(const crypto::KeyPair& k) const {
    p2p::Hello h;
    h.network = run.net.spec.network;
    h.genesis_hash = run.net.genesis_hash;
    h.node_id = k.public_key();
    h.listen_port = run.settings.listen_port;
    h.best_height = 0;
    h.best_hash = run.net.genesis_hash;
    h.session_nonce = p2p::new_session_nonce();
    h.user_agent = "hostile_peer/" + run.settings.mode;
    return h;
  }
};

// Socket options set before connecting (a receive buffer must be, to shape
// the window the node sees).
struct DialOptions {
  int receive_buffer = 0;  // SO_RCVBUF; 0: the system's
};

// Opens a TCP connection to the node for `lane` as `key`, from --bind with
// `options` (wire.hpp's connect_to can do neither). Prints "opened" or
// "fail"; nullptr on failure.
asio::awaitable<SessionPtr> dial(Lane& lane, const crypto::KeyPair& key, const DialOptions& options) {
  Run& run = lane.run;
  if (run.stopping()) co_return nullptr;
  auto s = std::make_shared<Session>(run.io.get_executor(), run.net, run.report.open(lane.index, key.public_key()));
  run.track(s);
  auto& socket = s->wire.socket();
  boost::system::error_code ec;
  socket.open(run.net.target.protocol(), ec);
  if (!ec && options.receive_buffer > 0)
    socket.set_option(asio::socket_base::receive_buffer_size(options.receive_buffer), ec);
  if (!ec && run.net.bind) socket.bind(tcp::endpoint(*run.net.bind, 0), ec);
  if (ec) {
    run.report.failed(s->conn, core::node::socket_failure(ec, "bind"));
    co_return nullptr;
  }
  s->wire.stream().expires_after(kConnectTimeout);
  auto [cec] = co_await s->wire.stream().async_connect(run.net.target, kTuple);
  s->wire.expires_never();
  if (cec) {
    if (!run.stopping()) run.report.failed(s->conn, core::node::socket_failure(cec, "connect"));
    co_return nullptr;
  }
  socket.set_option(tcp::no_delay(true), ec);
  const auto local = socket.local_endpoint(ec);
  run.report.opened(s->conn, ec ? std::string("?") : local.address().to_string() + ":" + std::to_string(local.port()));
  co_return s;
}

// dial(), then the initiator's handshake as `key` with `hello`. Prints
// "connected" or "fail"; nullptr on failure.
asio::awaitable<SessionPtr> join(Lane& lane, const crypto::KeyPair& key, const p2p::Hello& hello,
                                 const DialOptions& options) {
  auto s = co_await dial(lane, key, options);
  if (!s) co_return nullptr;
  const auto identity = p2p::make_local_identity(lane.run.net.spec, key.public_key());
  const auto deadline = Clock::now() + kHandshakeTimeout;
  auto hs = co_await core::node::initiate_handshake(s->wire, hello, key, identity, deadline);
  if (!hs) {
    if (!lane.run.stopping()) lane.run.report.failed(s->conn, hs.error());
    co_await s->wire.close_gracefully(hs.error().to_send);
    co_return nullptr;
  }
  s->theirs = hs->theirs;
  lane.run.report.connected(s->conn, s->theirs.node_id);
  co_return s;
}

asio::awaitable<SessionPtr> join(Lane& lane, const crypto::KeyPair& key, const p2p::Hello& hello) {
  const DialOptions defaults;
  co_return co_await join(lane, key, hello, defaults);
}

// The reason a read failed, as the output names it.
std::string close_reason(const Failure& f) {
  // socket_failure() words an EOF this way; any other reset is a reset.
  if (f.kind == FailureKind::reset) return f.detail.find("without a reason") != std::string::npos ? "eof" : "reset";
  return f.reason();
}

// The single writer of a session written from two places (the reader
// answering pings, a mode's periodic sends): frames queue here and one
// coroutine writes them in order. `tick` (optional) runs every `every`, may
// send, and returns false when it has nothing more to send.
class Outbox {
 public:
  using Tick = std::function<bool(Outbox&)>;
  static std::shared_ptr<Outbox> start(const SessionPtr& s, Clock::duration every, Tick tick) {
    auto box = std::shared_ptr<Outbox>(new Outbox(s, every, std::move(tick)));
    asio::co_spawn(s->wire.socket().get_executor(), box->write_loop(box), [](const std::exception_ptr&) {});
    return box;
  }
  void send(const p2p::Message& m) {
    queue_.push_back(session_->wire.frame_of(m));
    wake_.cancel();
  }
  // The writer ends after the frame in flight; the tick never runs again.
  void close() {
    closed_ = true;
    wake_.cancel();
  }

 private:
  Outbox(SessionPtr s, Clock::duration every, Tick tick)
      : session_(std::move(s)), wake_(session_->wire.socket().get_executor()), every_(every), tick_(std::move(tick)) {}

  // `self` keeps the outbox alive while it writes.
  asio::awaitable<void> write_loop(std::shared_ptr<Outbox> self) {
    auto next_tick = Clock::now() + every_;
    while (!self->closed_) {
      if (queue_.empty()) {
        wake_.expires_at(tick_ ? next_tick : Clock::now() + kForever);
        auto [ec] = co_await wake_.async_wait(kTuple);
        (void)ec;
        if (!closed_ && tick_ && Clock::now() >= next_tick) {
          next_tick += every_;
          if (!tick_(*this)) tick_ = nullptr;
        }
        continue;
      }
      const auto frame = queue_.front();
      queue_.pop_front();
      auto w = co_await session_->wire.write_frame(frame);
      // The reader finds out why (a Reject, EOF): stop writing, keep the socket.
      if (!w) closed_ = true;
    }
  }

  SessionPtr session_;
  asio::steady_timer wake_;
  Clock::duration every_;
  Tick tick_;
  std::deque<std::shared_ptr<const core::codec::Bytes>> queue_;
  bool closed_ = false;
};
using OutboxPtr = std::shared_ptr<Outbox>;

// Closes an Outbox when the lane that started it is done with it.
struct OutboxCloser {
  OutboxPtr box;
  ~OutboxCloser() { box->close(); }
};

// What a mode does with a message beyond the ones serve() handles itself.
using OnMessage = std::function<void(const p2p::Message&)>;

// Reads what the node sends until it closes the connection (reported with
// its reason), the run stops, or `deadline` passes (reported as
// "kept_open"). Pings are answered, through `out` when the mode writes
// from elsewhere too; every message is counted; `on_message` sees the rest.
asio::awaitable<void> serve(Lane& lane, Session& s, Outbox* out, const OnMessage& on_message,
                            std::optional<Clock::time_point> deadline) {
  Report& report = lane.run.report;
  if (deadline) s.wire.expires_at(*deadline);
  for (;;) {
    auto m = co_await s.wire.read_message();
    if (!m) {
      const auto& f = m.error();
      if (lane.run.stopping()) break;
      if (deadline && f.kind == FailureKind::timeout)
        report.closed(s.conn, "kept_open", "the node did not close it in time");
      else
        report.closed(s.conn, close_reason(f), f.detail);
      break;
    }
    report.got(s.conn, p2p::message_type(*m));
    if (const auto* reject = std::get_if<p2p::Reject>(&*m)) {
      report.closed(s.conn, reject->code_name(), reject->detail);
      break;
    }
    if (const auto* ping = std::get_if<p2p::Ping>(&*m)) {
      const p2p::Message pong = p2p::Pong{ping->nonce};
      if (out) {
        out->send(pong);
      } else {
        auto w = co_await s.wire.write_message(pong);
        (void)w;  // a failed write shows up as the next read's failure
      }
    } else if (on_message) {
      on_message(*m);
    }
  }
  s.wire.close();
}

asio::awaitable<void> serve(Lane& lane, Session& s) {
  const OnMessage nothing;
  const std::optional<Clock::time_point> no_deadline;
  co_await serve(lane, s, nullptr, nothing, no_deadline);
}

// ------------------------------------------------------------ forged content

// A header nobody can build on: random parent and root, unsigned, at
// `height`, in the current slot with its scheduled producer.
chain::BlockHeader claimed_header(const Network& net, std::uint64_t height) {
  const chain::Schedule schedule(net.spec);
  const auto now = core::util::now_ms();
  chain::BlockHeader h;
  h.height = height;
  h.parent = random_hash();
  h.slot = std::max<std::uint64_t>(1, schedule.slot_at(now).value_or(1));
  h.timestamp_ms = now;
  h.producer = schedule.producer(h.slot);
  h.tx_root = random_hash();
  return h;
}

struct ParentRef {
  crypto::Hash32 hash;
  std::uint64_t height = 0;
};

// `count` unsigned headers (zero signature) at slots `ahead_ms` in the
// future that pass every check before the clock's: height, a slot after
// any parent's, the slot's scheduled producer, a timestamp inside the slot,
// the root of the coinbase it would carry. `chained`: each on the one
// before (for one Headers message); else all on `parent` (NewBlocks).
std::vector<chain::BlockHeader> far_future_headers(const Network& net, const ParentRef& parent, std::uint32_t count,
                                                   bool chained, std::int64_t ahead_ms) {
  const chain::Schedule schedule(net.spec);
  const auto first = std::max<std::uint64_t>(1, schedule.slot_at(core::util::now_ms() + ahead_ms).value_or(1));
  std::vector<chain::BlockHeader> out;
  ParentRef on = parent;
  for (std::uint32_t i = 0; i < count; ++i) {
    chain::BlockHeader h;
    h.height = on.height + 1;
    h.parent = on.hash;
    h.slot = first + i;
    h.timestamp_ms = schedule.slot_start(h.slot);
    h.producer = schedule.producer(h.slot);
    const chain::Transaction coinbase{chain::TxKind::Coinbase, h.producer, chain::kCoinbaseReward, h.height, {}};
    h.tx_root = chain::transactions_root(std::span<const chain::Transaction>(&coinbase, 1));
    if (chained) on = ParentRef{h.hash(), h.height};
    out.push_back(h);
  }
  return out;
}

std::uint32_t ephemeral_low() {
  std::ifstream f("/proc/sys/net/ipv4/ip_local_port_range");
  std::uint32_t low = 0;
  if (f >> low && low > kGossipFirstPort + 1) return low;
  return kEphemeralDefault;
}

// The made-up addresses of gossip: --addresses distinct ones from a random
// start, --tag-count of them (evenly spread) tagged with --tag-id as a
// masternode, the rest with random ids.
std::vector<p2p::PeerEntry> gossip_addresses(const Settings& s, const Network& net) {
  constexpr std::uint64_t kPerSecondOctet = std::uint64_t{kGossipOctets} * 256;
  constexpr std::uint64_t kIps = kPerSecondOctet * 254;
  const std::uint64_t ports = ephemeral_low() - kGossipFirstPort;
  std::uint64_t start = 0;
  randombytes_buf(&start, sizeof start);
  const auto now = core::util::now_ms();
  std::vector<p2p::PeerEntry> out(s.addresses);
  for (std::uint32_t k = 0; k < s.addresses; ++k) {
    const std::uint64_t i = (start + k) % kIps;  // distinct IPs for k < kIps
    auto& e = out[k];
    e.address = "127." + std::to_string(kGossipFirstOctet + i % kGossipOctets) + "." +
                std::to_string(i / kGossipOctets % 256) + "." + std::to_string(1 + i / kPerSecondOctet % 254) + ":" +
                std::to_string(kGossipFirstPort + (i * 7919) % ports);
    randombytes_buf(e.node_id.data(), crypto::PublicKey::kSize);
    e.last_seen_ms = now;
  }
  for (std::uint32_t t = 0; t < s.tag_count; ++t) {
    auto& e = out[std::uint64_t{t} * s.addresses / s.tag_count];
    e.node_id = net.tag_id;
    e.role = p2p::Role::Masternode;
  }
  return out;
}

p2p::Message peers_batch(const std::vector<p2p::PeerEntry>& all, std::size_t from) {
  const auto to = std::min(all.size(), from + p2p::kMaxPeersPerMessage);
  return p2p::Peers{std::vector<p2p::PeerEntry>(all.begin() + static_cast<std::ptrdiff_t>(from),
                                                all.begin() + static_cast<std::ptrdiff_t>(to))};
}

// A frame header with our magic announcing `length` payload bytes, and the
// first half of that payload (zeros); the checksum is never checked.
std::shared_ptr<const core::codec::Bytes> half_frame(std::uint32_t magic, std::uint32_t length) {
  core::codec::Bytes b;
  auto put = [&b](std::uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  };
  put(magic, 4);
  put(static_cast<std::uint16_t>(p2p::MessageType::Hello), 2);
  put(length, 4);
  put(0, 4);
  b.resize(b.size() + length / 2, 0);
  return std::make_shared<const core::codec::Bytes>(std::move(b));
}

// kPingsPerWrite Ping frames in one buffer.
std::shared_ptr<const core::codec::Bytes> ping_batch(const WireStream& wire) {
  core::codec::Bytes b;
  for (std::size_t i = 0; i < kPingsPerWrite; ++i) {
    const auto frame = wire.frame_of(p2p::Ping{i});
    b.insert(b.end(), frame->begin(), frame->end());
  }
  return std::make_shared<const core::codec::Bytes>(std::move(b));
}

// ------------------------------------------------------------ modes

asio::awaitable<void> run_claim(Lane& lane) {
  const auto& settings = lane.run.settings;
  const auto key = lane.next_key();
  auto hello = lane.hello(key);
  hello.best_height = settings.claim_height;
  hello.best_hash = random_hash();
  auto s = co_await join(lane, key, hello);
  if (!s) co_return;
  Outbox::Tick announce;
  if (settings.announce)
    announce = [&lane, conn = s->conn, height = settings.claim_height](Outbox& out) mutable {
      out.send(p2p::NewBlock{claimed_header(lane.run.net, ++height)});
      lane.run.report.sent(conn, "new_blocks", 1);
      return true;
    };
  const auto out = Outbox::start(s, kAnnounceInterval, announce);
  const OutboxCloser closer{out};
  const OnMessage ignore;  // GetHeaders and GetBlocks go unanswered
  const std::optional<Clock::time_point> no_deadline;
  Outbox* const writer = out.get();
  co_await serve(lane, *s, writer, ignore, no_deadline);
}

asio::awaitable<void> run_gossip(Lane& lane) {
  const auto& settings = lane.run.settings;
  const auto key = lane.next_key();
  const auto hello = lane.hello(key);
  auto s = co_await join(lane, key, hello);
  if (!s) co_return;
  const auto book = std::make_shared<const std::vector<p2p::PeerEntry>>(gossip_addresses(settings, lane.run.net));
  const auto every = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / settings.rate));
  Report& report = lane.run.report;
  const Outbox::Tick gossip = [&report, conn = s->conn, book, next = std::size_t{0}](Outbox& out) mutable {
    const auto batch = std::min<std::size_t>(book->size() - next, p2p::kMaxPeersPerMessage);
    out.send(peers_batch(*book, next));
    next += batch;
    report.sent(conn, "peers_messages", 1, false);
    report.sent(conn, "addresses", batch);
    return next < book->size();
  };
  const auto out = Outbox::start(s, every, gossip);
  const OutboxCloser closer{out};
  Outbox* const writer = out.get();
  const OnMessage answer = [&report, writer, book, conn = s->conn](const p2p::Message& m) {
    if (!std::holds_alternative<p2p::GetPeers>(m)) return;
    writer->send(peers_batch(*book, 0));
    report.sent(conn, "peers_replies", 1);
  };
  const std::optional<Clock::time_point> no_deadline;
  co_await serve(lane, *s, writer, answer, no_deadline);
}

// One round of violate: handshake, a frame whose payload does not match its
// checksum, then wait (at most kViolationWait) for the node to close.
asio::awaitable<void> violate_once(Lane& lane) {
  const auto key = lane.next_key();
  const auto hello = lane.hello(key);
  auto s = co_await join(lane, key, hello);
  if (!s) co_return;
  auto frame = *s->wire.frame_of(p2p::Ping{7});
  frame.back() ^= 0xff;
  const auto bad = std::make_shared<const core::codec::Bytes>(std::move(frame));
  auto w = co_await s->wire.write_frame(bad);
  if (w) lane.run.report.sent(s->conn, "bad_frames", 1);
  const OnMessage nothing;
  const std::optional<Clock::time_point> deadline = Clock::now() + kViolationWait;
  co_await serve(lane, *s, nullptr, nothing, deadline);
}

asio::awaitable<void> run_violate(Lane& lane) {
  for (std::uint32_t i = 0; i < lane.run.settings.times && !lane.run.stopping(); ++i) co_await violate_once(lane);
}

asio::awaitable<void> run_hijack(Lane& lane) {
  const auto& s = lane.run.settings;
  lane.run.report.note("hijack: misbehaving from " + (s.bind.empty() ? std::string("the default address") : s.bind) +
                       " announcing listen port " + std::to_string(s.listen_port));
  co_await run_violate(lane);
}

asio::awaitable<void> run_far_future(Lane& lane) {
  const auto& settings = lane.run.settings;
  Report& report = lane.run.report;
  const auto key = lane.next_key();
  const auto hello = lane.hello(key);
  auto s = co_await join(lane, key, hello);
  if (!s) co_return;
  const ParentRef parent = settings.parent == "tip" ? ParentRef{s->theirs.best_hash, s->theirs.best_height}
                                                    : ParentRef{lane.run.net.genesis_hash, 0};
  const auto ahead_ms = static_cast<std::int64_t>(settings.ahead * 1000);
  const auto headers = far_future_headers(lane.run.net, parent, settings.times, settings.headers, ahead_ms);
  report.note("far-future: height " + std::to_string(headers.front().height) + ", slot " +
              std::to_string(headers.front().slot) + " at " + core::util::format_rfc3339(headers.front().timestamp_ms) +
              ", producer " + headers.front().producer.short_hex() + ", unsigned");
  if (settings.headers) {
    const p2p::Message all = p2p::Headers{headers};
    auto w = co_await s->wire.write_message(all);
    if (w) report.sent(s->conn, "headers", headers.size());
  } else {
    for (const auto& h : headers) {
      const p2p::Message announce = p2p::NewBlock{h};
      auto w = co_await s->wire.write_message(announce);
      if (!w) break;
      report.sent(s->conn, "new_blocks", 1);
    }
  }
  co_await serve(lane, *s);
}

// After a failed write of ping-flood: the node's Reject if it is still in
// our receive buffer (Pongs before it are skipped), else the write's failure.
asio::awaitable<void> report_flood_close(Lane& lane, Session& s, const Failure& write_failure) {
  s.wire.expires_at(Clock::now() + kRejectLookup);
  for (;;) {
    auto m = co_await s.wire.read_message();
    if (!m) {
      lane.run.report.closed(s.conn, close_reason(write_failure),
                             write_failure.detail + "; no Reject left in our receive buffer");
      break;
    }
    if (const auto* reject = std::get_if<p2p::Reject>(&*m)) {
      lane.run.report.closed(s.conn, reject->code_name(), reject->detail);
      break;
    }
  }
  s.wire.close();
}

asio::awaitable<void> run_ping_flood(Lane& lane) {
  Report& report = lane.run.report;
  const auto key = lane.next_key();
  const auto hello = lane.hello(key);
  const DialOptions small_window{kFloodReceiveBuffer};
  auto s = co_await join(lane, key, hello, small_window);
  if (!s) co_return;
  const auto batch = ping_batch(s->wire);
  const auto frame_size = batch->size() / kPingsPerWrite;
  const auto before = s->wire.bytes_out();
  auto next_progress = Clock::now() + kFloodProgress;
  std::uint64_t counted = 0;
  for (;;) {
    auto w = co_await s->wire.write_frame(batch);
    const std::uint64_t pings = (s->wire.bytes_out() - before) / frame_size;
    if (!w || Clock::now() >= next_progress) {
      report.sent(s->conn, "pings", pings - counted);
      counted = pings;
      next_progress = Clock::now() + kFloodProgress;
    }
    if (lane.run.stopping()) co_return;
    if (!w) {
      co_await report_flood_close(lane, *s, w.error());
      co_return;
    }
  }
}

asio::awaitable<void> run_half_frame(Lane& lane) {
  const auto key = lane.next_key();
  const DialOptions defaults;
  auto s = co_await dial(lane, key, defaults);
  if (!s) co_return;
  const auto frame = half_frame(lane.run.net.magic, lane.run.settings.frame_bytes);
  auto w = co_await s->wire.write_frame(frame);
  if (w) lane.run.report.sent(s->conn, "bytes", frame->size());
  co_await serve(lane, *s);
}

// ------------------------------------------------------------ the table of modes

using ModeFn = asio::awaitable<void> (*)(Lane&);
// A mode's own option rules: the problem, naming the option; nullopt if none.
using CheckFn = std::optional<std::string> (*)(const Settings&);

struct Mode {
  std::string_view name;
  ModeFn run;
  CheckFn check;  // null: no rules of its own
  std::string_view help;
};

std::optional<std::string> check_gossip(const Settings& s) {
  if (s.tag_count > s.addresses) return "--tag-count must not exceed --addresses";
  if (s.tag_count > 0 && s.tag_id.empty()) return "--tag-count needs --tag-id (the node id to tag addresses with)";
  return std::nullopt;
}

std::optional<std::string> check_hijack(const Settings& s) {
  if (s.listen_port == 0) return "--mode hijack needs --listen-port (the honest peer's port)";
  return std::nullopt;
}

std::optional<std::string> check_far_future(const Settings& s) {
  if (s.headers && s.times > p2p::kMaxHeadersPerMessage)
    return "--headers sends one Headers message: --times at most " + std::to_string(p2p::kMaxHeadersPerMessage);
  return std::nullopt;
}

const std::array<Mode, 7> kModes{{
    {"claim", run_claim, nullptr, "claim --claim-height with a random tip; never serve it (--announce: NewBlock/s)"},
    {"gossip", run_gossip, check_gossip, "send --addresses unreachable addresses in Peers messages (--tag-*)"},
    {"violate", run_violate, nullptr, "a bad-checksum frame after the handshake, --times rounds"},
    {"hijack", run_hijack, check_hijack, "violate from --bind announcing an honest peer's --listen-port"},
    {"far-future", run_far_future, check_far_future, "--times unsigned headers --ahead in the future (--headers)"},
    {"ping-flood", run_ping_flood, nullptr, "Pings as fast as possible, never reading"},
    {"half-frame", run_half_frame, nullptr, "half of a --frame-bytes frame before the handshake, then silence"},
}};

const Mode* find_mode(std::string_view name) {
  for (const auto& m : kModes)
    if (m.name == name) return &m;
  return nullptr;
}

// ------------------------------------------------------------ setup

std::optional<int> parse_settings(int argc, char** argv, Settings& s) {
  CLI::App cli{"hostile_peer: a peer that breaks the wire protocol's rules on purpose, for tests", "hostile_peer"};
  app::add_version_flag(cli, "hostile_peer");
  cli.option_defaults()->always_capture_default();
  std::vector<std::string> names;
  std::string footer = "Modes:\n";
  for (const auto& m : kModes) {
    names.emplace_back(m.name);
    footer += "  " + std::string(m.name) + std::string(12 - m.name.size(), ' ') + std::string(m.help) + "\n";
  }
  cli.footer(footer + "Output: one line per event, then \"summary {json}\" (see the header of hostile_peer.cpp).");
  cli.add_option("--config", s.config, "A node's tnode.toml (network, genesis)")->required();
  cli.add_option("--connect", s.connect, "The node, HOST:PORT (loopback)")->required();
  cli.add_option("--mode", s.mode, "What to break")->required()->check(CLI::IsMember(names));
  cli.add_option("--bind", s.bind, "Source IP of every connection (loopback)");
  auto* key_file = cli.add_option("--key-file", s.key_file, "Key of every connection");
  cli.add_flag("--random-key", s.random_key, "A fresh key for every connection")->excludes(key_file);
  cli.add_option("--count", s.count, "Concurrent connections")->check(CLI::Range(1u, kMaxCount));
  cli.add_option("--listen-port", s.listen_port, "Listen port put in Hello (0: none)");
  cli.add_option("--seconds", s.seconds, "Stop after S seconds (0: when all ended)")->check(CLI::NonNegativeNumber);
  cli.add_flag("--json", s.json, "Events on stderr, the summary as JSON on stdout");
  cli.add_option("--claim-height", s.claim_height, "claim: the height claimed");
  cli.add_flag("--announce", s.announce, "claim: a NewBlock every second");
  cli.add_option("--addresses", s.addresses, "gossip: addresses to send")->check(CLI::Range(1u, kMaxAddresses));
  cli.add_option("--tag-id", s.tag_id, "gossip: node id (64 hex) to tag addresses with, as masternode");
  cli.add_option("--tag-count", s.tag_count, "gossip: how many addresses to tag");
  cli.add_option("--rate", s.rate, "gossip: Peers messages per second")->check(CLI::PositiveNumber);
  cli.add_option("--times", s.times, "violate, hijack: rounds; far-future: headers")->check(CLI::Range(1u, kMaxTimes));
  cli.add_flag("--headers", s.headers, "far-future: one Headers message instead of NewBlocks");
  cli.add_option("--ahead", s.ahead, "far-future: seconds ahead of now")->check(CLI::NonNegativeNumber);
  cli.add_option("--parent", s.parent, "far-future: build on genesis or on the node's tip")
      ->check(CLI::IsMember({"genesis", "tip"}));
  cli.add_option("--frame-bytes", s.frame_bytes, "half-frame: payload length announced")
      ->check(CLI::Range(1u, std::numeric_limits<std::uint32_t>::max()));
  return app::parse_cli(cli, argc, argv);
}

// The node's address, resolved to a loopback endpoint.
core::util::Result<tcp::endpoint> loopback_target(const std::string& text) {
  auto hp = core::util::parse_host_port(text);
  if (!hp) return core::util::fail("--connect: " + hp.error().message);
  asio::io_context io;
  tcp::resolver resolver(io);
  boost::system::error_code ec;
  const auto results = resolver.resolve(hp->host, std::to_string(hp->port), ec);
  if (ec) return core::util::fail("--connect: cannot resolve " + hp->host + ": " + ec.message());
  for (const auto& r : results)
    if (r.endpoint().address().is_loopback()) return r.endpoint();
  return core::util::fail("--connect: " + text + " is not a loopback address (this tool attacks loopback only)");
}

core::util::Result<Network> load_network(const Settings& s) {
  Network net;
  auto config = core::config::load_node_config(s.config);
  if (!config) return core::util::fail(config.error().message);
  const auto genesis = config->genesis_path();
  if (!genesis) return core::util::fail(s.config + ": no genesis file (give the config of a node that has one)");
  auto spec = chain::load_genesis_file(*genesis);
  if (!spec) return core::util::fail(spec.error().message);
  net.spec = *spec;
  net.genesis_hash = chain::genesis_hash(net.spec);
  net.magic = chain::network_magic(net.spec.network);
  net.max_message_size = config->max_message_size;
  auto target = loopback_target(s.connect);
  if (!target) return core::util::fail(target.error().message);
  net.target = *target;
  if (!s.bind.empty()) {
    boost::system::error_code ec;
    const auto ip = asio::ip::make_address(s.bind, ec);
    if (ec || !ip.is_loopback() || ip.is_v4() != net.target.address().is_v4())
      return core::util::fail("--bind " + s.bind + ": expected a loopback IP of the --connect address's family");
    net.bind = ip;
  }
  if (!s.key_file.empty()) {
    auto key = crypto::load_key_file(s.key_file);
    if (!key) return core::util::fail(key.error().message);
    net.key = *key;
  }
  if (!s.tag_id.empty()) {
    auto id = crypto::PublicKey::from_hex(s.tag_id);
    if (!id) return core::util::fail("--tag-id: " + id.error().message);
    net.tag_id = *id;
  }
  return net;
}

int run_hostile_peer(const Settings& s) {
  core::crypto::init();
  const Mode* mode = find_mode(s.mode);
  if (!mode) return app::report_error("hostile_peer", "unknown mode '" + s.mode + "'", app::kUsage);
  if (mode->check)
    if (auto problem = mode->check(s)) return app::report_error("hostile_peer", *problem, app::kUsage);
  auto net = load_network(s);
  if (!net) return app::report_error("hostile_peer", net.error().message, app::kUsage);
  Report report(s.mode, net->target.address().to_string() + ":" + std::to_string(net->target.port()), s.json);
  asio::io_context io;
  Run run(io, s, *net, report);
  std::vector<Lane> lanes;
  lanes.reserve(s.count);
  for (std::uint32_t i = 0; i < s.count; ++i)
    lanes.push_back(Lane{run, static_cast<int>(i), net->key ? *net->key : crypto::KeyPair::generate()});
  run.start(s.count, [&lanes, mode](int i) { return mode->run(lanes[static_cast<std::size_t>(i)]); });
  io.run();
  report.print_summary(run.stopped_by());
  return run.failed() || !report.any_opened() ? app::kFailure : app::kOk;
}

}  // namespace

int main(int argc, char** argv) {
  Settings settings;
  if (auto code = parse_settings(argc, argv, settings)) return *code;
  return run_hostile_peer(settings);
}
