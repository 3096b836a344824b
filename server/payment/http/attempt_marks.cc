#include "server/payment/http/attempt_marks.h"

#include <cstdint>
#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace orderquery::payment::http::internal {
namespace {

constexpr char kNotSentUrl[] = "type.orderquery/http.not-sent";
constexpr char kAttemptTimeoutUrl[] = "type.orderquery/http.attempt-timeout";
constexpr char kElapsedUrl[] = "type.orderquery/http.elapsed-ns";

}  // namespace

absl::Status MarkNotSent(absl::Status status) {
  status.SetPayload(kNotSentUrl, absl::Cord("1"));
  return status;
}

bool IsNotSent(const absl::Status& status) { return status.GetPayload(kNotSentUrl).has_value(); }

absl::Status MarkAttemptTimeout(absl::Status status) {
  status.SetPayload(kAttemptTimeoutUrl, absl::Cord("1"));
  return status;
}

bool IsAttemptTimeout(const absl::Status& status) {
  return status.GetPayload(kAttemptTimeoutUrl).has_value();
}

absl::Status MarkElapsed(absl::Status status, absl::Duration elapsed) {
  status.SetPayload(kElapsedUrl, absl::Cord(absl::StrCat(absl::ToInt64Nanoseconds(elapsed))));
  return status;
}

absl::Duration ElapsedOf(const absl::StatusOr<Response>& outcome) {
  if (outcome.ok()) return outcome->elapsed;
  auto payload = outcome.status().GetPayload(kElapsedUrl);
  int64_t ns = 0;
  if (!payload.has_value() || !absl::SimpleAtoi(std::string(*payload), &ns)) {
    return absl::ZeroDuration();
  }
  return absl::Nanoseconds(ns);
}

void ClearMarks(absl::StatusOr<Response>& outcome) {
  if (outcome.ok()) return;
  absl::Status s = outcome.status();
  const bool marked = s.ErasePayload(kNotSentUrl) | s.ErasePayload(kAttemptTimeoutUrl) |
                      s.ErasePayload(kElapsedUrl);
  if (marked) outcome = s;
}

absl::Status ShutDownError() { return absl::CancelledError("http transport shut down"); }

}  // namespace orderquery::payment::http::internal
