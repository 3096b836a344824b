#include "server/payment/wechat/certificates.h"

#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/payment/wechat/signer.h"
#include "server/payment/wechat/text.h"

namespace orderquery::payment::wechat {
namespace {

using nlohmann::json;

absl::Status Invalid(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("WeChat certificates reply: ", why));
}

absl::StatusOr<std::string> Str(const json& object, const char* name, absl::string_view path) {
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) return Invalid(absl::StrCat(path, name, " is missing"));
  if (!it->is_string()) {
    return Invalid(absl::StrCat(path, name, " must be a string, got ", it->type_name()));
  }
  return it->get<std::string>();
}

absl::StatusOr<absl::Time> Rfc3339(const json& object, const char* name, absl::string_view path) {
  absl::StatusOr<std::string> text = Str(object, name, path);
  if (!text.ok()) return text.status();
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, *text, &t, &err)) {
    return Invalid(
        absl::StrCat(path, name, " \"", internal::Printable(*text), "\" is not RFC 3339: ", err));
  }
  return t;
}

}  // namespace

absl::StatusOr<std::vector<PlatformCertificate>> ParseCertificatesReply(
    absl::string_view body, absl::string_view apiv3_key) {
  if (apiv3_key.size() != 32) {
    return absl::FailedPreconditionError(
        "no APIv3 key (32 bytes) to decrypt downloaded certificates with");
  }
  if (body.size() > kMaxCertificatesReply) {
    return Invalid(absl::StrCat("body of ", body.size(), " bytes is too large"));
  }
  const json doc = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return Invalid(
        absl::StrCat("body is not a JSON object (starts \"", internal::Printable(body, 32), "\")"));
  }
  auto data = doc.find("data");
  if (data == doc.end() || !data->is_array()) return Invalid("data is missing or not an array");

  std::vector<PlatformCertificate> out;
  std::set<std::string> seen;
  for (size_t i = 0; i < data->size(); ++i) {
    const json& item = (*data)[i];
    const std::string path = absl::StrCat("data[", i, "].");
    if (!item.is_object()) return Invalid(absl::StrCat(path, " is not an object"));
    absl::StatusOr<std::string> serial = Str(item, "serial_no", path);
    if (!serial.ok()) return serial.status();
    absl::StatusOr<absl::Time> effective = Rfc3339(item, "effective_time", path);
    if (!effective.ok()) return effective.status();
    absl::StatusOr<absl::Time> expire = Rfc3339(item, "expire_time", path);
    if (!expire.ok()) return expire.status();
    auto enc = item.find("encrypt_certificate");
    if (enc == item.end() || !enc->is_object()) {
      return Invalid(absl::StrCat(path, "encrypt_certificate is missing or not an object"));
    }
    const std::string enc_path = path + "encrypt_certificate.";
    absl::StatusOr<std::string> algorithm = Str(*enc, "algorithm", enc_path);
    if (!algorithm.ok()) return algorithm.status();
    if (*algorithm != "AEAD_AES_256_GCM") {
      return Invalid(absl::StrCat(enc_path, "algorithm \"", internal::Printable(*algorithm),
                                  "\" is not AEAD_AES_256_GCM"));
    }
    absl::StatusOr<std::string> nonce = Str(*enc, "nonce", enc_path);
    if (!nonce.ok()) return nonce.status();
    absl::StatusOr<std::string> ciphertext = Str(*enc, "ciphertext", enc_path);
    if (!ciphertext.ok()) return ciphertext.status();
    std::string associated;
    if (auto ad = enc->find("associated_data"); ad != enc->end() && ad->is_string()) {
      associated = ad->get<std::string>();
    }
    absl::StatusOr<std::string> pem =
        AeadAes256GcmDecrypt(apiv3_key, *nonce, associated, *ciphertext);
    if (!pem.ok()) {
      return Invalid(
          absl::StrCat(path, "certificate ", internal::Printable(*serial),
                       " does not decrypt with the APIv3 key: ", pem.status().message()));
    }
    absl::StatusOr<std::string> own_serial = CertificateSerialHex(*pem);
    absl::StatusOr<RsaKey> key = RsaKey::PublicFromCertificatePem(*pem);
    absl::StatusOr<CertificateValidity> validity = CertificateValidityOf(*pem);
    if (!own_serial.ok() || !key.ok() || !validity.ok()) {
      const absl::Status& bad = !own_serial.ok() ? own_serial.status()
                                : !key.ok()      ? key.status()
                                                 : validity.status();
      return Invalid(absl::StrCat(path, "certificate ", internal::Printable(*serial),
                                  " is not usable: ", bad.message()));
    }
    if (*own_serial != *serial) {
      return Invalid(absl::StrCat(path, "serial_no ", internal::Printable(*serial),
                                  " but the certificate's serial is ", *own_serial));
    }
    if (!seen.insert(*serial).second) {
      return Invalid(absl::StrCat(path, "serial_no ", *serial, " is listed twice"));
    }
    PlatformCertificate c{*serial, *std::move(pem), *effective,
                          std::min(*expire, absl::FromUnixSeconds(validity->not_after)),
                          *std::move(key)};
    out.push_back(std::move(c));
  }
  return out;
}

absl::StatusOr<CertificatesReplyTrust> VerifyCertificatesReply(
    const http::Response& reply, const ResponseVerifier& known,
    const std::vector<PlatformCertificate>& certificates, bool allow_self_verification,
    absl::Time now) {
  int count = 0;
  const std::string* serial = internal::FindHeader(reply.headers, kSerialHeader, &count);
  if (serial == nullptr || count != 1 || known.HasSerial(*serial)) {
    // Known (or absent, duplicated: Verify says why): our own keys decide, nothing else.
    if (absl::Status s = known.Verify(reply, now); !s.ok()) return s;
    return CertificatesReplyTrust::kKnownKey;
  }
  if (!allow_self_verification) {
    return absl::UnauthenticatedError(absl::StrCat(
        "certificates reply signed with ", kSerialHeader, " \"", internal::Printable(*serial),
        "\", which is not a key we hold; a list that vouches for itself is accepted only at "
        "bootstrap (no configured key)"));
  }
  for (const PlatformCertificate& c : certificates) {
    if (c.serial != *serial) continue;
    absl::StatusOr<ResponseVerifier> self =
        ResponseVerifier::Create({VerifierKey{c.serial, c.key}});
    if (!self.ok()) return self.status();
    if (absl::Status s = self->Verify(reply, now); !s.ok()) return s;
    return CertificatesReplyTrust::kSelfVerified;
  }
  return absl::UnauthenticatedError(absl::StrCat("certificates reply signed with ", kSerialHeader,
                                                 " \"", internal::Printable(*serial),
                                                 "\", which is not among the listed certificates"));
}

}  // namespace orderquery::payment::wechat
