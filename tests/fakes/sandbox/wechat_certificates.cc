#include "tests/fakes/sandbox/wechat_certificates.h"

#include <set>

#include "absl/strings/str_cat.h"

namespace orderquery::sandbox {
namespace {

namespace wx = ::orderquery::payment::wechat;
using nlohmann::json;

const absl::TimeZone& Beijing() {
  static const absl::TimeZone* tz = new absl::TimeZone(absl::FixedTimeZone(8 * 3600));
  return *tz;
}

std::string Rfc3339(absl::Time t) { return absl::FormatTime("%Y-%m-%dT%H:%M:%S%Ez", t, Beijing()); }

}  // namespace

PlatformCertificates::PlatformCertificates(wx::RsaKey key, std::string serial,
                                           std::string apiv3_key)
    : default_signer_{std::move(key), serial},
      apiv3_key_(std::move(apiv3_key)),
      sign_with_(serial),
      sign_list_with_(serial) {}

absl::Status PlatformCertificates::Add(const std::string& cert_pem, wx::RsaKey private_key) {
  absl::StatusOr<std::string> serial = wx::CertificateSerialHex(cert_pem);
  if (!serial.ok()) return serial.status();
  absl::StatusOr<wx::CertificateValidity> validity = wx::CertificateValidityOf(cert_pem);
  if (!validity.ok()) return validity.status();
  std::lock_guard<std::mutex> lock(mu_);
  for (const Entry& e : entries_) {
    if (e.serial == *serial) return absl::InvalidArgumentError("certificate given twice");
  }
  entries_.push_back(Entry{*serial, cert_pem, std::move(private_key),
                           absl::FromUnixSeconds(validity->not_before),
                           absl::FromUnixSeconds(validity->not_after), true});
  return absl::OkStatus();
}

absl::StatusOr<PlatformCertificates::Signer> PlatformCertificates::SignerLocked(
    const std::string& serial) const {
  for (const Entry& e : entries_) {
    if (e.serial == serial) return Signer{e.key, e.serial};
  }
  if (serial == default_signer_.serial) return default_signer_;
  return absl::InvalidArgumentError(
      absl::StrCat("no key for serial ", serial, " (give its --platform-cert)"));
}

PlatformCertificates::Signer PlatformCertificates::ReplySigner() const {
  std::lock_guard<std::mutex> lock(mu_);
  absl::StatusOr<Signer> s = SignerLocked(sign_with_);
  return s.ok() ? *s : default_signer_;
}

PlatformCertificates::Signer PlatformCertificates::ListSigner() const {
  std::lock_guard<std::mutex> lock(mu_);
  absl::StatusOr<Signer> s = SignerLocked(sign_list_with_);
  return s.ok() ? *s : default_signer_;
}

absl::StatusOr<std::string> PlatformCertificates::ListBody() {
  if (apiv3_key_.size() != 32) {
    return absl::FailedPreconditionError("sandbox has no --apiv3-key to encrypt certificates");
  }
  std::lock_guard<std::mutex> lock(mu_);
  ++downloads_;
  json data = json::array();
  for (const Entry& e : entries_) {
    if (!e.listed) continue;
    const std::string nonce = wx::RandomNonce(12);
    absl::StatusOr<std::string> ciphertext =
        wx::AeadAes256GcmEncrypt(apiv3_key_, nonce, "certificate", e.pem);
    if (!ciphertext.ok()) return ciphertext.status();
    data.push_back({{"serial_no", e.serial},
                    {"effective_time", Rfc3339(e.effective)},
                    {"expire_time", Rfc3339(e.expire)},
                    {"encrypt_certificate",
                     {{"algorithm", "AEAD_AES_256_GCM"},
                      {"nonce", nonce},
                      {"associated_data", "certificate"},
                      {"ciphertext", *ciphertext}}}});
  }
  return json{{"data", data}}.dump();
}

absl::Status PlatformCertificates::Update(const json& body) {
  if (!body.is_object()) return absl::InvalidArgumentError("body must be a JSON object");
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Entry> next = entries_;
  std::string sign_with = sign_with_, sign_list_with = sign_list_with_;
  auto find = [&next](const std::string& serial) -> Entry* {
    for (Entry& e : next) {
      if (e.serial == serial) return &e;
    }
    return nullptr;
  };
  for (const auto& [key, value] : body.items()) {
    if (key == "listed") {
      if (!value.is_array()) return absl::InvalidArgumentError("listed must be an array");
      std::set<std::string> listed;
      for (const json& s : value) {
        if (!s.is_string() || find(s.get<std::string>()) == nullptr) {
          return absl::InvalidArgumentError(
              absl::StrCat("listed: unknown serial ", s.dump(), " (not a --platform-cert)"));
        }
        listed.insert(s.get<std::string>());
      }
      for (Entry& e : next) e.listed = listed.count(e.serial) > 0;
    } else if (key == "sign_with" || key == "sign_list_with") {
      if (!value.is_string()) return absl::InvalidArgumentError(key + " must be a string");
      const std::string serial = value.get<std::string>();
      if (serial != default_signer_.serial && find(serial) == nullptr) {
        return absl::InvalidArgumentError(
            absl::StrCat(key, ": no key for serial ", serial, " (give its --platform-cert)"));
      }
      (key == "sign_with" ? sign_with : sign_list_with) = serial;
    } else if (key == "expire_time") {
      if (!value.is_object()) return absl::InvalidArgumentError("expire_time must be an object");
      for (const auto& [serial, when] : value.items()) {
        Entry* e = find(serial);
        absl::Time t;
        std::string err;
        if (e == nullptr || !when.is_string() ||
            !absl::ParseTime(absl::RFC3339_full, when.get<std::string>(), &t, &err)) {
          return absl::InvalidArgumentError(
              absl::StrCat("expire_time: ", serial,
                           " must be a --platform-cert serial with an "
                           "RFC 3339 time"));
        }
        e->expire = t;
      }
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown key ", key));
    }
  }
  entries_ = std::move(next);
  sign_with_ = sign_with;
  sign_list_with_ = sign_list_with;
  return absl::OkStatus();
}

json PlatformCertificates::State() const {
  std::lock_guard<std::mutex> lock(mu_);
  json certs = json::array();
  for (const Entry& e : entries_) {
    certs.push_back({{"serial_no", e.serial},
                     {"effective_time", Rfc3339(e.effective)},
                     {"expire_time", Rfc3339(e.expire)},
                     {"listed", e.listed}});
  }
  return json{{"certificates", certs},
              {"sign_with", sign_with_},
              {"sign_list_with", sign_list_with_},
              {"downloads", downloads_}};
}

}  // namespace orderquery::sandbox
