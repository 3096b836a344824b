// A bounded, thread-safe cache whose entries expire: bounded in entries and in bytes (the
// caller says what an entry weighs), oldest-inserted evicted first, counted (hits, misses,
// evictions) for the metrics endpoint. Entries carry their own expiry, so a cached session
// never outlives the session itself.
#ifndef ORDERQUERY_SERVER_USECASE_TTL_CACHE_H_
#define ORDERQUERY_SERVER_USECASE_TTL_CACHE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

#include "absl/time/time.h"

namespace orderquery::usecase {

template <typename V>
class TtlCache {
 public:
  TtlCache(size_t max_entries, size_t max_bytes)
      : max_entries_(max_entries), max_bytes_(max_bytes) {}

  // nullopt when absent or expired at `now` (an expired entry is dropped).
  std::optional<V> Get(const std::string& key, absl::Time now) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = map_.find(key);
    if (it == map_.end() || it->second.expires <= now) {
      if (it != map_.end()) Drop(it);
      misses_.fetch_add(1, std::memory_order_relaxed);
      return std::nullopt;
    }
    hits_.fetch_add(1, std::memory_order_relaxed);
    return it->second.value;
  }

  // Inserts or replaces; `bytes` is what the entry weighs (key included). An entry heavier than
  // the whole budget is not kept.
  void Put(const std::string& key, V value, absl::Time expires, size_t bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    if (max_entries_ == 0 || bytes > max_bytes_) return;
    if (auto it = map_.find(key); it != map_.end()) Drop(it);
    while (!order_.empty() && (map_.size() >= max_entries_ || bytes_ + bytes > max_bytes_)) {
      auto victim = map_.find(order_.front().first);
      // A stale queue slot (the key was replaced or erased since) just goes.
      if (victim != map_.end() && victim->second.generation == order_.front().second) {
        Drop(victim);
        evictions_.fetch_add(1, std::memory_order_relaxed);
      }
      order_.pop_front();
    }
    const uint64_t generation = ++generation_;
    map_.emplace(key, Entry{std::move(value), expires, bytes, generation});
    order_.emplace_back(key, generation);
    bytes_ += bytes;
    // Keep the queue from growing with replaced keys' stale slots.
    if (order_.size() > 2 * max_entries_ + 16) Compact();
  }

  void Erase(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = map_.find(key); it != map_.end()) Drop(it);
  }

  size_t size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return map_.size();
  }
  size_t bytes() const {
    std::lock_guard<std::mutex> lock(mu_);
    return bytes_;
  }
  int64_t hits() const { return hits_.load(std::memory_order_relaxed); }
  int64_t misses() const { return misses_.load(std::memory_order_relaxed); }
  int64_t evictions() const { return evictions_.load(std::memory_order_relaxed); }

 private:
  struct Entry {
    V value;
    absl::Time expires;
    size_t bytes;
    uint64_t generation;
  };
  using Map = std::unordered_map<std::string, Entry>;

  void Drop(typename Map::iterator it) {
    bytes_ -= it->second.bytes;
    map_.erase(it);
  }
  void Compact() {
    std::deque<std::pair<std::string, uint64_t>> live;
    for (auto& slot : order_) {
      auto it = map_.find(slot.first);
      if (it != map_.end() && it->second.generation == slot.second) live.push_back(slot);
    }
    order_.swap(live);
  }

  const size_t max_entries_;
  const size_t max_bytes_;
  mutable std::mutex mu_;
  Map map_;
  std::deque<std::pair<std::string, uint64_t>> order_;  // insertion order: (key, generation)
  size_t bytes_ = 0;
  uint64_t generation_ = 0;
  std::atomic<int64_t> hits_{0}, misses_{0}, evictions_{0};
};

}  // namespace orderquery::usecase

#endif  // ORDERQUERY_SERVER_USECASE_TTL_CACHE_H_
