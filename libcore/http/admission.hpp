#pragma once
// Who gets an HTTP connection slot (DESIGN.md section 11: "HTTP has a per-IP
// connection cap ... so monitoring keeps working under slow or idle
// clients"). Pure: no sockets, no clocks (times are passed in); the Server
// (server.cpp) calls admit() on its strand for every accepted connection
// and carries out the verdict.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace core::http {

// What an open connection is doing, as far as admission cares.
enum class Phase {
  Idle,        // waiting for the first byte of a request (just accepted, or between keep-alive requests)
  Headers,     // a request line and headers are arriving
  Body,        // a request body is arriving
  Responding,  // a response is being written (or drained after an error): never closed for a newcomer
};

const char* to_string(Phase p);

// One open connection as admit() sees it.
struct OpenConnection {
  std::uint64_t id = 0;
  std::string source;  // source_key() of the peer's address
  Phase phase = Phase::Idle;
  std::chrono::steady_clock::time_point since{};  // when `phase` began
};

struct Admission {
  enum class Verdict {
    Admit,            // a slot is free
    AdmitEvicting,    // close connection `evict` first, then serve the newcomer in its slot
    RefuseFull,       // every slot is taken and none may be given up
    RefusePerSource,  // the newcomer's source already holds max_per_source connections
  };
  Verdict verdict = Verdict::Admit;
  std::uint64_t evict = 0;  // AdmitEvicting only

  bool operator==(const Admission&) const = default;
};

// The verdict for a newcomer from `source` given the connections now open.
//
//   * Its source holding max_per_source connections already: RefusePerSource.
//   * Fewer than max_connections open: Admit.
//   * Full: the newcomer takes the slot of a connection from a more crowded
//     source, one holding at least two more connections than the
//     newcomer's (after the swap the newcomer's source still holds fewer
//     than that source held, so the spread only evens out and two sources
//     never take slots back and forth). The most crowded such source gives
//     up a connection; within it a connection waiting on its client (Idle
//     or Headers) goes before one sending a body, the one waiting longest
//     (oldest `since`) first. A connection writing a response is never
//     chosen. With no candidate: RefuseFull.
//
// So a source (or a few) can fill the server but never keep out a client
// from another address: a newcomer holding no connection gets in as long as
// any source holds two or more connections that are not being answered.
// Ties are broken by the lower id (deterministic).
Admission admit(std::span<const OpenConnection> open, std::string_view source, std::size_t max_connections,
                std::size_t max_per_source);

// The key a peer address is counted under for max_per_source: an IPv4
// address as written; an IPv4-mapped IPv6 address as its IPv4 address; any
// other IPv6 address by its /64 ("2001:db8:1:2::/64"), since one host
// commonly holds a whole /64. Text that is not an IP address is its own key.
std::string source_key(std::string_view address);

}  // namespace core::http
