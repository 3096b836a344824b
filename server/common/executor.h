// A bounded pool of threads for blocking work (Connector/C++ is blocking). Sized to the DB
// connection pool so that queued work waits here, not on a connection. When the queue is full
// TrySubmit refuses, and the caller answers RESOURCE_EXHAUSTED instead of piling up.
#ifndef ORDERQUERY_SERVER_COMMON_EXECUTOR_H_
#define ORDERQUERY_SERVER_COMMON_EXECUTOR_H_

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace orderquery {

class BlockingExecutor {
 public:
  BlockingExecutor(size_t threads, size_t max_queue);
  ~BlockingExecutor();  // runs what is queued, then joins
  BlockingExecutor(const BlockingExecutor&) = delete;
  BlockingExecutor& operator=(const BlockingExecutor&) = delete;

  // False when the queue is full or the executor is shutting down.
  bool TrySubmit(std::function<void()> task);
  // Tasks waiting for a thread (the metrics endpoint reads it).
  size_t queue_depth() const;

 private:
  void Loop();

  const size_t max_queue_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace orderquery

#endif  // ORDERQUERY_SERVER_COMMON_EXECUTOR_H_
