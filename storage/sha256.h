// SHA-256 as lowercase hex: session tokens are stored only as this digest, and migrations are
// identified by the digest of their text.
#ifndef ORDERQUERY_STORAGE_SHA256_H_
#define ORDERQUERY_STORAGE_SHA256_H_

#include <string>

#include "absl/strings/string_view.h"

namespace orderquery::storage {

// 64 lowercase hex characters.
std::string Sha256Hex(absl::string_view data);

}  // namespace orderquery::storage

#endif  // ORDERQUERY_STORAGE_SHA256_H_
