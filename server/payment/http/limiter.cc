#include "server/payment/http/limiter.h"

#include <algorithm>

namespace orderquery::payment::http {

KeyedLimiter::Admission KeyedLimiter::Acquire(const std::string& key, uint64_t id, bool priority) {
  if (key.empty() || max_inflight_ <= 0) return Admission::kRun;
  Slot& slot = slots_[key];
  if (slot.inflight < max_inflight_ && slot.waiting.empty()) {
    ++slot.inflight;
    return Admission::kRun;
  }
  if (priority) {
    slot.waiting.push_front(id);
    return Admission::kQueued;
  }
  if (slot.waiting.size() >= max_queue_) {
    if (slot.inflight == 0 && slot.waiting.empty()) slots_.erase(key);
    return Admission::kRejected;
  }
  slot.waiting.push_back(id);
  return Admission::kQueued;
}

std::optional<uint64_t> KeyedLimiter::Release(const std::string& key) {
  if (key.empty() || max_inflight_ <= 0) return std::nullopt;
  auto it = slots_.find(key);
  if (it == slots_.end()) return std::nullopt;
  Slot& slot = it->second;
  if (!slot.waiting.empty()) {
    // The slot passes straight to the next in line: inflight stays the same.
    uint64_t next = slot.waiting.front();
    slot.waiting.pop_front();
    return next;
  }
  if (slot.inflight > 0) --slot.inflight;
  if (slot.inflight == 0) slots_.erase(it);
  return std::nullopt;
}

bool KeyedLimiter::Cancel(const std::string& key, uint64_t id) {
  auto it = slots_.find(key);
  if (it == slots_.end()) return false;
  auto& waiting = it->second.waiting;
  auto pos = std::find(waiting.begin(), waiting.end(), id);
  if (pos == waiting.end()) return false;
  waiting.erase(pos);
  if (it->second.inflight == 0 && waiting.empty()) slots_.erase(it);
  return true;
}

int KeyedLimiter::inflight(const std::string& key) const {
  auto it = slots_.find(key);
  return it == slots_.end() ? 0 : it->second.inflight;
}

size_t KeyedLimiter::queued(const std::string& key) const {
  auto it = slots_.find(key);
  return it == slots_.end() ? 0 : it->second.waiting.size();
}

}  // namespace orderquery::payment::http
