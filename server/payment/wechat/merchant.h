// One WeChat Pay merchant's credentials and identity, and the loader that reads its keys.
#ifndef ORDERQUERY_SERVER_PAYMENT_WECHAT_MERCHANT_H_
#define ORDERQUERY_SERVER_PAYMENT_WECHAT_MERCHANT_H_

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/payment/wechat/crypto.h"
#include "server/payment/wechat/endpoints.h"
#include "server/payment/wechat/key_store.h"
#include "server/payment/wechat/model.h"
#include "server/payment/wechat/verifier.h"

namespace orderquery::payment::wechat {

// An APIv3 key (APIv3密钥) is 32 bytes; it decrypts notifications.
inline constexpr size_t kApiV3KeySize = 32;

struct MerchantConfig {
  std::string name;                 // our label, for logs and errors
  std::vector<std::string> appids;  // official-account AppIDs this merchant serves
  ApiMode mode = ApiMode::kDirect;
  // The merchant that signs requests: the merchant itself in direct mode, the service provider
  // (sp_mchid) in partner mode.
  std::string mchid;
  // Partner mode: the sub-merchant whose orders QueryOrder asks about (the vehicle query takes
  // its sub_mchid per call, so this may stay empty for parking-only providers).
  std::string sub_mchid;
  std::string serial_no;  // serial of the merchant API certificate (商户API证书序列号)
  std::optional<RsaKey> private_key;
  // Scheme, host and optional port, no trailing slash: kProductionBaseUrl or the sandbox's
  // http://127.0.0.1:port.
  std::string base_url = std::string(kProductionBaseUrl);
  // WeChat's keys, by serial: the WeChat Pay public key (PUB_KEY_ID_…) and/or platform
  // certificates.
  ResponseVerifier verifier;
  // Public-key mode: the Wechatpay-Serial request header (the full PUB_KEY_ID_…); empty in
  // certificate mode.
  std::string wechatpay_serial;
  // The APIv3 key (secret, kApiV3KeySize bytes): decrypts notification resources. Empty when
  // the merchant receives no notifications. Never logged or put in a message.
  std::string apiv3_key;
  // Certificate mode: platform certificates are also downloaded from GET /v3/certificates
  // (needs apiv3_key). Without a configured key the first download vouches for itself.
  bool download_certificates = false;
  // What LoadMerchantKeys read: the configured keys (also in `verifier`) and what they are, with
  // expiries (the merchant API certificate too, when its file is given). The key store's start.
  std::vector<VerifierKey> configured_keys;
  std::vector<KeyExpiry> configured_expiries;
  // The keys over time (downloads, rotation), shared by every copy of this config; set by the
  // wiring (AttachKeyStore). Null: `verifier` is all there is.
  std::shared_ptr<MerchantKeyStore> key_store;

  // The verifier to check a reply or notification with now: the key store's current one, else
  // `verifier`. Safe from any thread.
  std::shared_ptr<const ResponseVerifier> ActiveVerifier() const;
  // A reply or notification named a serial `checked_with` does not know: asks the key store
  // for a (rate-limited) download. Never blocks.
  void ReportUnknownSerial(const ResponseVerifier& checked_with, absl::string_view serial) const;

  // sp_mchid in partner mode (the same id as mchid).
  const std::string& sp_mchid() const { return mchid; }

  // INVALID_ARGUMENT naming the first problem (ids, key, base_url, verifier keys, an APIv3 key
  // that is set but not kApiV3KeySize bytes).
  absl::Status Validate() const;
};

// Where a merchant's key material comes from. Each source is a file path, or "env:NAME" for the
// PEM text in environment variable NAME (for secrets mounted as env).
struct MerchantKeySources {
  std::string private_key;  // the merchant's apiclient_key.pem (PKCS#8)
  // The private key's PEM text itself (a secret handed over as a value, e.g. from a Kubernetes
  // Secret through the environment). Used instead of `private_key` when set and never read as a
  // path; errors name it by `private_key_pem_label` (the setting it came from), never by content.
  std::string private_key_pem;
  std::string private_key_pem_label = "private_key_pem";
  // Public-key mode: the id (PUB_KEY_ID_…) and pub_key.pem.
  std::string public_key_id;
  std::string public_key;
  // Certificate mode: platform certificates; each one's serial is read from the certificate.
  std::vector<std::string> platform_certificates;
  // Optional: the merchant API certificate (apiclient_cert.pem), only to report its expiry; its
  // serial must be the merchant's serial_no.
  std::string merchant_certificate;
  // The APIv3 key: a file holding the 32 characters, or "env:NAME"; one trailing newline (\n or
  // \r\n) is dropped. Empty: merchant.apiv3_key is left as it is.
  std::string apiv3_key;
};

// Reads the PEM text of one source. Errors name the source (path or variable) and what it was
// for, never its content; a source that is key text rather than a path is not shown at all.
absl::StatusOr<std::string> ReadPemSource(absl::string_view source, absl::string_view what);

// Reads a raw secret (the APIv3 key) from a file path or "env:NAME", without one trailing
// newline. Errors name the source and what it was for, never its content.
absl::StatusOr<std::string> ReadSecretSource(absl::string_view source, absl::string_view what);

// Fills merchant.private_key, merchant.verifier, merchant.wechatpay_serial, configured_keys,
// configured_expiries and (when a source is given) merchant.apiv3_key from `sources`, then
// Validate()s. Errors start with the merchant's name
// and name the key that failed; no key material is ever part of a message.
absl::StatusOr<MerchantConfig> LoadMerchantKeys(MerchantConfig merchant,
                                                const MerchantKeySources& sources);

// OK when a decoded transaction belongs to this merchant: direct mode mchid == merchant.mchid
// and appid among merchant.appids; partner mode sp_mchid == merchant.mchid, sub_mchid ==
// merchant.sub_mchid and sp_appid or sub_appid among merchant.appids. FAILED_PRECONDITION
// saying which id differs otherwise (crediting must then not happen).
absl::Status MatchesMerchant(const Transaction& transaction, const MerchantConfig& merchant);

}  // namespace orderquery::payment::wechat

#endif  // ORDERQUERY_SERVER_PAYMENT_WECHAT_MERCHANT_H_
