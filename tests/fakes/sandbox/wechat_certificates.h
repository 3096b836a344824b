// The sandbox's WeChat Pay platform certificates: what GET /v3/certificates lists and which key
// signs replies, changed at run time by POST /__sandbox/certificates to play a rotation (see
// tests/fakes/README.md, "Platform certificates").
#ifndef ORDERQUERY_TESTS_FAKES_SANDBOX_WECHAT_CERTIFICATES_H_
#define ORDERQUERY_TESTS_FAKES_SANDBOX_WECHAT_CERTIFICATES_H_

#include <cstdint>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/payment/wechat/crypto.h"

namespace orderquery::sandbox {

class PlatformCertificates {
 public:
  // Replies are signed with `key` as `serial` (--platform-private-key/--platform-serial) until
  // the control route says otherwise. `apiv3_key` encrypts the listed certificates.
  PlatformCertificates(payment::wechat::RsaKey key, std::string serial, std::string apiv3_key);

  // A certificate (--platform-cert) and the private key of its public key. Listed from the
  // start, in the order added; expire_time is its notAfter until changed.
  absl::Status Add(const std::string& cert_pem, payment::wechat::RsaKey private_key);

  struct Signer {
    payment::wechat::RsaKey key;
    std::string serial;
  };
  // Ordinary replies (queries, closes, errors).
  Signer ReplySigner() const;
  // The GET /v3/certificates reply.
  Signer ListSigner() const;

  // The reply body {"data": [...]} of the listed certificates, each encrypted afresh; counts a
  // download. FAILED_PRECONDITION without an APIv3 key.
  absl::StatusOr<std::string> ListBody();

  // POST /__sandbox/certificates: {"listed": [SERIAL…], "sign_with": SERIAL,
  // "sign_list_with": SERIAL, "expire_time": {SERIAL: RFC3339}}, every key optional.
  // INVALID_ARGUMENT naming the problem (nothing changes then).
  absl::Status Update(const nlohmann::json& body);
  // {"certificates": [{serial_no, effective_time, expire_time, listed}], "sign_with",
  //  "sign_list_with", "downloads"}.
  nlohmann::json State() const;

 private:
  struct Entry {
    std::string serial;
    std::string pem;
    payment::wechat::RsaKey key;
    absl::Time effective;
    absl::Time expire;
    bool listed = true;
  };
  // The signer of `serial` (mu_ held): a certificate's key, or the default key.
  absl::StatusOr<Signer> SignerLocked(const std::string& serial) const;

  const Signer default_signer_;
  const std::string apiv3_key_;
  mutable std::mutex mu_;
  std::vector<Entry> entries_;  // guarded by mu_
  std::string sign_with_;       // guarded by mu_
  std::string sign_list_with_;  // guarded by mu_
  int64_t downloads_ = 0;       // guarded by mu_
};

}  // namespace orderquery::sandbox

#endif  // ORDERQUERY_TESTS_FAKES_SANDBOX_WECHAT_CERTIFICATES_H_
