#include "server/common/validation.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace orderquery {
namespace {

bool IsAlnum(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// Checks length and alphabet; the message names the field and the rule, never echoes more
// than a short prefix of the input (it may be hostile).
template <typename Pred>
absl::Status Check(absl::string_view value, absl::string_view field, size_t max_len,
                   absl::string_view rule, Pred ok) {
  if (value.empty()) return absl::InvalidArgumentError(absl::StrCat(field, " is required"));
  if (value.size() > max_len) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " is ", value.size(), " bytes; at most ", max_len, " allowed"));
  }
  for (char c : value) {
    if (!ok(c)) {
      return absl::InvalidArgumentError(absl::StrCat(field, " may contain only ", rule));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateOutTradeNo(absl::string_view no, absl::string_view field) {
  return Check(no, field, 32, "[0-9A-Za-z_*-]",
               [](char c) { return IsAlnum(c) || c == '_' || c == '*' || c == '-'; });
}

absl::Status ValidateMchId(absl::string_view id, absl::string_view field) {
  return Check(id, field, 32, "digits", [](char c) { return c >= '0' && c <= '9'; });
}

absl::Status ValidateTradeOrderId(absl::string_view id, absl::string_view field) {
  return Check(id, field, 64, "[0-9A-Za-z_-]",
               [](char c) { return IsAlnum(c) || c == '_' || c == '-'; });
}

}  // namespace orderquery
