// Small text helpers shared by the WeChat adapter's sources (not part of its public API).
#ifndef ORDERQUERY_SERVER_PAYMENT_WECHAT_TEXT_H_
#define ORDERQUERY_SERVER_PAYMENT_WECHAT_TEXT_H_

#include <cstddef>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "server/payment/http/transport.h"

namespace orderquery::payment::wechat::internal {

// A bounded, printable-ASCII rendering of untrusted text for error messages: replies and
// headers can be hostile, and a status message must never carry control bytes or megabytes.
inline std::string Printable(absl::string_view text, size_t max_len = 64) {
  std::string out;
  const size_t n = text.size() < max_len ? text.size() : max_len;
  out.reserve(n + 3);
  for (size_t i = 0; i < n; ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    out.push_back(absl::ascii_isprint(c) ? static_cast<char>(c) : '?');
  }
  if (text.size() > max_len) out += "...";
  return out;
}

// The first value of header `name` (case-insensitive), and in *count how many there are, so
// callers can reject duplicates. The
// transport lower-cases names, but fakes and the sandbox need not.
inline const std::string* FindHeader(const http::Headers& headers, absl::string_view name,
                                     int* count) {
  const std::string* first = nullptr;
  *count = 0;
  for (const auto& [key, value] : headers) {
    if (absl::EqualsIgnoreCase(key, name)) {
      if (first == nullptr) first = &value;
      ++*count;
    }
  }
  return first;
}

}  // namespace orderquery::payment::wechat::internal

#endif  // ORDERQUERY_SERVER_PAYMENT_WECHAT_TEXT_H_
