// Marks the layers of the transport stack put on an attempt's failure Status for the layers above
// (status payloads, so they travel with the Status through any decorator). RetryingTransport
// reads them and strips them: a caller never sees them. Internal to server/payment/http.
#ifndef ORDERQUERY_SERVER_PAYMENT_HTTP_ATTEMPT_MARKS_H_
#define ORDERQUERY_SERVER_PAYMENT_HTTP_ATTEMPT_MARKS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/payment/http/transport.h"

namespace orderquery::payment::http::internal {

// Nothing went out (deadline already passed, limiter queue full or timed out, no curl handle):
// not an attempt, and after a retry the previous attempt's outcome says more.
absl::Status MarkNotSent(absl::Status status);
bool IsNotSent(const absl::Status& status);

// The per-attempt timeout (TransportOptions::request_timeout/connect_timeout) ended the
// exchange, not the caller's deadline: RetryOptions::retry_on_timeout may retry it.
absl::Status MarkAttemptTimeout(absl::Status status);
bool IsAttemptTimeout(const absl::Status& status);

// How long the exchange took on the wire: Response::elapsed, or the payload the curl transport
// puts on a failure. Zero when unknown.
absl::Status MarkElapsed(absl::Status status, absl::Duration elapsed);
absl::Duration ElapsedOf(const absl::StatusOr<Response>& outcome);

// What every layer answers a request it can no longer serve: CANCELLED, "http transport shut
// down" (a request sent after Shutdown, or one not yet answered when it came).
absl::Status ShutDownError();

// The outcome without the marks above (the attempts payload is kept).
void ClearMarks(absl::StatusOr<Response>& outcome);

}  // namespace orderquery::payment::http::internal

#endif  // ORDERQUERY_SERVER_PAYMENT_HTTP_ATTEMPT_MARKS_H_
