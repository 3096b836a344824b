// The WeChat Pay v3 crypto primitives, on the EVP subset shared by OpenSSL 3 and BoringSSL
// (the same source compiles against both; see tests/unit/wechat for the BoringSSL build).
#ifndef ORDERQUERY_SERVER_PAYMENT_WECHAT_CRYPTO_H_
#define ORDERQUERY_SERVER_PAYMENT_WECHAT_CRYPTO_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace orderquery::payment::wechat {

// An RSA key (private or public). Cheap to copy (shared, immutable).
class RsaKey {
 public:
  // PKCS#8 "PRIVATE KEY" PEM (what the merchant's apiclient_key.pem holds).
  static absl::StatusOr<RsaKey> PrivateFromPem(absl::string_view pem);
  // SubjectPublicKeyInfo "PUBLIC KEY" PEM (WeChat Pay public key, pub_key.pem).
  static absl::StatusOr<RsaKey> PublicFromPem(absl::string_view pem);
  // The public key of an X.509 "CERTIFICATE" PEM (platform certificate mode).
  static absl::StatusOr<RsaKey> PublicFromCertificatePem(absl::string_view pem);

  EVP_PKEY* get() const { return key_.get(); }

 private:
  explicit RsaKey(std::shared_ptr<EVP_PKEY> key) : key_(std::move(key)) {}
  std::shared_ptr<EVP_PKEY> key_;
};

// Upper-case hex serial number of an X.509 certificate PEM (how WeChat names certificates).
absl::StatusOr<std::string> CertificateSerialHex(absl::string_view pem);

// An X.509 certificate's validity period, in Unix seconds (kept free of absl::Time so that the
// BoringSSL build of this file needs nothing more).
struct CertificateValidity {
  int64_t not_before = 0;
  int64_t not_after = 0;
};
absl::StatusOr<CertificateValidity> CertificateValidityOf(absl::string_view pem);

// base64(RSASSA-PKCS1-v1_5 over SHA-256 of message).
absl::StatusOr<std::string> SignSha256WithRsa(const RsaKey& private_key, absl::string_view message);
// OK when signature_b64 is a valid signature of message; INVALID_ARGUMENT otherwise.
absl::Status VerifySha256WithRsa(const RsaKey& public_key, absl::string_view message,
                                 absl::string_view signature_b64);

// AEAD_AES_256_GCM as WeChat uses it: 32-byte APIv3 key, nonce (12 bytes as given), associated
// data, ciphertext = base64(ciphertext || 16-byte tag).
absl::StatusOr<std::string> AeadAes256GcmDecrypt(absl::string_view key, absl::string_view nonce,
                                                 absl::string_view associated_data,
                                                 absl::string_view ciphertext_b64);
absl::StatusOr<std::string> AeadAes256GcmEncrypt(absl::string_view key, absl::string_view nonce,
                                                 absl::string_view associated_data,
                                                 absl::string_view plaintext);

std::string Base64Encode(absl::string_view data);
absl::StatusOr<std::string> Base64Decode(absl::string_view b64);

// `length` characters of [0-9A-Z] from a CSPRNG (request nonce_str).
std::string RandomNonce(size_t length = 32);

}  // namespace orderquery::payment::wechat

#endif  // ORDERQUERY_SERVER_PAYMENT_WECHAT_CRYPTO_H_
