#include "server/payment/wechat/crypto.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include <climits>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace orderquery::payment::wechat {
namespace {

// WeChat Pay issues RSA-2048 keys; anything shorter is a misconfiguration we want to hear about.
constexpr int kMinRsaBits = 2048;
constexpr size_t kGcmTagSize = 16;

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct BnFree {
  void operator()(BIGNUM* b) const { BN_free(b); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;
using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;

// The library's error queue is per thread and shared with libcurl's TLS code on the transport
// thread: a failure we leave behind could be misread by the next TLS call, so every failing
// path drains it.
class ErrorQueueGuard {
 public:
  ErrorQueueGuard() = default;
  ErrorQueueGuard(const ErrorQueueGuard&) = delete;
  ErrorQueueGuard& operator=(const ErrorQueueGuard&) = delete;
  ~ErrorQueueGuard() { ERR_clear_error(); }
};

const uint8_t* Bytes(absl::string_view s) { return reinterpret_cast<const uint8_t*>(s.data()); }

// A BIO reading `pem` in place. The caller keeps `pem` alive while the BIO is used.
absl::StatusOr<BioPtr> MemBio(absl::string_view pem) {
  if (pem.empty()) return absl::InvalidArgumentError("PEM input is empty");
  if (pem.size() > static_cast<size_t>(INT_MAX)) {
    return absl::InvalidArgumentError("PEM input is too large");
  }
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (bio == nullptr) return absl::ResourceExhaustedError("cannot allocate a memory BIO");
  return bio;
}

// Never prompt for a passphrase: the library's default callback reads the terminal, which would
// hang a daemon on an encrypted key. Returning 0 makes encrypted keys fail to load instead.
int NoPassphrase(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*userdata*/) { return 0; }

absl::Status CheckRsa(EVP_PKEY* key, absl::string_view what) {
  if (EVP_PKEY_id(key) != EVP_PKEY_RSA) {
    return absl::InvalidArgumentError(absl::StrCat(what, " is not an RSA key"));
  }
  const int bits = EVP_PKEY_bits(key);
  if (bits < kMinRsaBits) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is RSA-", bits, "; at least RSA-", kMinRsaBits, " is required"));
  }
  return absl::OkStatus();
}

std::shared_ptr<EVP_PKEY> Share(EVP_PKEY* key) {
  return std::shared_ptr<EVP_PKEY>(key, [](EVP_PKEY* k) { EVP_PKEY_free(k); });
}

absl::StatusOr<X509Ptr> ReadCertificate(absl::string_view pem) {
  absl::StatusOr<BioPtr> bio = MemBio(pem);
  if (!bio.ok()) return bio.status();
  X509Ptr cert(PEM_read_bio_X509(bio->get(), nullptr, NoPassphrase, nullptr));
  if (cert == nullptr) {
    return absl::InvalidArgumentError("not a PEM \"CERTIFICATE\" (X.509)");
  }
  return cert;
}

bool IsBase64Char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

}  // namespace

absl::StatusOr<RsaKey> RsaKey::PrivateFromPem(absl::string_view pem) {
  ErrorQueueGuard guard;
  absl::StatusOr<BioPtr> bio = MemBio(pem);
  if (!bio.ok()) return bio.status();
  EVP_PKEY* raw = PEM_read_bio_PrivateKey(bio->get(), nullptr, NoPassphrase, nullptr);
  if (raw == nullptr) {
    return absl::InvalidArgumentError(
        "not an unencrypted PEM private key (expected PKCS#8 \"PRIVATE KEY\")");
  }
  std::shared_ptr<EVP_PKEY> key = Share(raw);
  if (absl::Status s = CheckRsa(key.get(), "private key"); !s.ok()) return s;
  return RsaKey(std::move(key));
}

absl::StatusOr<RsaKey> RsaKey::PublicFromPem(absl::string_view pem) {
  ErrorQueueGuard guard;
  absl::StatusOr<BioPtr> bio = MemBio(pem);
  if (!bio.ok()) return bio.status();
  EVP_PKEY* raw = PEM_read_bio_PUBKEY(bio->get(), nullptr, NoPassphrase, nullptr);
  if (raw == nullptr) {
    return absl::InvalidArgumentError("not a PEM \"PUBLIC KEY\" (SubjectPublicKeyInfo)");
  }
  std::shared_ptr<EVP_PKEY> key = Share(raw);
  if (absl::Status s = CheckRsa(key.get(), "public key"); !s.ok()) return s;
  return RsaKey(std::move(key));
}

absl::StatusOr<RsaKey> RsaKey::PublicFromCertificatePem(absl::string_view pem) {
  ErrorQueueGuard guard;
  absl::StatusOr<X509Ptr> cert = ReadCertificate(pem);
  if (!cert.ok()) return cert.status();
  EVP_PKEY* raw = X509_get_pubkey(cert->get());  // a new reference, ours to free
  if (raw == nullptr) {
    return absl::InvalidArgumentError("certificate carries no usable public key");
  }
  std::shared_ptr<EVP_PKEY> key = Share(raw);
  if (absl::Status s = CheckRsa(key.get(), "certificate key"); !s.ok()) return s;
  return RsaKey(std::move(key));
}

absl::StatusOr<std::string> CertificateSerialHex(absl::string_view pem) {
  ErrorQueueGuard guard;
  absl::StatusOr<X509Ptr> cert = ReadCertificate(pem);
  if (!cert.ok()) return cert.status();
  BnPtr bn(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert->get()), nullptr));
  if (bn == nullptr) return absl::InvalidArgumentError("certificate serial number is unreadable");
  char* hex = BN_bn2hex(bn.get());
  if (hex == nullptr) return absl::ResourceExhaustedError("cannot format the serial number");
  std::string out(hex);
  OPENSSL_free(hex);
  // OpenSSL prints upper case, BoringSSL lower case; WeChat's serials are upper case.
  absl::AsciiStrToUpper(&out);
  return out;
}

