#include "libcore/node/periodic.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "libcore/node/spawn.hpp"

namespace core::node {

namespace asio = boost::asio;

struct Periodic::State {
  State(asio::io_context& io_context, std::chrono::milliseconds p, std::function<void()> j, std::string w)
      : io(io_context), timer(io_context), period(p), job(std::move(j)), what(std::move(w)) {}
  asio::io_context& io;
  asio::steady_timer timer;
  std::chrono::milliseconds period;
  std::function<void()> job;
  std::string what;
  bool stopped = false;
};

namespace {

asio::awaitable<void> run(std::shared_ptr<Periodic::State> s);

}  // namespace

Periodic::Periodic(asio::io_context& io, std::chrono::milliseconds period, std::function<void()> job, std::string what)
    : state_(std::make_shared<State>(io, period, std::move(job), std::move(what))) {}

Periodic::~Periodic() { stop(); }

void Periodic::start() { spawn(state_->io, run(state_), state_->what); }

void Periodic::stop() {
  state_->stopped = true;
  state_->timer.cancel();
}

namespace {

asio::awaitable<void> run(std::shared_ptr<Periodic::State> s) {
  while (!s->stopped) {
    s->timer.expires_after(s->period);
    co_await s->timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (!s->stopped) s->job();
  }
}

}  // namespace

}  // namespace core::node
