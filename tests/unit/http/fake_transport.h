// Fakes for the transport decorators' unit tests: a Transport that holds every request until
// the test answers it, and Timers that fire only when the test says so.
#ifndef ORDERQUERY_TESTS_UNIT_HTTP_FAKE_TRANSPORT_H_
#define ORDERQUERY_TESTS_UNIT_HTTP_FAKE_TRANSPORT_H_

#include <map>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "server/payment/http/attempt_marks.h"
#include "server/payment/http/timers.h"
#include "server/payment/http/transport.h"

namespace orderquery::payment::http::testing {

// Records each Send; Answer(i, ...) calls the i-th request's callback (on the test's thread).
class ScriptedTransport final : public Transport {
 public:
  struct Sent {
    Request request;
    Callback done;
    bool answered = false;
  };

  void Send(Request request, Callback done) override {
    if (shut_) {
      done(internal::ShutDownError());
      return;
    }
    sent_.push_back(Sent{std::move(request), std::move(done)});
  }

  // Fails what is unanswered (CANCELLED), as the curl transport does.
  void Shutdown() override {
    ++shutdowns_;
    shut_ = true;
    for (size_t i = 0; i < sent_.size(); ++i) {
      if (!sent_[i].answered) Answer(i, internal::ShutDownError());
    }
  }

  void Answer(size_t i, absl::StatusOr<Response> outcome) {
    Sent& s = sent_.at(i);
    s.answered = true;
    Callback done = s.done;  // the callback may send again (a retry), growing sent_
    done(std::move(outcome));
  }

  size_t sent() const { return sent_.size(); }
  const Request& request(size_t i) const { return sent_.at(i).request; }
  int shutdowns() const { return shutdowns_; }

 private:
  std::vector<Sent> sent_;
  bool shut_ = false;
  int shutdowns_ = 0;
};

// Timers fired by hand: FireAll(now) runs every timer due at `now` (OK), Shutdown() fails the
// rest (CANCELLED), as the curl loop does when it stops.
class ManualTimers final : public Timers {
 public:
  TimerId RunAt(absl::Time when, TimerFn fn) override {
    std::lock_guard<std::mutex> lock(mu_);
    const TimerId id = next_++;
    timers_.emplace(id, Entry{when, std::move(fn)});
    return id;
  }

  bool Cancel(TimerId id) override {
    std::lock_guard<std::mutex> lock(mu_);
    return timers_.erase(id) > 0;
  }

  // Runs the due timers in due order; returns how many ran.
  int FireDue(absl::Time now) {
    int ran = 0;
    for (;;) {
      TimerFn fn;
      {
        std::lock_guard<std::mutex> lock(mu_);
        auto first = timers_.end();
        for (auto it = timers_.begin(); it != timers_.end(); ++it) {
          if (it->second.when <= now &&
              (first == timers_.end() || it->second.when < first->second.when))
            first = it;
        }
        if (first == timers_.end()) return ran;
        fn = std::move(first->second.fn);
        timers_.erase(first);
      }
      fn(absl::OkStatus());
      ++ran;
    }
  }

  void Shutdown() {
    std::map<TimerId, Entry> left;
    {
      std::lock_guard<std::mutex> lock(mu_);
      left.swap(timers_);
    }
    for (auto& [id, e] : left) e.fn(internal::ShutDownError());
  }

  size_t pending() const {
    std::lock_guard<std::mutex> lock(mu_);
    return timers_.size();
  }
  // Due time of the only pending timer (tests arm one at a time).
  std::optional<absl::Time> only_due() const {
    std::lock_guard<std::mutex> lock(mu_);
    if (timers_.size() != 1) return std::nullopt;
    return timers_.begin()->second.when;
  }

 private:
  struct Entry {
    absl::Time when;
    TimerFn fn;
  };
  mutable std::mutex mu_;
  TimerId next_ = 1;
  std::map<TimerId, Entry> timers_;
};

inline Response WithStatus(int status, Headers headers = {}) {
  Response r;
  r.status = status;
  r.headers = std::move(headers);
  return r;
}

}  // namespace orderquery::payment::http::testing

#endif  // ORDERQUERY_TESTS_UNIT_HTTP_FAKE_TRANSPORT_H_
