// Text helpers every layer shares: the one percent-encoder and the one UTF-8 cleaner/truncator.
#ifndef ORDERQUERY_SERVER_COMMON_TEXT_H_
#define ORDERQUERY_SERVER_COMMON_TEXT_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace orderquery::text {

// RFC 3986 percent-encoding of everything but the unreserved characters [A-Za-z0-9-._~], with
// upper-case hex digits: safe in a path segment and in a query value.
std::string PercentEncode(absl::string_view text);

// At most `max_bytes` bytes of `text`, cut at the start of a UTF-8 sequence, never inside one.
std::string TruncateUtf8(absl::string_view text, size_t max_bytes);

// Untrusted text made safe for a status message or a log line: control characters become
// spaces, a byte that cannot start a UTF-8 sequence becomes '?', and the result is cut at a
// character boundary after at most `max_bytes` bytes, with `ellipsis` appended when cut.
std::string CleanUtf8(absl::string_view text, size_t max_bytes, absl::string_view ellipsis = "...");

}  // namespace orderquery::text

#endif  // ORDERQUERY_SERVER_COMMON_TEXT_H_
