// The one file reader for configuration material (keys, certificates, tokens). Header-only: the
// installed C++ client library compiles it in too.
#ifndef ORDERQUERY_SERVER_COMMON_FILES_H_
#define ORDERQUERY_SERVER_COMMON_FILES_H_

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <fstream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace orderquery::files {

// The whole file, byte for byte. INVALID_ARGUMENT "<what>: cannot read <path> (<reason>)" when it
// cannot be opened or read, or "<what>: <path> is larger than N bytes" beyond `max_bytes` (such
// material is small; a huge file is a wrong path). `what` names the setting, e.g. "tls.ca_file".
inline absl::StatusOr<std::string> ReadFile(absl::string_view what, const std::string& path,
                                            size_t max_bytes = 1 << 20) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": cannot read ", path, " (", std::strerror(errno), ")"));
  }
  std::string text;
  char buf[4096];
  while (in.read(buf, sizeof(buf)) || in.gcount() > 0) {
    text.append(buf, static_cast<size_t>(in.gcount()));
    if (text.size() > max_bytes) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": ", path, " is larger than ", max_bytes, " bytes"));
    }
  }
  if (in.bad()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": cannot read ", path, " (I/O error)"));
  }
  return text;
}

}  // namespace orderquery::files

#endif  // ORDERQUERY_SERVER_COMMON_FILES_H_