absl::StatusOr<CertificateValidity> CertificateValidityOf(absl::string_view pem) {
  ErrorQueueGuard guard;
  absl::StatusOr<X509Ptr> cert = ReadCertificate(pem);
  if (!cert.ok()) return cert.status();
  // Seconds since the epoch as a difference from an ASN1_TIME of 0: ASN1_TIME_diff is in both
  // OpenSSL and BoringSSL, their "to time_t" functions are not.
  std::unique_ptr<ASN1_TIME, void (*)(ASN1_TIME*)> epoch(ASN1_TIME_set(nullptr, 0), ASN1_TIME_free);
  if (epoch == nullptr) return absl::ResourceExhaustedError("cannot allocate an ASN1_TIME");
  auto seconds = [&epoch](const ASN1_TIME* t, int64_t* out) {
    int days = 0, secs = 0;
    if (t == nullptr || ASN1_TIME_diff(&days, &secs, epoch.get(), t) != 1) return false;
    *out = static_cast<int64_t>(days) * 86400 + secs;
    return true;
  };
  CertificateValidity v;
  if (!seconds(X509_get0_notBefore(cert->get()), &v.not_before) ||
      !seconds(X509_get0_notAfter(cert->get()), &v.not_after)) {
    return absl::InvalidArgumentError("certificate validity period is unreadable");
  }
  return v;
}

absl::StatusOr<std::string> SignSha256WithRsa(const RsaKey& private_key,
                                              absl::string_view message) {
  ErrorQueueGuard guard;
  if (private_key.get() == nullptr) return absl::InvalidArgumentError("no signing key");
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (ctx == nullptr) return absl::ResourceExhaustedError("cannot allocate a digest context");
  // RSA keys default to PKCS#1 v1.5 padding, which is what WECHATPAY2-SHA256-RSA2048 means.
  if (EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, private_key.get()) != 1 ||
      EVP_DigestSignUpdate(ctx.get(), message.data(), message.size()) != 1) {
    return absl::InvalidArgumentError("cannot sign with this key (is it a private key?)");
  }
  size_t sig_len = 0;
  if (EVP_DigestSignFinal(ctx.get(), nullptr, &sig_len) != 1) {
    return absl::InvalidArgumentError("cannot sign with this key (is it a private key?)");
  }
  std::string sig(sig_len, '\0');
  if (EVP_DigestSignFinal(ctx.get(), reinterpret_cast<uint8_t*>(sig.data()), &sig_len) != 1) {
    return absl::InvalidArgumentError("RSA signing failed");
  }
  sig.resize(sig_len);
  return Base64Encode(sig);
}

