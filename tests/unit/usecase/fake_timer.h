// A DeadlineTimer the test drives: nothing fires until FireDue(now).
#ifndef ORDERQUERY_TESTS_UNIT_USECASE_FAKE_TIMER_H_
#define ORDERQUERY_TESTS_UNIT_USECASE_FAKE_TIMER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include "server/usecase/coalescer.h"

namespace orderquery::usecase {

class FakeDeadlineTimer : public DeadlineTimer {
 public:
  uint64_t At(absl::Time when, std::function<void()> fn) override {
    std::lock_guard<std::mutex> l(mu_);
    const uint64_t id = next_++;
    timers_[id] = {when, std::move(fn)};
    return id;
  }
  void Cancel(uint64_t id) override {
    std::lock_guard<std::mutex> l(mu_);
    timers_.erase(id);
  }
  // Runs (on this thread, outside the lock) every timer due at `now`; returns how many.
  int FireDue(absl::Time now) {
    std::vector<std::function<void()>> due;
    {
      std::lock_guard<std::mutex> l(mu_);
      for (auto it = timers_.begin(); it != timers_.end();) {
        if (it->second.first <= now) {
          due.push_back(std::move(it->second.second));
          it = timers_.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (auto& fn : due) fn();
    return static_cast<int>(due.size());
  }
  size_t Armed() {
    std::lock_guard<std::mutex> l(mu_);
    return timers_.size();
  }

 private:
  std::mutex mu_;
  uint64_t next_ = 1;
  std::map<uint64_t, std::pair<absl::Time, std::function<void()>>> timers_;
};

}  // namespace orderquery::usecase

#endif  // ORDERQUERY_TESTS_UNIT_USECASE_FAKE_TIMER_H_
