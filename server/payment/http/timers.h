// Timers of an event loop, for decorators that must wait without a thread sleeping: the retry
// backoff and the limiter's queue deadline run as timers of the curl transport's loop, so their
// work (the next attempt, the DEADLINE_EXCEEDED answer) happens on the loop thread with no
// hand-off to another thread.
#ifndef ORDERQUERY_SERVER_PAYMENT_HTTP_TIMERS_H_
#define ORDERQUERY_SERVER_PAYMENT_HTTP_TIMERS_H_

#include <cstdint>
#include <functional>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace orderquery::payment::http {

class Timers {
 public:
  using TimerId = uint64_t;
  // OK when the timer is due; CANCELLED when the timers shut down before it was.
  using TimerFn = std::function<void(absl::Status)>;

  virtual ~Timers() = default;

  // Runs fn(OkStatus()) on the loop thread at `when` (at the next turn of the loop if it has
  // passed). When the loop shuts down first, fn(CANCELLED) runs on the loop thread while it
  // stops, or at once on the calling thread if it has stopped. fn runs exactly once unless
  // Cancel returns true. Thread-safe; may be called from fn or a transport callback.
  virtual TimerId RunAt(absl::Time when, TimerFn fn) = 0;

  // Drops a timer that has not started running: true if it was dropped (fn will never run).
  // False if it ran, is running, or is unknown. Thread-safe.
  virtual bool Cancel(TimerId id) = 0;
};

}  // namespace orderquery::payment::http

#endif  // ORDERQUERY_SERVER_PAYMENT_HTTP_TIMERS_H_