absl::Status VerifySha256WithRsa(const RsaKey& public_key, absl::string_view message,
                                 absl::string_view signature_b64) {
  ErrorQueueGuard guard;
  if (public_key.get() == nullptr) return absl::InvalidArgumentError("no verification key");
  absl::StatusOr<std::string> sig = Base64Decode(signature_b64);
  if (!sig.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("signature is not base64: ", sig.status().message()));
  }
  if (sig->empty()) return absl::InvalidArgumentError("signature is empty");
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (ctx == nullptr) return absl::ResourceExhaustedError("cannot allocate a digest context");
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, public_key.get()) != 1 ||
      EVP_DigestVerifyUpdate(ctx.get(), message.data(), message.size()) != 1) {
    return absl::InvalidArgumentError("cannot verify with this key");
  }
  if (EVP_DigestVerifyFinal(ctx.get(), Bytes(*sig), sig->size()) != 1) {
    return absl::InvalidArgumentError("signature does not match");
  }
  return absl::OkStatus();
}

namespace {

absl::Status CheckGcmInputs(absl::string_view key, absl::string_view nonce,
                            absl::string_view associated_data, size_t text_size) {
  if (key.size() != 32) {
    return absl::InvalidArgumentError(
        absl::StrCat("AEAD_AES_256_GCM key must be 32 bytes, got ", key.size()));
  }
  if (nonce.empty()) return absl::InvalidArgumentError("AEAD_AES_256_GCM nonce is empty");
  // The EVP calls take int lengths.
  constexpr size_t kMax = static_cast<size_t>(INT_MAX) - kGcmTagSize;
  if (nonce.size() > 256 || associated_data.size() > kMax || text_size > kMax) {
    return absl::InvalidArgumentError("AEAD_AES_256_GCM input is too large");
  }
  return absl::OkStatus();
}

// Shared set-up for both directions: cipher, nonce length, key, nonce, associated data.
absl::Status GcmInit(EVP_CIPHER_CTX* ctx, bool encrypt, absl::string_view key,
                     absl::string_view nonce, absl::string_view associated_data) {
  const int enc = encrypt ? 1 : 0;
  if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), nullptr, nullptr, nullptr, enc) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(nonce.size()), nullptr) !=
          1 ||
      EVP_CipherInit_ex(ctx, nullptr, nullptr, Bytes(key), Bytes(nonce), enc) != 1) {
    return absl::InternalError("AES-256-GCM initialisation failed");
  }
  if (!associated_data.empty()) {
    int ignored = 0;
    if (EVP_CipherUpdate(ctx, nullptr, &ignored, Bytes(associated_data),
                         static_cast<int>(associated_data.size())) != 1) {
      return absl::InternalError("AES-256-GCM associated data rejected");
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> AeadAes256GcmDecrypt(absl::string_view key, absl::string_view nonce,
                                                 absl::string_view associated_data,
                                                 absl::string_view ciphertext_b64) {
  ErrorQueueGuard guard;
  absl::StatusOr<std::string> sealed = Base64Decode(ciphertext_b64);
  if (!sealed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("ciphertext is not base64: ", sealed.status().message()));
  }
  if (sealed->size() < kGcmTagSize) {
    return absl::InvalidArgumentError("ciphertext is shorter than the 16-byte tag");
  }
  const size_t text_size = sealed->size() - kGcmTagSize;
  if (absl::Status s = CheckGcmInputs(key, nonce, associated_data, text_size); !s.ok()) return s;
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (ctx == nullptr) return absl::ResourceExhaustedError("cannot allocate a cipher context");
  if (absl::Status s = GcmInit(ctx.get(), false, key, nonce, associated_data); !s.ok()) return s;

  // One spare block: the EVP interface allows Update/Final to write up to a block more.
  std::string plain(text_size + 16, '\0');
  int out_len = 0;
  if (text_size > 0 &&
      EVP_DecryptUpdate(ctx.get(), reinterpret_cast<uint8_t*>(plain.data()), &out_len,
                        Bytes(*sealed), static_cast<int>(text_size)) != 1) {
    return absl::InvalidArgumentError("AES-256-GCM decryption failed");
  }
  std::string tag = sealed->substr(text_size);
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kGcmTagSize),
                          tag.data()) != 1) {
    return absl::InternalError("AES-256-GCM cannot set the tag");
  }
  int final_len = 0;
  if (EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<uint8_t*>(plain.data()) + out_len,
                          &final_len) != 1) {
    // Wrong key, nonce, associated data, or tampered ciphertext/tag: GCM cannot tell which.
    return absl::InvalidArgumentError(
        "AES-256-GCM authentication failed (wrong key, nonce or associated data, or tampered)");
  }
  plain.resize(static_cast<size_t>(out_len + final_len));
  return plain;
}

