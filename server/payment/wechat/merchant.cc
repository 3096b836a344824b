#include "server/payment/wechat/merchant.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "server/common/log.h"
#include "server/common/validation.h"
#include "server/payment/wechat/text.h"

namespace orderquery::payment::wechat {
namespace {

// PEM keys and certificates are a few kilobytes; a bigger file is the wrong file.
constexpr size_t kMaxPemSize = 64 * 1024;

bool Contains(const std::vector<std::string>& list, absl::string_view value) {
  for (const std::string& item : list) {
    if (item == value) return true;
  }
  return false;
}

absl::Status Prefixed(absl::string_view merchant, const absl::Status& s) {
  return absl::Status(s.code(), absl::StrCat("merchant \"", merchant, "\": ", s.message()));
}

}  // namespace

absl::Status MerchantConfig::Validate() const {
  auto fail = [this](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat("merchant \"", name, "\": ", what));
  };
  if (name.empty()) return absl::InvalidArgumentError("merchant without a name");
  if (absl::Status s = ValidateMchId(mchid, mode == ApiMode::kDirect ? "mchid" : "sp_mchid");
      !s.ok()) {
    return fail(s.message());
  }
  if (mode == ApiMode::kPartner && !sub_mchid.empty()) {
    if (absl::Status s = ValidateMchId(sub_mchid, "sub_mchid"); !s.ok()) return fail(s.message());
  }
  if (mode == ApiMode::kDirect && !sub_mchid.empty()) {
    return fail("sub_mchid is set but the mode is direct");
  }
  if (serial_no.empty() || serial_no.find('"') != std::string::npos) {
    return fail("serial_no (merchant certificate serial) is missing or malformed");
  }
  for (const std::string& appid : appids) {
    if (appid.empty()) return fail("empty appid");
  }
  if (!private_key.has_value() || private_key->get() == nullptr) {
    return fail("private key is not loaded");
  }
  if (!(absl::StartsWith(base_url, "https://") || absl::StartsWith(base_url, "http://")) ||
      absl::EndsWith(base_url, "/")) {
    return fail("base_url must be http(s)://host[:port] without a trailing slash");
  }
  if (verifier.Serials().empty() && !download_certificates) {
    return fail("no WeChat Pay public key or platform certificate to verify replies with");
  }
  if (download_certificates && apiv3_key.size() != kApiV3KeySize) {
    return fail("download_certificates needs the APIv3 key (it decrypts the certificates)");
  }
  if (!wechatpay_serial.empty() && !verifier.HasSerial(wechatpay_serial)) {
    return fail(absl::StrCat("Wechatpay-Serial ", wechatpay_serial, " is not a verifier key"));
  }
  // The length only: the key is a secret.
  if (!apiv3_key.empty() && apiv3_key.size() != kApiV3KeySize) {
    return fail(
        absl::StrCat("the APIv3 key must be ", kApiV3KeySize, " bytes, got ", apiv3_key.size()));
  }
  return absl::OkStatus();
}

std::shared_ptr<const ResponseVerifier> MerchantConfig::ActiveVerifier() const {
  if (key_store) return key_store->Current();
  return std::make_shared<const ResponseVerifier>(verifier);
}

void MerchantConfig::ReportUnknownSerial(const ResponseVerifier& checked_with,
                                         absl::string_view serial) const {
  if (key_store && !serial.empty() && !checked_with.HasSerial(serial)) {
    key_store->RequestRefresh(serial);
  }
}

namespace {

// The content of a file path or "env:NAME" source, at most kMaxPemSize bytes. `kind` names the
// content in errors ("a PEM", "a key"); the content itself never appears in one.
absl::StatusOr<std::string> ReadSource(absl::string_view source, absl::string_view what,
                                       absl::string_view kind) {
  if (source.empty()) return absl::InvalidArgumentError(absl::StrCat(what, ": no source given"));
  absl::string_view var = source;
  if (absl::ConsumePrefix(&var, "env:")) {
    const char* value = std::getenv(std::string(var).c_str());
    if (value == nullptr || *value == '\0') {
      return absl::NotFoundError(
          absl::StrCat(what, ": environment variable ", var, " is not set or empty"));
    }
    if (std::strlen(value) > kMaxPemSize) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": environment variable ", var, " is too large for ", kind));
    }
    return std::string(value);
  }
  const std::string path(source);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    return absl::NotFoundError(absl::StrCat(what, ": cannot open file ", log::ShownPath(path), " (",
                                            std::strerror(err), ")"));
  }
  std::string text;
  char buf[4096];
  while (in.read(buf, sizeof(buf)) || in.gcount() > 0) {
    text.append(buf, static_cast<size_t>(in.gcount()));
    if (text.size() > kMaxPemSize) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": file ", log::ShownPath(path), " is too large for ", kind));
    }
  }
  if (in.bad()) {
    return absl::UnavailableError(
        absl::StrCat(what, ": error reading file ", log::ShownPath(path)));
  }
  if (text.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": file ", log::ShownPath(path), " is empty"));
  }
  return text;
}

