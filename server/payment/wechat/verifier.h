// Verification of WeChat Pay v3 response signatures (and, with the same rules, notifications).
#ifndef ORDERQUERY_SERVER_PAYMENT_WECHAT_VERIFIER_H_
#define ORDERQUERY_SERVER_PAYMENT_WECHAT_VERIFIER_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/payment/http/transport.h"
#include "server/payment/wechat/crypto.h"

namespace orderquery::payment::wechat {

// How far a reply's Wechatpay-Timestamp may be from our clock, in either direction.
inline constexpr absl::Duration kMaxClockSkew = absl::Minutes(5);

// Signatures starting with this are WeChat's probes that a merchant really verifies; they never
// verify, and a reply carrying one must never be used.
inline constexpr absl::string_view kSignTestPrefix = "WECHATPAY/SIGNTEST/";

// One key WeChat signs with: a WeChat Pay public key named by its id ("PUB_KEY_ID_…",
// public-key mode) or a platform certificate's key named by its serial (certificate mode).
struct VerifierKey {
  std::string serial;
  RsaKey key;
};

// The keys of one merchant, looked up by the reply's Wechatpay-Serial. Several keys may be
// active at once (certificate rotation, migration from certificates to the public key).
// Immutable once built, cheap to copy (the key table is shared), safe to use from any thread.
class ResponseVerifier {
 public:
  // Verifies nothing: every reply fails with "unknown serial".
  ResponseVerifier();
  // INVALID_ARGUMENT for an empty or duplicate serial.
  static absl::StatusOr<ResponseVerifier> Create(std::vector<VerifierKey> keys);

  bool HasSerial(absl::string_view serial) const;
  std::vector<std::string> Serials() const;

  // OK when `response` is a genuine, fresh WeChat reply: the four Wechatpay-Timestamp/-Nonce/
  // -Signature/-Serial headers present (once each), the serial known, the timestamp within
  // kMaxClockSkew of `now` either way, not a SIGNTEST probe, and the signature valid over the
  // body bytes exactly as received. Otherwise UNAUTHENTICATED with a message saying which check
  // failed (callers turn it into INTERNAL; see errors.h).
  absl::Status Verify(const http::Response& response, absl::Time now) const;

  // The same checks on values already taken from headers (notifications).
  absl::Status VerifyParts(absl::string_view timestamp, absl::string_view nonce,
                           absl::string_view signature, absl::string_view serial,
                           absl::string_view body, absl::Time now) const;

 private:
  using KeyMap = std::map<std::string, RsaKey, std::less<>>;
  explicit ResponseVerifier(std::shared_ptr<const KeyMap> keys) : keys_(std::move(keys)) {}
  std::shared_ptr<const KeyMap> keys_;
};

// A short, fixed name for why Verify/VerifyParts refused (a metric label): missing_header,
// unknown_serial, bad_timestamp, clock_skew, signtest_probe, bad_signature, or other.
absl::string_view VerificationFailureReason(const absl::Status& status);

}  // namespace orderquery::payment::wechat

#endif  // ORDERQUERY_SERVER_PAYMENT_WECHAT_VERIFIER_H_