absl::StatusOr<std::string> AeadAes256GcmEncrypt(absl::string_view key, absl::string_view nonce,
                                                 absl::string_view associated_data,
                                                 absl::string_view plaintext) {
  ErrorQueueGuard guard;
  if (absl::Status s = CheckGcmInputs(key, nonce, associated_data, plaintext.size()); !s.ok()) {
    return s;
  }
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (ctx == nullptr) return absl::ResourceExhaustedError("cannot allocate a cipher context");
  if (absl::Status s = GcmInit(ctx.get(), true, key, nonce, associated_data); !s.ok()) return s;

  std::string sealed(plaintext.size() + 16 + kGcmTagSize, '\0');
  int out_len = 0;
  if (!plaintext.empty() &&
      EVP_EncryptUpdate(ctx.get(), reinterpret_cast<uint8_t*>(sealed.data()), &out_len,
                        Bytes(plaintext), static_cast<int>(plaintext.size())) != 1) {
    return absl::InternalError("AES-256-GCM encryption failed");
  }
  int final_len = 0;
  if (EVP_EncryptFinal_ex(ctx.get(), reinterpret_cast<uint8_t*>(sealed.data()) + out_len,
                          &final_len) != 1) {
    return absl::InternalError("AES-256-GCM encryption failed");
  }
  const size_t text_size = static_cast<size_t>(out_len + final_len);
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kGcmTagSize),
                          sealed.data() + text_size) != 1) {
    return absl::InternalError("AES-256-GCM cannot read the tag");
  }
  sealed.resize(text_size + kGcmTagSize);
  return Base64Encode(sealed);
}

std::string Base64Encode(absl::string_view data) {
  if (data.empty()) return std::string();
  // EVP_EncodeBlock writes 4 characters per started 3-byte group plus a NUL.
  std::string out((data.size() + 2) / 3 * 4 + 1, '\0');
  // OpenSSL takes and returns int, BoringSSL size_t; the input sizes we handle fit in int.
  const size_t written = static_cast<size_t>(EVP_EncodeBlock(
      reinterpret_cast<uint8_t*>(out.data()), Bytes(data), static_cast<int>(data.size())));
  out.resize(written);
  return out;
}

absl::StatusOr<std::string> Base64Decode(absl::string_view b64) {
  // EVP_DecodeBlock differs between the libraries (OpenSSL skips surrounding whitespace,
  // BoringSSL does not) and neither strips the padding from its result, so the input is checked
  // here first: canonical padded base64 only, the same answer from both libraries.
  if (b64.empty()) return std::string();
  if (b64.size() % 4 != 0) {
    return absl::InvalidArgumentError("base64 length is not a multiple of 4");
  }
  if (b64.size() > static_cast<size_t>(INT_MAX)) {
    return absl::InvalidArgumentError("base64 input is too large");
  }
  size_t padding = 0;
  if (b64.back() == '=') padding = (b64[b64.size() - 2] == '=') ? 2 : 1;
  for (size_t i = 0; i < b64.size() - padding; ++i) {
    if (!IsBase64Char(b64[i])) {
      return absl::InvalidArgumentError(absl::StrCat("invalid base64 character at offset ", i));
    }
  }
  std::string out(b64.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<uint8_t*>(out.data()), Bytes(b64),
                                static_cast<int>(b64.size()));
  if (n < 0 || static_cast<size_t>(n) != out.size()) {
    ERR_clear_error();
    return absl::InvalidArgumentError("invalid base64");
  }
  out.resize(out.size() - padding);
  return out;
}

std::string RandomNonce(size_t length) {
  static constexpr char kAlphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
  constexpr unsigned kAlphabetSize = sizeof(kAlphabet) - 1;  // 36
  // Bytes at or above 252 (the largest multiple of 36 below 256) are dropped so every
  // character is equally likely.
  constexpr unsigned kLimit = 256 / kAlphabetSize * kAlphabetSize;
  std::string out;
  out.reserve(length);
  uint8_t buf[64];
  while (out.size() < length) {
    if (RAND_bytes(buf, sizeof(buf)) != 1) {
      // A predictable nonce would let a captured request be replayed; there is no safe way on.
      std::abort();
    }
    for (uint8_t b : buf) {
      if (b >= kLimit) continue;
      out.push_back(kAlphabet[b % kAlphabetSize]);
      if (out.size() == length) break;
    }
  }
  return out;
}

}  // namespace orderquery::payment::wechat
