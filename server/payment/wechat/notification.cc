#include "server/payment/wechat/notification.h"

#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "server/payment/wechat/crypto.h"
#include "server/payment/wechat/text.h"

namespace orderquery::payment::wechat {
namespace {

using nlohmann::json;

absl::Status Invalid(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("WeChat notification: ", why));
}

// A string member of `object`; `path` names it in errors. Absent (or null) is an error when
// `required`, otherwise "".
absl::StatusOr<std::string> StringField(const json& object, const char* name,
                                        absl::string_view path, bool required) {
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) {
    if (required) return Invalid(absl::StrCat(path, name, " is missing"));
    return std::string();
  }
  if (!it->is_string()) {
    return Invalid(absl::StrCat(path, name, " must be a string, got ", it->type_name()));
  }
  return it->get<std::string>();
}

}  // namespace

absl::StatusOr<Notification> ParseNotification(const MerchantConfig& merchant,
                                               absl::string_view timestamp, absl::string_view nonce,
                                               absl::string_view signature,
                                               absl::string_view serial, absl::string_view body,
                                               absl::Time now) {
  if (merchant.apiv3_key.size() != kApiV3KeySize) {
    return absl::FailedPreconditionError(absl::StrCat("WeChat merchant \"", merchant.name, "\" ",
                                                      merchant.apiv3_key.empty()
                                                          ? "has no APIv3 key configured"
                                                          : "has an APIv3 key of the wrong length",
                                                      ": cannot read notifications"));
  }
  // The exact bytes, before anything reads them (a re-serialised body would not verify).
  const std::shared_ptr<const ResponseVerifier> verifier = merchant.ActiveVerifier();
  if (absl::Status ok = verifier->VerifyParts(timestamp, nonce, signature, serial, body, now);
      !ok.ok()) {
    // A new platform certificate WeChat signs with: fetch the list (rate-limited); WeChat
    // delivers the notification again.
    merchant.ReportUnknownSerial(*verifier, serial);
    return absl::UnauthenticatedError(
        absl::StrCat("WeChat notification failed verification: ", ok.message()));
  }

  if (body.size() > kMaxNotificationBody) {
    return Invalid(
        absl::StrCat("body of ", body.size(), " bytes is larger than ", kMaxNotificationBody));
  }
  const json envelope = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (envelope.is_discarded() || !envelope.is_object()) {
    return Invalid(
        absl::StrCat("body is not a JSON object (starts \"", internal::Printable(body, 32), "\")"));
  }

  Notification n;
  struct {
    const char* name;
    std::string* out;
    bool required;
  } fields[] = {
      {"id", &n.id, true},
      {"create_time", &n.create_time, true},
      {"event_type", &n.event_type, true},
      {"resource_type", &n.resource_type, true},
      {"summary", &n.summary, false},
  };
  for (const auto& f : fields) {
    absl::StatusOr<std::string> v = StringField(envelope, f.name, "", f.required);
    if (!v.ok()) return v.status();
    *f.out = *std::move(v);
  }
  if (n.id.empty()) return Invalid("id is empty");

  auto resource = envelope.find("resource");
  if (resource == envelope.end() || resource->is_null()) return Invalid("resource is missing");
  if (!resource->is_object()) {
    return Invalid(absl::StrCat("resource must be an object, got ", resource->type_name()));
  }
  std::string algorithm, ciphertext, resource_nonce, associated_data;
  struct {
    const char* name;
    std::string* out;
    bool required;
  } resource_fields[] = {
      {"algorithm", &algorithm, true},
      {"ciphertext", &ciphertext, true},
      {"nonce", &resource_nonce, true},
      // WeChat sends "transaction"; absent means none (the tag still covers it).
      {"associated_data", &associated_data, false},
  };
  for (const auto& f : resource_fields) {
    absl::StatusOr<std::string> v = StringField(*resource, f.name, "resource.", f.required);
    if (!v.ok()) return v.status();
    *f.out = *std::move(v);
  }
  if (algorithm != kNotificationAlgorithm) {
    return Invalid(absl::StrCat("resource.algorithm \"", internal::Printable(algorithm),
                                "\" is not ", kNotificationAlgorithm));
  }

  absl::StatusOr<std::string> plaintext =
      AeadAes256GcmDecrypt(merchant.apiv3_key, resource_nonce, associated_data, ciphertext);
  if (!plaintext.ok()) {
    if (plaintext.status().code() != absl::StatusCode::kInvalidArgument) {
      return plaintext.status();  // the crypto library failed us, not the notification
    }
    // Tampered, cut, or encrypted with another key: nothing in it can be trusted or read.
    return Invalid(absl::StrCat("resource does not decrypt with merchant \"", merchant.name,
                                "\"'s APIv3 key: ", plaintext.status().message()));
  }
  absl::StatusOr<Transaction> transaction = DecodeTransaction(*plaintext, merchant.mode);
  if (!transaction.ok()) {
    return Invalid(absl::StrCat("decrypted resource is not a ",
                                merchant.mode == ApiMode::kDirect ? "direct" : "partner",
                                " transaction: ", transaction.status().message()));
  }
  n.transaction = *std::move(transaction);
  return n;
}

}  // namespace orderquery::payment::wechat
