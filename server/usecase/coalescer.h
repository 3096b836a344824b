// Concurrent identical requests share one piece of work: the first caller for a key leads and
// does it; the others wait for its result. In-process only: across replicas the database's
// last-queried time bounds how often an order is asked upstream.
#ifndef ORDERQUERY_SERVER_USECASE_COALESCER_H_
#define ORDERQUERY_SERVER_USECASE_COALESCER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace orderquery::usecase {

template <typename T>
class Coalescer {
 public:
  using Done = std::function<void(const absl::StatusOr<T>&)>;

  // Adds `done` to the waiters for `key`. True when the caller is the leader and must start the
  // work (and later call Complete); false when it joined work already under way.
  bool Join(const std::string& key, Done done) {
    std::lock_guard<std::mutex> lock(mu_);
    auto& waiters = inflight_[key];
    waiters.push_back(std::move(done));
    if (waiters.size() == 1) return true;
    joins_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }

  // Callers that joined work already under way, since creation.
  int64_t joins() const { return joins_.load(std::memory_order_relaxed); }

  // Delivers `result` to every waiter of `key` (outside the lock) and forgets the key.
  void Complete(const std::string& key, const absl::StatusOr<T>& result) {
    std::vector<Done> waiters;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = inflight_.find(key);
      if (it == inflight_.end()) return;
      waiters = std::move(it->second);
      inflight_.erase(it);
    }
    for (auto& w : waiters) w(result);
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::vector<Done>> inflight_;
  std::atomic<int64_t> joins_{0};
};

}  // namespace orderquery::usecase

#endif  // ORDERQUERY_SERVER_USECASE_COALESCER_H_
