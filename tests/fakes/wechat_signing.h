// Playing WeChat Pay for the sandbox and tests: parse and check a request's Authorization (the
// inverse of BuildAuthorization in server/payment/wechat/signer.h), sign a response or a
// notification the way WeChat does. Not shipped: orderqueryd only signs requests and verifies
// WeChat's signatures.
#ifndef ORDERQUERY_TESTS_FAKES_WECHAT_SIGNING_H_
#define ORDERQUERY_TESTS_FAKES_WECHAT_SIGNING_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/payment/http/transport.h"
#include "server/payment/wechat/crypto.h"
#include "server/payment/wechat/signer.h"

namespace orderquery::payment::wechat {

// The parts of an Authorization header.
struct Authorization {
  std::string mchid;
  std::string nonce_str;
  std::string signature;
  std::string timestamp;
  std::string serial_no;
};

// Parses an Authorization header value; INVALID_ARGUMENT naming what is wrong (wrong scheme,
// malformed, missing/duplicate/unknown parameter). Does not check the signature.
absl::StatusOr<Authorization> ParseAuthorization(absl::string_view header);

// OK when `auth.signature` signs this request under `merchant_public_key`; INVALID_ARGUMENT
// otherwise. The caller decides about the timestamp window and nonce replay.
absl::Status VerifyRequestSignature(const Authorization& auth, const RsaKey& merchant_public_key,
                                    absl::string_view method, absl::string_view path_and_query,
                                    absl::string_view body);

// base64 signature over ResponseSignatureMessage(timestamp, nonce, body).
absl::StatusOr<std::string> SignResponse(const RsaKey& private_key, absl::string_view timestamp,
                                         absl::string_view nonce, absl::string_view body);

// The four Wechatpay-* headers a signed response carries.
absl::StatusOr<http::Headers> SignedResponseHeaders(const RsaKey& private_key,
                                                    absl::string_view serial, int64_t timestamp,
                                                    absl::string_view nonce,
                                                    absl::string_view body);

}  // namespace orderquery::payment::wechat

#endif  // ORDERQUERY_TESTS_FAKES_WECHAT_SIGNING_H_
