#pragma once
// A job run every `period` on the node's strand until stop(): the sync
// tick, the partition check, the address book writer. Asio-free header.
//
// Threads: the io_context's; start and stop from it.

#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace boost::asio {
class io_context;
}

namespace core::node {

class Periodic {
 public:
  // `what` names the job in the log if it ever throws.
  Periodic(boost::asio::io_context& io, std::chrono::milliseconds period, std::function<void()> job, std::string what);
  ~Periodic();
  Periodic(const Periodic&) = delete;
  Periodic& operator=(const Periodic&) = delete;

  // The first run is one period after start().
  void start();
  void stop();

  struct State;  // opaque (periodic.cpp)

 private:
  std::shared_ptr<State> state_;
};

}  // namespace core::node
