// WeChat Pay platform certificates (平台证书) downloaded from GET /v3/certificates: the reply's
// parser (each certificate decrypted with the merchant's APIv3 key) and the check of the reply's
// own signature. The key store (key_store.h) decides when to download and what to keep.
#ifndef ORDERQUERY_SERVER_PAYMENT_WECHAT_CERTIFICATES_H_
#define ORDERQUERY_SERVER_PAYMENT_WECHAT_CERTIFICATES_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/payment/http/transport.h"
#include "server/payment/wechat/crypto.h"
#include "server/payment/wechat/verifier.h"

namespace orderquery::payment::wechat {

inline constexpr absl::string_view kCertificatesPath = "/v3/certificates";
// The associated data WeChat encrypts certificates with.
inline constexpr absl::string_view kCertificateAssociatedData = "certificate";
// The reply lists a handful of certificates of a few kilobytes each.
inline constexpr size_t kMaxCertificatesReply = 256 * 1024;

struct PlatformCertificate {
  std::string serial;  // upper-case hex, as in Wechatpay-Serial
  std::string pem;     // the decrypted certificate
  absl::Time effective_time;
  // The earlier of the reply's expire_time and the certificate's own notAfter: neither side may
  // extend the other.
  absl::Time expire_time;
  RsaKey key;
};

// Parses a GET /v3/certificates reply body,
//   {"data": [{"serial_no", "effective_time", "expire_time",
//              "encrypt_certificate": {"algorithm", "nonce", "associated_data", "ciphertext"}}]}
// decrypting each certificate with `apiv3_key` (AEAD_AES_256_GCM: the tag authenticates it as
// WeChat's, who alone shares that key with us) and checking that the certificate's serial is
// serial_no. An empty `data` list is an empty result (a public-key-only merchant's normal
// answer). INVALID_ARGUMENT naming the first problem; no message carries key material.
absl::StatusOr<std::vector<PlatformCertificate>> ParseCertificatesReply(
    absl::string_view body, absl::string_view apiv3_key);

// How a certificates reply's own signature was checked.
enum class CertificatesReplyTrust {
  kKnownKey,      // with a key we already had (configured or downloaded before)
  kSelfVerified,  // bootstrap: with the listed certificate its Wechatpay-Serial names
};

// Checks the signature of a certificates reply (a 2xx; `certificates` parsed from its body).
// When `known` has the reply's serial: ResponseVerifier::Verify, nothing else is accepted.
// Otherwise, only when `allow_self_verification`: the same checks with the key of the listed
// certificate whose serial the reply names (that certificate is authenticated by the APIv3 key,
// not by anything we held before: see key_store.h for when this is allowed). UNAUTHENTICATED
// saying why otherwise.
absl::StatusOr<CertificatesReplyTrust> VerifyCertificatesReply(
    const http::Response& reply, const ResponseVerifier& known,
    const std::vector<PlatformCertificate>& certificates, bool allow_self_verification,
    absl::Time now);

}  // namespace orderquery::payment::wechat

#endif  // ORDERQUERY_SERVER_PAYMENT_WECHAT_CERTIFICATES_H_
