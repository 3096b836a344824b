#include "server/payment/tradeapi/signer.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdint>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace orderquery::payment::tradeapi {
namespace {

std::string UpperHex(const unsigned char* data, unsigned int size) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(size * 2);
  for (unsigned int i = 0; i < size; ++i) {
    out.push_back(kDigits[data[i] >> 4]);
    out.push_back(kDigits[data[i] & 0x0f]);
  }
  return out;
}

std::string Md5Hex(absl::string_view message) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  // MD5 lives in OpenSSL 3's default provider; failure would mean a broken libcrypto, and an
  // empty signature then fails verification upstream instead of crashing here.
  if (EVP_Digest(message.data(), message.size(), md, &size, EVP_md5(), nullptr) != 1) return "";
  return UpperHex(md, size);
}

std::string HmacSha256Hex(absl::string_view key, absl::string_view message) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(message.data()), message.size(), md,
           &size) == nullptr) {
    return "";
  }
  return UpperHex(md, size);
}

}  // namespace

absl::StatusOr<SignType> ParseSignType(absl::string_view name) {
  const std::string upper = absl::AsciiStrToUpper(name);
  if (upper == "MD5") return SignType::kMd5;
  if (upper == "HMAC-SHA256") return SignType::kHmacSha256;
  return absl::InvalidArgumentError(
      absl::StrCat("sign_type \"", name, "\" is not supported (MD5 or HMAC-SHA256)"));
}

absl::string_view SignTypeName(SignType type) {
  return type == SignType::kMd5 ? "MD5" : "HMAC-SHA256";
}

std::string StringToSign(const Params& params, absl::string_view key) {
  std::string out;
  for (const auto& [name, value] : params) {
    if (value.empty() || name == kSignParam) continue;
    absl::StrAppend(&out, out.empty() ? "" : "&", name, "=", value);
  }
  absl::StrAppend(&out, out.empty() ? "" : "&", "key=", key);
  return out;
}

std::string Sign(const Params& params, absl::string_view key, SignType type) {
  const std::string message = StringToSign(params, key);
  return type == SignType::kMd5 ? Md5Hex(message) : HmacSha256Hex(key, message);
}

absl::Status Verify(const Params& params, absl::string_view key, SignType type) {
  auto it = params.find(kSignParam);
  if (it == params.end() || it->second.empty()) {
    return absl::UnauthenticatedError("sign missing");
  }
  const std::string expected = Sign(params, key, type);
  const std::string given = absl::AsciiStrToUpper(it->second);
  // Constant time, so response timing does not reveal how much of a forged sign was right.
  if (expected.empty() || given.size() != expected.size() ||
      CRYPTO_memcmp(given.data(), expected.data(), expected.size()) != 0) {
    return absl::UnauthenticatedError("sign mismatch");
  }
  return absl::OkStatus();
}

std::string FormatReqTime(absl::Time t) { return absl::StrCat(absl::ToUnixMillis(t)); }

absl::StatusOr<absl::Time> ParseReqTime(absl::string_view value) {
  int64_t ms = 0;
  const bool digits = !value.empty() && value.size() <= 16 &&
                      value.find_first_not_of("0123456789") == absl::string_view::npos;
  if (!digits || !absl::SimpleAtoi(value, &ms)) {
    return absl::InvalidArgumentError(
        absl::StrCat("reqTime \"", value.substr(0, 32), "\" is not epoch milliseconds"));
  }
  return absl::FromUnixMillis(ms);
}

absl::Status CheckReqTime(const Params& params, absl::Time now, absl::Duration max_skew) {
  auto it = params.find(kReqTimeParam);
  if (it == params.end() || it->second.empty()) {
    return absl::InvalidArgumentError("reqTime missing");
  }
  auto t = ParseReqTime(it->second);
  if (!t.ok()) return t.status();
  const absl::Duration skew = absl::AbsDuration(now - *t);
  if (skew > max_skew) {
    return absl::InvalidArgumentError(absl::StrCat("reqTime is ", absl::FormatDuration(skew),
                                                   " away from the server clock (max ",
                                                   absl::FormatDuration(max_skew), ")"));
  }
  return absl::OkStatus();
}

}  // namespace orderquery::payment::tradeapi
