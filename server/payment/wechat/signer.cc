#include "server/payment/wechat/signer.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"

namespace orderquery::payment::wechat {

std::string SignatureMessage(absl::string_view method, absl::string_view path_and_query,
                             absl::string_view timestamp, absl::string_view nonce,
                             absl::string_view body) {
  return absl::StrCat(method, "\n", path_and_query, "\n", timestamp, "\n", nonce, "\n", body, "\n");
}

absl::StatusOr<std::string> BuildAuthorization(absl::string_view mchid, absl::string_view serial_no,
                                               const RsaKey& private_key, absl::string_view method,
                                               absl::string_view path_and_query,
                                               absl::string_view body, int64_t timestamp,
                                               absl::string_view nonce) {
  // A quote in any of these would break the header's syntax; none can contain one legitimately.
  for (absl::string_view part : {mchid, serial_no, nonce}) {
    if (part.empty() || part.find('"') != absl::string_view::npos) {
      return absl::InvalidArgumentError(
          "mchid, serial_no and nonce must be non-empty and contain no quote");
    }
  }
  const std::string ts = absl::StrCat(timestamp);
  absl::StatusOr<std::string> signature =
      SignSha256WithRsa(private_key, SignatureMessage(method, path_and_query, ts, nonce, body));
  if (!signature.ok()) return signature.status();
  return absl::StrCat(kAuthorizationScheme, " mchid=\"", mchid, "\",nonce_str=\"", nonce,
                      "\",signature=\"", *signature, "\",timestamp=\"", ts, "\",serial_no=\"",
                      serial_no, "\"");
}

std::string ResponseSignatureMessage(absl::string_view timestamp, absl::string_view nonce,
                                     absl::string_view body) {
  return absl::StrCat(timestamp, "\n", nonce, "\n", body, "\n");
}

}  // namespace orderquery::payment::wechat
