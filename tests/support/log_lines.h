// Reading captured log output (server/common/log.h's one-line events) in tests.
#ifndef ORDERQUERY_TESTS_SUPPORT_LOG_LINES_H_
#define ORDERQUERY_TESTS_SUPPORT_LOG_LINES_H_

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace orderquery::test_support {

// The lines of `log` that are `event`.
inline std::vector<std::string> LinesOf(const std::string& log, absl::string_view event) {
  std::vector<std::string> out;
  for (absl::string_view line : absl::StrSplit(log, '\n')) {
    if (absl::StrContains(line, absl::StrCat("event=", event))) out.emplace_back(line);
  }
  return out;
}

}  // namespace orderquery::test_support

#endif  // ORDERQUERY_TESTS_SUPPORT_LOG_LINES_H_