// PEM text rather than a path: PEM allows text (a newline, blanks) before the armour.
bool IsPemText(absl::string_view source) {
  return absl::StartsWith(absl::StripLeadingAsciiWhitespace(source), "-----BEGIN ");
}

// How an error names a source: its path or variable, never key text.
std::string ShownSource(absl::string_view source) {
  if (IsPemText(source)) return "(PEM text, not shown)";
  return log::ShownPath(std::string_view(source.data(), source.size()));
}

// What is likely wrong with PEM text that does not parse as a key, in words that quote none of
// it: the usual ways a key pasted into a variable or a YAML file gets damaged.
std::string PemHint(absl::string_view text) {
  if (absl::StrContains(text, "ENCRYPTED")) {
    return "; it is encrypted: give the unencrypted PKCS#8 key (openssl pkcs8 -topk8 -nocrypt)";
  }
  if (absl::StrContains(text, "\\n") && !absl::StrContains(text, "\n")) {
    return "; it holds the two characters \\n where line breaks belong";
  }
  if (!absl::StrContains(text, "-----BEGIN ")) return "; it has no PEM armour (header line)";
  if (!absl::StrContains(text, "-----END ")) return "; it is cut short (no PEM end line)";
  return "";
}

}  // namespace

absl::StatusOr<std::string> ReadPemSource(absl::string_view source, absl::string_view what) {
  // The PEM itself (a secret handed over through the environment, e.g. from a Kubernetes Secret),
  // without the blanks a paste adds around it (the parser wants the armour at a line's start).
  if (IsPemText(source)) return std::string(absl::StripAsciiWhitespace(source));
  return ReadSource(source, what, "a PEM");
}

absl::StatusOr<std::string> ReadSecretSource(absl::string_view source, absl::string_view what) {
  absl::StatusOr<std::string> text = ReadSource(source, what, "a key");
  if (!text.ok()) return text.status();
  // Files written by `echo` or an editor end with a newline that is not part of the key.
  if (absl::EndsWith(*text, "\r\n")) {
    text->resize(text->size() - 2);
  } else if (absl::EndsWith(*text, "\n")) {
    text->pop_back();
  }
  if (text->empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": ", ShownSource(source), " holds only a newline"));
  }
  return text;
}

