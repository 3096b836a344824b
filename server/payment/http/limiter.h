// Per-key concurrency cap with a bounded FIFO queue. One key is one merchant: capping what we
// send per merchant keeps us under the provider's rate limit instead of earning 429s.
//
// Not thread-safe by itself: LimitingTransport (its one user) guards it with its own mutex, which
// also covers the map of waiting requests. Ids are the caller's; the limiter never runs anything,
// it says who may run.
#ifndef ORDERQUERY_SERVER_PAYMENT_HTTP_LIMITER_H_
#define ORDERQUERY_SERVER_PAYMENT_HTTP_LIMITER_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>

namespace orderquery::payment::http {

class KeyedLimiter {
 public:
  // max_inflight_per_key == 0 means no cap (and nothing is ever queued).
  KeyedLimiter(int max_inflight_per_key, size_t max_queue_per_key)
      : max_inflight_(max_inflight_per_key), max_queue_(max_queue_per_key) {}

  enum class Admission { kRun, kQueued, kRejected };

  // Asks for a slot. An empty key is never capped. `priority` entries (retries of a request that
  // already waited its turn) go to the front of the queue and ignore the queue bound, so a retry
  // is never rejected for congestion it did not add to.
  Admission Acquire(const std::string& key, uint64_t id, bool priority = false);

  // Gives back the slot held for `key` and hands it to the first queued id, which the caller
  // must now run (it holds the slot). nullopt when nobody waits.
  std::optional<uint64_t> Release(const std::string& key);

  // Drops a queued id (its deadline passed). True if it was queued.
  bool Cancel(const std::string& key, uint64_t id);

  int inflight(const std::string& key) const;
  size_t queued(const std::string& key) const;

 private:
  struct Slot {
    int inflight = 0;
    std::deque<uint64_t> waiting;
  };

  int max_inflight_;
  size_t max_queue_;
  // Entries are erased when idle so the map does not grow with every merchant ever seen.
  std::unordered_map<std::string, Slot> slots_;
};

}  // namespace orderquery::payment::http

#endif  // ORDERQUERY_SERVER_PAYMENT_HTTP_LIMITER_H_
