// WeChat Pay v3 payment notifications (支付通知): the callback WeChat POSTs to our notify URL.
// Verified over the body exactly as received, then the envelope is read and its `resource`
// decrypted with the merchant's APIv3 key. What to do with the transaction (match it with the
// order, apply it, answer WeChat) is the caller's.
#ifndef ORDERQUERY_SERVER_PAYMENT_WECHAT_NOTIFICATION_H_
#define ORDERQUERY_SERVER_PAYMENT_WECHAT_NOTIFICATION_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/payment/wechat/merchant.h"
#include "server/payment/wechat/model.h"

namespace orderquery::payment::wechat {

// The only resource encryption WeChat Pay v3 uses.
inline constexpr absl::string_view kNotificationAlgorithm = "AEAD_AES_256_GCM";
// Notification bodies are about a kilobyte; the envelope parser refuses more than this.
inline constexpr size_t kMaxNotificationBody = 64 * 1024;

struct Notification {
  std::string id;             // WeChat's notification id (unique per event, repeated on retries)
  std::string create_time;    // as sent (RFC 3339)
  std::string event_type;     // e.g. TRANSACTION.SUCCESS
  std::string resource_type;  // encrypt-resource
  std::string summary;        // e.g. 支付成功 (empty when absent)
  // The decrypted resource decoded with DecodeTransaction(plaintext, merchant.mode). Not yet
  // matched with the merchant or an order (MatchesMerchant, the amount checks: the caller's).
  Transaction transaction;
};

// Verifies a notification and decodes it. In order:
//  1. merchant.apiv3_key configured (32 bytes), else FAILED_PRECONDITION;
//  2. merchant.ActiveVerifier()->VerifyParts (the key store's keys, else merchant.verifier) over
//     `body` exactly as received (an unknown serial also asks the key store for a download): the
//     four header values present, serial known (either key mode, any of several keys), timestamp
//     within kMaxClockSkew of `now` either way, not a SIGNTEST probe, signature valid; otherwise
//     UNAUTHENTICATED saying which check failed. Nothing of `body` is parsed before this passes;
//  3. the envelope {id, create_time, event_type, resource_type, summary?, resource{algorithm,
//     ciphertext, nonce, associated_data?, original_type?}}: INVALID_ARGUMENT for a body that is
//     not a JSON object, larger than kMaxNotificationBody, a required field missing or not a
//     string, or an algorithm other than AEAD_AES_256_GCM;
//  4. the resource decrypted with merchant.apiv3_key (INVALID_ARGUMENT when it does not decrypt:
//     bad base64, tampered, another key) and decoded as a transaction (INVALID_ARGUMENT when it
//     is not one: a refund event's resource, for example).
// Header values are given as found; finding them (case-insensitively, once each) is the
// caller's. No message ever carries key material or the plaintext.
absl::StatusOr<Notification> ParseNotification(const MerchantConfig& merchant,
                                               absl::string_view timestamp, absl::string_view nonce,
                                               absl::string_view signature,
                                               absl::string_view serial, absl::string_view body,
                                               absl::Time now);

}  // namespace orderquery::payment::wechat

#endif  // ORDERQUERY_SERVER_PAYMENT_WECHAT_NOTIFICATION_H_
