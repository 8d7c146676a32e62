#pragma once
// Starting a coroutine in the node layer: every one is spawned with a
// completion handler that logs an exception escaping it, naming what it was
// doing and with whom ("p2p connection abc123@1.2.3.4:24100 (inbound)"),
// instead of `detached`, which would swallow it. Internal to node/ (Asio).

#include <exception>
#include <string>
#include <utility>

#include <spdlog/spdlog.h>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

namespace core::node {

// Logs the exception in `e`, if any, as "<what>: <message>".
inline void log_spawn_failure(const std::exception_ptr& e, const std::string& what) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    spdlog::error("{}: {}", what, ex.what());
  } catch (...) {
    spdlog::error("{}: unknown exception", what);
  }
}

// Starts `task` on `executor`; an exception escaping it is logged as
// "<what>: <message>" (never swallowed, never fatal to the node).
inline void spawn(const boost::asio::any_io_executor& executor, boost::asio::awaitable<void> task, std::string what) {
  boost::asio::co_spawn(executor, std::move(task),
                        [what = std::move(what)](std::exception_ptr e) { log_spawn_failure(e, what); });
}
inline void spawn(boost::asio::io_context& io, boost::asio::awaitable<void> task, std::string what) {
  spawn(io.get_executor(), std::move(task), std::move(what));
}

}  // namespace core::node
