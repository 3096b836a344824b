// What every transport layer shares: the reply's header lookup and the attempt count a final
// outcome carries.
#include "server/payment/http/transport.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"

namespace orderquery::payment::http {

const std::string* Response::Header(absl::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (absl::EqualsIgnoreCase(key, name)) return &value;
  }
  return nullptr;
}

int AttemptsOf(const absl::StatusOr<Response>& outcome) {
  int attempts = 0;
  if (outcome.ok()) {
    // The transport appends its header last; an upstream could send one of its own earlier.
    for (auto it = outcome->headers.rbegin(); it != outcome->headers.rend(); ++it) {
      if (it->first == kAttemptsHeader)
        return absl::SimpleAtoi(it->second, &attempts) ? attempts : 0;
    }
    return 0;
  }
  auto payload = outcome.status().GetPayload(kAttemptsPayloadUrl);
  if (!payload.has_value() || !absl::SimpleAtoi(std::string(*payload), &attempts)) return 0;
  return attempts;
}

}  // namespace orderquery::payment::http
