#pragma once
// Timing and running the probe's coroutines: the steady clock every step is
// timed on, and run_all, which runs a batch of coroutines to completion on
// the calling thread.

#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

namespace tpeer_probe {

using Clock = std::chrono::steady_clock;

// Milliseconds from `from` to `to`, and from `from` to now.
inline double ms_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}
inline double ms_since(Clock::time_point from) { return ms_between(from, Clock::now()); }

// Runs `make()` for every index on `io`, concurrently, until all finish.
// An exception escaping a coroutine is a bug: it is rethrown here.
template <typename T>
std::vector<T> run_all(boost::asio::io_context& io, std::size_t count,
                       const std::function<boost::asio::awaitable<T>(std::size_t)>& make) {
  std::vector<std::optional<T>> results(count);
  std::exception_ptr error;
  for (std::size_t i = 0; i < count; ++i)
    boost::asio::co_spawn(io, make(i), [&results, &error, i](const std::exception_ptr& e, T value) {
      if (e && !error) error = e;
      if (!e) results[i] = std::move(value);
    });
  io.run();
  if (error) std::rethrow_exception(error);
  std::vector<T> out;
  out.reserve(count);
  for (auto& r : results) out.push_back(std::move(*r));
  return out;
}

}  // namespace tpeer_probe
