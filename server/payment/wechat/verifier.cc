#include "server/payment/wechat/verifier.h"

#include <cstdint>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/common/log.h"
#include "server/payment/wechat/signer.h"
#include "server/payment/wechat/text.h"

namespace orderquery::payment::wechat {
namespace {

// Skews beyond this are logged even when accepted: drift is worth hearing about before it
// reaches the limit and every reply starts failing.
constexpr int64_t kLogSkewSeconds = 60;

absl::Status Rejected(absl::string_view why) { return absl::UnauthenticatedError(why); }

bool AllDigits(absl::string_view s) {
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return !s.empty();
}

}  // namespace

ResponseVerifier::ResponseVerifier() : keys_(std::make_shared<const KeyMap>()) {}

absl::string_view VerificationFailureReason(const absl::Status& status) {
  // Matches the messages Rejected() is given below; verifier_test pins each one.
  const absl::string_view m = status.message();
  if (absl::StrContains(m, "signed with unknown")) return "unknown_serial";
  if (absl::StrContains(m, "our clock")) return "clock_skew";
  if (absl::StrContains(m, "is not Unix seconds")) return "bad_timestamp";
  if (absl::StrContains(m, "probe, not a signature")) return "signtest_probe";
  if (absl::StrContains(m, "signature check failed")) return "bad_signature";
  if (absl::StrContains(m, "reply has")) return "missing_header";
  return "other";
}

absl::StatusOr<ResponseVerifier> ResponseVerifier::Create(std::vector<VerifierKey> keys) {
  auto map = std::make_shared<KeyMap>();
  for (VerifierKey& k : keys) {
    if (k.serial.empty()) return absl::InvalidArgumentError("verifier key without a serial");
    if (k.key.get() == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("verifier key ", k.serial, " is empty"));
    }
    if (!map->emplace(k.serial, std::move(k.key)).second) {
      return absl::InvalidArgumentError(absl::StrCat("verifier key ", k.serial, " given twice"));
    }
  }
  return ResponseVerifier(std::move(map));
}

bool ResponseVerifier::HasSerial(absl::string_view serial) const {
  return keys_->find(serial) != keys_->end();
}

std::vector<std::string> ResponseVerifier::Serials() const {
  std::vector<std::string> out;
  out.reserve(keys_->size());
  for (const auto& entry : *keys_) out.push_back(entry.first);
  return out;
}

absl::Status ResponseVerifier::Verify(const http::Response& response, absl::Time now) const {
  absl::string_view values[4];
  const absl::string_view names[4] = {kTimestampHeader, kNonceHeader, kSignatureHeader,
                                      kSerialHeader};
  for (int i = 0; i < 4; ++i) {
    int count = 0;
    const std::string* value = internal::FindHeader(response.headers, names[i], &count);
    if (value == nullptr) return Rejected(absl::StrCat("reply has no ", names[i], " header"));
    // Two values would leave it open which one was checked; no genuine reply has that.
    if (count > 1) return Rejected(absl::StrCat("reply has ", count, " ", names[i], " headers"));
    if (value->empty()) return Rejected(absl::StrCat("reply has an empty ", names[i], " header"));
    values[i] = *value;
  }
  return VerifyParts(values[0], values[1], values[2], values[3], response.body, now);
}

absl::Status ResponseVerifier::VerifyParts(absl::string_view timestamp, absl::string_view nonce,
                                           absl::string_view signature, absl::string_view serial,
                                           absl::string_view body, absl::Time now) const {
  if (timestamp.empty()) return Rejected(absl::StrCat("reply has an empty ", kTimestampHeader));
  if (nonce.empty()) return Rejected(absl::StrCat("reply has an empty ", kNonceHeader));
  if (signature.empty()) return Rejected(absl::StrCat("reply has an empty ", kSignatureHeader));
  if (serial.empty()) return Rejected(absl::StrCat("reply has an empty ", kSerialHeader));

  auto key = keys_->find(serial);
  if (key == keys_->end()) {
    return Rejected(absl::StrCat(
        "reply signed with unknown ", kSerialHeader, " \"", internal::Printable(serial),
        "\" (configured: ", keys_->empty() ? "none" : absl::StrJoin(Serials(), ", "), ")"));
  }

  int64_t ts = 0;
  // At most 12 digits: year 33658 is far enough, and the sum below cannot overflow.
  if (!AllDigits(timestamp) || timestamp.size() > 12 || !absl::SimpleAtoi(timestamp, &ts)) {
    return Rejected(absl::StrCat(kTimestampHeader, " \"", internal::Printable(timestamp),
                                 "\" is not Unix seconds"));
  }
  const int64_t skew = ts - absl::ToUnixSeconds(now);  // > 0: the reply is from our future
  const int64_t limit = absl::ToInt64Seconds(kMaxClockSkew);
  if (skew > limit || skew < -limit) {
    log::Warn("wechat_reply_clock_skew",
              {{"serial", internal::Printable(serial)}, {"skew_s", skew}, {"accepted", false}});
    return Rejected(absl::StrCat(kTimestampHeader, " is ", skew > 0 ? skew : -skew, " s ",
                                 skew > 0 ? "ahead of" : "behind", " our clock (limit ", limit,
                                 " s either way)"));
  }
  if (skew > kLogSkewSeconds || skew < -kLogSkewSeconds) {
    log::Info("wechat_reply_clock_skew",
              {{"serial", internal::Printable(serial)}, {"skew_s", skew}, {"accepted", true}});
  }

  if (absl::StartsWith(signature, kSignTestPrefix)) {
    return Rejected(
        absl::StrCat(kSignatureHeader, " is a ", kSignTestPrefix, " probe, not a signature"));
  }

  absl::Status ok =
      VerifySha256WithRsa(key->second, ResponseSignatureMessage(timestamp, nonce, body), signature);
  if (!ok.ok()) {
    return Rejected(
        absl::StrCat("reply signature check failed with key \"", key->first, "\": ", ok.message()));
  }
  return absl::OkStatus();
}

}  // namespace orderquery::payment::wechat
