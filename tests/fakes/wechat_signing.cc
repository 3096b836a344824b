#include "tests/fakes/wechat_signing.h"

#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace orderquery::payment::wechat {
namespace {

// Long enough for any real header (a 2048-bit signature is 344 characters); the cap keeps a
// hostile header from costing more than a glance.
constexpr size_t kMaxAuthorizationSize = 4096;

void SkipSpaces(absl::string_view* s) {
  while (!s->empty() && (s->front() == ' ' || s->front() == '\t')) s->remove_prefix(1);
}

}  // namespace

absl::StatusOr<Authorization> ParseAuthorization(absl::string_view header) {
  if (header.size() > kMaxAuthorizationSize) {
    return absl::InvalidArgumentError("Authorization header is too long");
  }
  absl::string_view rest = header;
  SkipSpaces(&rest);
  if (!absl::ConsumePrefix(&rest, kAuthorizationScheme)) {
    return absl::InvalidArgumentError(
        absl::StrCat("Authorization scheme is not ", kAuthorizationScheme));
  }
  if (rest.empty() || rest.front() != ' ') {
    return absl::InvalidArgumentError("Authorization scheme is not followed by a space");
  }
  SkipSpaces(&rest);

  Authorization auth;
  std::pair<absl::string_view, std::string*> fields[] = {
      {"mchid", &auth.mchid},         {"nonce_str", &auth.nonce_str},
      {"signature", &auth.signature}, {"timestamp", &auth.timestamp},
      {"serial_no", &auth.serial_no},
  };
  bool seen[5] = {false, false, false, false, false};

  while (true) {
    const size_t eq = rest.find('=');
    if (eq == absl::string_view::npos) {
      return absl::InvalidArgumentError("Authorization parameter without '='");
    }
    absl::string_view name = absl::StripAsciiWhitespace(rest.substr(0, eq));
    rest.remove_prefix(eq + 1);
    if (rest.empty() || rest.front() != '"') {
      return absl::InvalidArgumentError("Authorization parameter value is not quoted");
    }
    rest.remove_prefix(1);
    const size_t close = rest.find('"');
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError("Authorization parameter value is not terminated");
    }
    absl::string_view value = rest.substr(0, close);
    rest.remove_prefix(close + 1);

    bool known = false;
    for (size_t i = 0; i < 5; ++i) {
      if (fields[i].first != name) continue;
      if (seen[i]) {
        return absl::InvalidArgumentError(
            absl::StrCat("Authorization parameter ", name, " appears twice"));
      }
      seen[i] = true;
      *fields[i].second = std::string(value);
      known = true;
    }
    if (!known) {
      // Echo a bounded, printable prefix only: the header may be hostile.
      std::string shown(name.substr(0, 32));
      for (char& c : shown) {
        if (!absl::ascii_isgraph(static_cast<unsigned char>(c))) c = '?';
      }
      return absl::InvalidArgumentError(
          absl::StrCat("unknown Authorization parameter \"", shown, "\""));
    }

    SkipSpaces(&rest);
    if (rest.empty()) break;
    if (rest.front() != ',') {
      return absl::InvalidArgumentError("Authorization parameters must be separated by ','");
    }
    rest.remove_prefix(1);
    SkipSpaces(&rest);
  }
  for (size_t i = 0; i < 5; ++i) {
    if (!seen[i] || fields[i].second->empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("Authorization parameter ", fields[i].first, " is missing"));
    }
  }
  int64_t ts = 0;
  if (!absl::SimpleAtoi(auth.timestamp, &ts) || ts < 0) {
    return absl::InvalidArgumentError("Authorization timestamp is not Unix seconds");
  }
  return auth;
}

absl::Status VerifyRequestSignature(const Authorization& auth, const RsaKey& merchant_public_key,
                                    absl::string_view method, absl::string_view path_and_query,
                                    absl::string_view body) {
  return VerifySha256WithRsa(
      merchant_public_key,
      SignatureMessage(method, path_and_query, auth.timestamp, auth.nonce_str, body),
      auth.signature);
}

absl::StatusOr<std::string> SignResponse(const RsaKey& private_key, absl::string_view timestamp,
                                         absl::string_view nonce, absl::string_view body) {
  return SignSha256WithRsa(private_key, ResponseSignatureMessage(timestamp, nonce, body));
}

absl::StatusOr<http::Headers> SignedResponseHeaders(const RsaKey& private_key,
                                                    absl::string_view serial, int64_t timestamp,
                                                    absl::string_view nonce,
                                                    absl::string_view body) {
  const std::string ts = absl::StrCat(timestamp);
  absl::StatusOr<std::string> signature = SignResponse(private_key, ts, nonce, body);
  if (!signature.ok()) return signature.status();
  return http::Headers{
      {std::string(kTimestampHeader), ts},
      {std::string(kNonceHeader), std::string(nonce)},
      {std::string(kSignatureHeader), *std::move(signature)},
      {std::string(kSerialHeader), std::string(serial)},
  };
}

}  // namespace orderquery::payment::wechat
