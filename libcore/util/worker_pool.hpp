#pragma once
// A small pool of worker threads for pure, CPU-bound work on immutable
// inputs (signature verification, hashing). Nothing here touches node
// state: a caller hands out a job of `n` independent items, the workers
// (and the caller, while it waits) run them, and the results come back to
// the caller's thread, which alone uses them. So the node's state keeps its
// one owner, and only the pure part of the work runs on every core.
//
//   util::WorkerPool pool(util::WorkerPool::default_workers());
//   std::vector<char> ok(headers.size());
//   pool.run(headers.size(), [&](std::size_t i) { ok[i] = verify(headers[i]); });
//
// `submit` returns at once, so the caller can do other work (write the last
// batch to the store) while the pool verifies the next one; `wait` then
// joins in and returns when every item has run. Or `done` is called when
// the last item has run, and posts the results to their owner's thread.
//
// Threads: submit/wait/run from any one thread at a time per job; the pool
// itself is thread-safe. Item functions must not throw (a throw ends the
// process, like any uncaught exception in a worker).

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace core::util {

class WorkerPool {
 public:
  struct Job;
  using Item = std::function<void(std::size_t)>;

  // `workers` threads besides the callers (0: every item runs in wait()).
  explicit WorkerPool(unsigned workers);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // One worker per core beyond the caller's: hardware_concurrency - 1
  // (at least 0), at most kMaxWorkers.
  static unsigned default_workers();
  static constexpr unsigned kMaxWorkers = 64;

  unsigned workers() const { return static_cast<unsigned>(threads_.size()); }

  // Starts `fn(i)` for every i in [0, n) on the workers. `fn` and what it
  // reads must outlive the wait() on the returned job.
  std::shared_ptr<Job> submit(std::size_t n, Item fn);
  // The same, and `done` runs once every item has run, on the thread that
  // ran the last one (a worker; this thread when there is nothing to do
  // or no worker). For handing results back: `done` posts to their owner.
  std::shared_ptr<Job> submit(std::size_t n, Item fn, std::function<void()> done);
  // Runs the job's remaining items on this thread too; returns when all of
  // them have run.
  void wait(Job& job);
  // submit + wait.
  void run(std::size_t n, Item fn);

 private:
  void work();

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::shared_ptr<Job>> queue_;  // jobs with items not yet taken
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace core::util
