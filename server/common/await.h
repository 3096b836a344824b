// Blocking on an asynchronous call from a thread that may block (the reconciler's, a key
// store's refresher): starts the call with a callback and waits for it. The callee's own
// deadline ends the call; `limit` only guards against a callback that never comes.
#ifndef ORDERQUERY_SERVER_COMMON_AWAIT_H_
#define ORDERQUERY_SERVER_COMMON_AWAIT_H_

#include <functional>
#include <future>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace orderquery {

// `start` receives the callback to hand to the asynchronous call. R is absl::Status or an
// absl::StatusOr<T>; DEADLINE_EXCEEDED naming `what` when no answer came within `limit`. The
// promise is shared, so a callback arriving after the limit is harmless.
template <typename R>
R AwaitCallback(const std::function<void(std::function<void(R)>)>& start, absl::Duration limit,
                absl::string_view what) {
  auto promise = std::make_shared<std::promise<R>>();
  std::future<R> future = promise->get_future();
  start([promise](R r) { promise->set_value(std::move(r)); });
  if (future.wait_for(absl::ToChronoMilliseconds(limit)) != std::future_status::ready) {
    return absl::DeadlineExceededError(absl::StrCat(what, " did not complete"));
  }
  return future.get();
}

}  // namespace orderquery

#endif  // ORDERQUERY_SERVER_COMMON_AWAIT_H_
