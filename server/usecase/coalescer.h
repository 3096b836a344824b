// Concurrent identical requests share one piece of work: the first caller for a key leads and
// starts it; the others wait for its result. In-process only: across replicas the database's
// last-queried time bounds how often an order is asked upstream.
//
// Each caller keeps its own deadline: one whose deadline passes before the work is done gets
// DEADLINE_EXCEEDED then (from a DeadlineTimer), while the work goes on for the others and its
// result is still delivered to whoever waits, and stored by the use case. So the shared work
// must not be bounded by the leader's deadline: the use cases give the upstream call a deadline
// of its own from config (the longest one upstream exchange may take, retries included).
#ifndef ORDERQUERY_SERVER_USECASE_COALESCER_H_
#define ORDERQUERY_SERVER_USECASE_COALESCER_H_

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace orderquery::usecase {

// Runs callbacks at given times (callers' deadlines). Tests inject a fake one.
class DeadlineTimer {
 public:
  virtual ~DeadlineTimer() = default;
  // Runs `fn` once at `when` (soon, when it has passed), never inline, unless cancelled first.
  virtual uint64_t At(absl::Time when, std::function<void()> fn) = 0;
  // Drops a timer that has not fired yet; a no-op otherwise (its `fn` may be running).
  virtual void Cancel(uint64_t id) = 0;
};

// The real DeadlineTimer: one thread waiting for the earliest due time. Its destructor drops
// whatever has not fired and joins the thread, so no callback runs after it.
class ThreadDeadlineTimer final : public DeadlineTimer {
 public:
  ThreadDeadlineTimer() : thread_([this] { Loop(); }) {}
  ~ThreadDeadlineTimer() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  ThreadDeadlineTimer(const ThreadDeadlineTimer&) = delete;
  ThreadDeadlineTimer& operator=(const ThreadDeadlineTimer&) = delete;

  uint64_t At(absl::Time when, std::function<void()> fn) override {
    std::lock_guard<std::mutex> lock(mu_);
    const uint64_t id = next_id_++;
    auto it = due_.emplace(when, Entry{id, std::move(fn)});
    by_id_[id] = it;
    cv_.notify_all();
    return id;
  }
  void Cancel(uint64_t id) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = by_id_.find(id);
    if (it == by_id_.end()) return;
    due_.erase(it->second);
    by_id_.erase(it);
  }

 private:
  struct Entry {
    uint64_t id;
    std::function<void()> fn;
  };
  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
      if (due_.empty()) {
        cv_.wait(lock);
        continue;
      }
      const absl::Time first = due_.begin()->first;
      const absl::Time now = absl::Now();
      if (now < first) {
        // At most an hour at a time: a far deadline must not overflow the chrono conversion.
        cv_.wait_until(lock, absl::ToChronoTime(std::min(first, now + absl::Hours(1))));
        continue;
      }
      Entry e = std::move(due_.begin()->second);
      due_.erase(due_.begin());
      by_id_.erase(e.id);
      lock.unlock();
      e.fn();
      lock.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  uint64_t next_id_ = 1;
  std::multimap<absl::Time, Entry> due_;
  std::map<uint64_t, std::multimap<absl::Time, Entry>::iterator> by_id_;
  std::thread thread_;  // last: starts after the state above exists
};

template <typename T>
class Coalescer {
 public:
  using Done = std::function<void(const absl::StatusOr<T>&)>;

  // `timer` fires callers' deadlines; null = a ThreadDeadlineTimer of its own, started at the
  // first caller with a deadline. An injected timer must outlive the coalescer's callers.
  explicit Coalescer(DeadlineTimer* timer = nullptr) : timer_(timer) {}
  Coalescer(const Coalescer&) = delete;
  Coalescer& operator=(const Coalescer&) = delete;

  // Adds `done` to the waiters for `key`. It runs exactly once: with the work's result, or with
  // DEADLINE_EXCEEDED at `deadline` if the result has not come by then (InfiniteFuture: no
  // deadline). True when the caller is the leader and must start the work (and later call
  // Complete), even if its own deadline passes first; false when it joined work under way.
  bool Join(const std::string& key, absl::Time deadline, Done done) {
    std::unique_lock<std::mutex> lock(mu_);
    auto [it, leader] = inflight_.try_emplace(key);
    Work& work = it->second;
    const uint64_t id = next_waiter_++;
    Waiter& w = work.waiters[id];
    w.done = std::move(done);
    if (!leader) joins_.fetch_add(1, std::memory_order_relaxed);
    if (deadline != absl::InfiniteFuture()) {
      DeadlineTimer* timer = TimerLocked();
      // The timer never runs its callback inline, so holding the lock here is safe.
      w.timer = timer->At(deadline, [this, key, id] { Expire(key, id); });
      w.has_timer = true;
    }
    return leader;
  }

  // Callers that joined work already under way, since creation.
  int64_t joins() const { return joins_.load(std::memory_order_relaxed); }
  // Callers that left at their own deadline before the work finished, since creation.
  int64_t expired() const { return expired_.load(std::memory_order_relaxed); }

  // Delivers `result` to every caller of `key` still waiting (outside the lock) and forgets the
  // key; the next Join for it leads new work.
  void Complete(const std::string& key, const absl::StatusOr<T>& result) {
    std::map<uint64_t, Waiter> waiters;
    DeadlineTimer* timer = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = inflight_.find(key);
      if (it == inflight_.end()) return;
      waiters = std::move(it->second.waiters);
      inflight_.erase(it);
      timer = timer_;
    }
    for (auto& [id, w] : waiters) {
      if (w.has_timer) timer->Cancel(w.timer);
      w.done(result);
    }
  }

 private:
  struct Waiter {
    Done done;
    bool has_timer = false;
    uint64_t timer = 0;
  };
  struct Work {
    std::map<uint64_t, Waiter> waiters;
  };

  DeadlineTimer* TimerLocked() {
    if (timer_ == nullptr) {
      own_timer_ = std::make_unique<ThreadDeadlineTimer>();
      timer_ = own_timer_.get();
    }
    return timer_;
  }

  // A caller's deadline passed: it leaves with DEADLINE_EXCEEDED; the work goes on.
  void Expire(const std::string& key, uint64_t id) {
    Done done;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = inflight_.find(key);
      if (it == inflight_.end()) return;
      auto w = it->second.waiters.find(id);
      if (w == it->second.waiters.end()) return;
      done = std::move(w->second.done);
      it->second.waiters.erase(w);
    }
    expired_.fetch_add(1, std::memory_order_relaxed);
    done(absl::DeadlineExceededError(
        "deadline exceeded waiting for the upstream answer (the query goes on; ask again)"));
  }

  std::mutex mu_;
  std::map<std::string, Work> inflight_;
  uint64_t next_waiter_ = 1;
  std::atomic<int64_t> joins_{0};
  std::atomic<int64_t> expired_{0};
  DeadlineTimer* timer_;
  // Declared last, so destroyed first: its thread is joined before the state its callbacks use.
  std::unique_ptr<ThreadDeadlineTimer> own_timer_;
};

}  // namespace orderquery::usecase

#endif  // ORDERQUERY_SERVER_USECASE_COALESCER_H_
