#include "libcore/util/worker_pool.hpp"

#include <algorithm>
#include <atomic>

namespace core::util {

struct WorkerPool::Job {
  Item fn;
  std::size_t n = 0;
  std::atomic<std::size_t> next{0};  // the next item to take
  std::mutex mutex;
  std::condition_variable finished;
  std::size_t done = 0;           // items run (under mutex)
  std::function<void()> on_done;  // called once, by whoever ran the last item

  // Takes and runs items until none are left.
  void drain() {
    std::size_t ran = 0;
    for (std::size_t i; (i = next.fetch_add(1, std::memory_order_relaxed)) < n; ++ran) fn(i);
    if (ran == 0) return;
    std::function<void()> callback;
    {
      std::lock_guard lock(mutex);
      done += ran;
      if (done != n) return;
      callback = std::move(on_done);
      finished.notify_all();
    }
    if (callback) callback();
  }
  bool taken() const { return next.load(std::memory_order_relaxed) >= n; }
};

WorkerPool::WorkerPool(unsigned workers) {
  workers = std::min(workers, kMaxWorkers);
  threads_.reserve(workers);
  for (unsigned i = 0; i < workers; ++i) threads_.emplace_back([this] { work(); });
}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& t : threads_) t.join();
}

unsigned WorkerPool::default_workers() {
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  return std::min(cores - 1, kMaxWorkers);
}

std::shared_ptr<WorkerPool::Job> WorkerPool::submit(std::size_t n, Item fn) {
  auto job = std::make_shared<Job>();
  job->fn = std::move(fn);
  job->n = n;
  if (n == 0 || threads_.empty()) return job;
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(job);
  }
  wake_.notify_all();
  return job;
}

std::shared_ptr<WorkerPool::Job> WorkerPool::submit(std::size_t n, Item fn, std::function<void()> done) {
  if (n == 0 || threads_.empty()) {
    auto job = submit(n, std::move(fn));
    job->drain();
    if (done) done();
    return job;
  }
  auto job = std::make_shared<Job>();
  job->fn = std::move(fn);
  job->n = n;
  job->on_done = std::move(done);
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(job);
  }
  wake_.notify_all();
  return job;
}

void WorkerPool::wait(Job& job) {
  job.drain();
  std::unique_lock lock(job.mutex);
  job.finished.wait(lock, [&] { return job.done == job.n; });
}

void WorkerPool::run(std::size_t n, Item fn) {
  auto job = submit(n, std::move(fn));
  wait(*job);
}

void WorkerPool::work() {
  for (;;) {
    std::shared_ptr<Job> job;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job = queue_.front();
      // Every item of the front job is taken once its cursor passes n:
      // drop it from the queue (the job lives on in its waiters).
      if (job->taken()) {
        queue_.pop_front();
        continue;
      }
    }
    job->drain();
    std::lock_guard lock(mutex_);
    if (!queue_.empty() && queue_.front() == job && job->taken()) queue_.pop_front();
  }
}

}  // namespace core::util