absl::StatusOr<MerchantConfig> LoadMerchantKeys(MerchantConfig merchant,
                                                const MerchantKeySources& sources) {
  const std::string name = merchant.name;
  // "private key /path/apiclient_key.pem" etc.: the source is named, the content never.
  auto parse_named = [&](absl::string_view label, const std::string& pem,
                         auto parse) -> absl::StatusOr<RsaKey> {
    absl::StatusOr<RsaKey> key = parse(pem);
    if (!key.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("merchant \"", name, "\": ", label, ": ",
                                                     key.status().message(), PemHint(pem)));
    }
    return key;
  };
  auto load = [&](absl::string_view what, const std::string& source,
                  auto parse) -> absl::StatusOr<RsaKey> {
    absl::StatusOr<std::string> pem = ReadPemSource(source, what);
    if (!pem.ok()) return Prefixed(name, pem.status());
    return parse_named(absl::StrCat(what, " ", ShownSource(source)), *pem, parse);
  };
  auto parse_private = [](absl::string_view pem) { return RsaKey::PrivateFromPem(pem); };

  absl::StatusOr<RsaKey> private_key;
  if (!sources.private_key_pem.empty()) {
    private_key = parse_named(absl::StrCat("private key from ", sources.private_key_pem_label,
                                           " (its text is not shown)"),
                              std::string(absl::StripAsciiWhitespace(sources.private_key_pem)),
                              parse_private);
  } else if (!sources.private_key.empty()) {
    private_key = load("private key", sources.private_key, parse_private);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("merchant \"", name, "\": no private key file configured"));
  }
  if (!private_key.ok()) return private_key.status();
  merchant.private_key = *std::move(private_key);

  std::vector<VerifierKey> keys;
  std::vector<KeyExpiry> expiries;
  if (!sources.merchant_certificate.empty()) {
    absl::StatusOr<std::string> pem =
        ReadPemSource(sources.merchant_certificate, "merchant API certificate");
    if (!pem.ok()) return Prefixed(name, pem.status());
    absl::StatusOr<std::string> serial = CertificateSerialHex(*pem);
    absl::StatusOr<CertificateValidity> validity = CertificateValidityOf(*pem);
    if (!serial.ok() || !validity.ok()) {
      const absl::Status& bad = serial.ok() ? validity.status() : serial.status();
      return absl::InvalidArgumentError(
          absl::StrCat("merchant \"", name, "\": merchant API certificate ",
                       ShownSource(sources.merchant_certificate), ": ", bad.message()));
    }
    if (!absl::EqualsIgnoreCase(*serial, merchant.serial_no)) {
      return absl::InvalidArgumentError(
          absl::StrCat("merchant \"", name, "\": merchant API certificate ",
                       ShownSource(sources.merchant_certificate), " has serial ", *serial,
                       ", not serial_no ", merchant.serial_no));
    }
    expiries.push_back(KeyExpiry{name, std::string(kKindMerchantCert), *serial,
                                 absl::FromUnixSeconds(validity->not_after)});
  }
  if (!sources.public_key_id.empty() || !sources.public_key.empty()) {
    if (!absl::StartsWith(sources.public_key_id, "PUB_KEY_ID_") || sources.public_key.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "merchant \"", name,
          "\": public-key mode needs both public_key_id (PUB_KEY_ID_…) and the public key file"));
    }
    absl::StatusOr<RsaKey> key =
        load(absl::StrCat("WeChat Pay public key ", sources.public_key_id), sources.public_key,
             [](absl::string_view pem) { return RsaKey::PublicFromPem(pem); });
    if (!key.ok()) return key.status();
    keys.push_back(VerifierKey{sources.public_key_id, *std::move(key)});
    merchant.wechatpay_serial = sources.public_key_id;
    expiries.push_back(
        KeyExpiry{name, std::string(kKindPublicKey), sources.public_key_id, std::nullopt});
  } else {
    merchant.wechatpay_serial.clear();
  }
  for (const std::string& source : sources.platform_certificates) {
    absl::StatusOr<std::string> pem = ReadPemSource(source, "platform certificate");
    if (!pem.ok()) return Prefixed(name, pem.status());
    absl::StatusOr<std::string> serial = CertificateSerialHex(*pem);
    absl::StatusOr<RsaKey> key = RsaKey::PublicFromCertificatePem(*pem);
    absl::StatusOr<CertificateValidity> validity = CertificateValidityOf(*pem);
    if (!serial.ok() || !key.ok() || !validity.ok()) {
      const absl::Status& bad = !serial.ok() ? serial.status()
                                : !key.ok()  ? key.status()
                                             : validity.status();
      return absl::InvalidArgumentError(absl::StrCat("merchant \"", name,
                                                     "\": platform certificate ",
                                                     ShownSource(source), ": ", bad.message()));
    }
    expiries.push_back(KeyExpiry{name, std::string(kKindPlatformCert), *serial,
                                 absl::FromUnixSeconds(validity->not_after)});
    keys.push_back(VerifierKey{*std::move(serial), *std::move(key)});
  }
  absl::StatusOr<ResponseVerifier> verifier = ResponseVerifier::Create(keys);
  if (!verifier.ok()) return Prefixed(name, verifier.status());
  merchant.verifier = *std::move(verifier);
  merchant.configured_keys = std::move(keys);
  merchant.configured_expiries = std::move(expiries);

  if (!sources.apiv3_key.empty()) {
    absl::StatusOr<std::string> key = ReadSecretSource(sources.apiv3_key, "APIv3 key");
    if (!key.ok()) return Prefixed(name, key.status());
    merchant.apiv3_key = *std::move(key);
  }

  if (absl::Status s = merchant.Validate(); !s.ok()) return s;
  return merchant;
}

absl::Status MatchesMerchant(const Transaction& t, const MerchantConfig& m) {
  auto mismatch = [&m](absl::string_view field, absl::string_view got, absl::string_view want) {
    return absl::FailedPreconditionError(
        absl::StrCat("reply's ", field, " \"", internal::Printable(got), "\" is not merchant \"",
                     m.name, "\"'s (", want, ")"));
  };
  if (t.mode != m.mode) {
    return absl::FailedPreconditionError(
        absl::StrCat("reply decoded in the other mode than merchant \"", m.name, "\" uses"));
  }
  if (m.mode == ApiMode::kDirect) {
    if (t.mchid != m.mchid) return mismatch("mchid", t.mchid, m.mchid);
    if (!Contains(m.appids, t.appid)) return mismatch("appid", t.appid, "a configured appid");
    return absl::OkStatus();
  }
  if (t.sp_mchid != m.mchid) return mismatch("sp_mchid", t.sp_mchid, m.mchid);
  if (t.sub_mchid != m.sub_mchid) return mismatch("sub_mchid", t.sub_mchid, m.sub_mchid);
  const bool appid_ok =
      Contains(m.appids, t.sp_appid) || (!t.sub_appid.empty() && Contains(m.appids, t.sub_appid));
  if (!appid_ok) {
    return mismatch("sp_appid/sub_appid", absl::StrCat(t.sp_appid, "/", t.sub_appid),
                    "a configured appid");
  }
  return absl::OkStatus();
}

}  // namespace orderquery::payment::wechat
