// libFuzzer target for everything that reads bytes WeChat (or anyone on the path) sends us:
// response headers and the signature check, error-reply mapping, the JSON decoders, the
// Authorization parser the sandbox uses, base64. Now and then the input is wrapped in a
// correctly signed reply and pushed through the whole client, so the decode path behind a
// successful verification is reached too.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/common/log.h"
#include "server/payment/http/transport.h"
#include "server/payment/wechat/client.h"
#include "server/payment/wechat/crypto.h"
#include "server/payment/wechat/errors.h"
#include "server/payment/wechat/merchant.h"
#include "server/payment/wechat/model.h"
#include "server/payment/wechat/signer.h"
#include "server/payment/wechat/verifier.h"
#include "tests/fakes/wechat_signing.h"

namespace wechat = ::orderquery::payment::wechat;
namespace http = ::orderquery::payment::http;

namespace {

constexpr char kPubKeyId[] = "PUB_KEY_ID_0112300001092024111100000000000001";
constexpr int64_t kNow = 1700000000;

std::string ReadFile(const char* path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Test-only keys from tests/unit/wechat/testdata, loaded once.
struct Keys {
  std::optional<wechat::RsaKey> wechatpay_private;
  wechat::MerchantConfig merchant;
};

const Keys& GetKeys() {
  static const Keys* keys = [] {
    auto* k = new Keys;
    const std::string dir = OQ_WECHAT_TESTDATA;
    absl::StatusOr<wechat::RsaKey> priv =
        wechat::RsaKey::PrivateFromPem(ReadFile((dir + "/wechatpay_key.pem").c_str()));
    if (!priv.ok()) std::abort();
    k->wechatpay_private = *priv;
    wechat::MerchantConfig m;
    m.name = "fuzz";
    m.appids = {"wxcbda96de0b165486"};
    m.mode = wechat::ApiMode::kPartner;
    m.mchid = "1230000109";
    m.sub_mchid = "1900000109";
    m.serial_no = "1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C";
    m.base_url = "http://127.0.0.1:1";
    wechat::MerchantKeySources sources;
    sources.private_key = dir + "/merchant_key.pem";
    sources.public_key_id = kPubKeyId;
    sources.public_key = dir + "/wechatpay_pub.pem";
    sources.platform_certificates = {dir + "/platform_a_cert.pem"};
    absl::StatusOr<wechat::MerchantConfig> loaded = wechat::LoadMerchantKeys(m, sources);
    if (!loaded.ok()) std::abort();
    k->merchant = *loaded;
    return k;
  }();
  return *keys;
}

// Answers every request at once with a prepared response.
class CannedTransport : public http::Transport {
 public:
  explicit CannedTransport(http::Response response) : response_(std::move(response)) {}
  void Send(http::Request /*request*/, http::Callback done) override { done(response_); }

 private:
  http::Response response_;
};

std::string HeaderName(FuzzedDataProvider& fdp) {
  static const char* const kNames[] = {"Wechatpay-Timestamp", "Wechatpay-Nonce",
                                       "Wechatpay-Signature", "Wechatpay-Serial",
                                       "wechatpay-signature", "Content-Type"};
  if (fdp.ConsumeBool()) return fdp.ConsumeRandomLengthString(32);
  return kNames[fdp.ConsumeIntegralInRange<size_t>(0, 5)];
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  // Rejections log warnings; at a million inputs that is only noise.
  orderquery::log::SetMinLevel(orderquery::log::Level::kError);
  GetKeys();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Keys& keys = GetKeys();
  FuzzedDataProvider fdp(data, size);
  const absl::Time now = absl::FromUnixSeconds(kNow);

  http::Response reply;
  reply.status = fdp.ConsumeIntegralInRange<int>(0, 999);
  const int header_count = fdp.ConsumeIntegralInRange<int>(0, 8);
  for (int i = 0; i < header_count; ++i) {
    std::string name = HeaderName(fdp);
    reply.headers.emplace_back(std::move(name), fdp.ConsumeRandomLengthString(512));
  }
  const bool sign = fdp.ConsumeIntegralInRange<int>(0, 7) == 0;
  const bool vehicle = fdp.ConsumeBool();
  reply.body = fdp.ConsumeRemainingBytesAsString();

  // Every parser on the raw bytes.
  (void)keys.merchant.verifier.Verify(reply, now);
  const absl::Status error = wechat::FromErrorReply(reply);
  (void)wechat::WechatCode(error);
  (void)wechat::WechatMessage(error);
  (void)wechat::UpstreamHttpStatus(error);
  (void)wechat::DecodeTransaction(reply.body, wechat::ApiMode::kDirect);
  (void)wechat::DecodeTransaction(reply.body, wechat::ApiMode::kPartner);
  (void)wechat::DecodeVehicleTransaction(reply.body);
  (void)wechat::ParseAuthorization(reply.body);
  (void)wechat::Base64Decode(reply.body);
  if (!reply.headers.empty()) {
    (void)wechat::ParseAuthorization(reply.headers.front().second);
    (void)wechat::Base64Decode(reply.headers.front().second);
  }

  // Through the client: either as received, or signed for real so decoding is reached.
  if (sign) {
    reply.status = 200;
    absl::StatusOr<http::Headers> headers = wechat::SignedResponseHeaders(
        *keys.wechatpay_private, kPubKeyId, kNow, "fuzz-nonce", reply.body);
    if (!headers.ok()) std::abort();
    reply.headers = *std::move(headers);
  }
  CannedTransport transport(reply);
  wechat::HttpWechatPayClient client(
      &transport, wechat::HttpWechatPayClient::Options{"fuzz", [now] { return now; }});
  bool answered = false;
  if (vehicle) {
    client.QueryVehicleTransaction(keys.merchant, "20150806125346", "1900000109",
                                   now + absl::Seconds(1),
                                   [&](absl::StatusOr<wechat::VehicleResult> r) {
                                     answered = true;
                                     // A result may only come out of a verified 2xx reply.
                                     if (r.ok() && !(sign && reply.status == 200)) std::abort();
                                   });
  } else {
    client.QueryOrder(keys.merchant, "20150806125346", now + absl::Seconds(1),
                      [&](absl::StatusOr<wechat::Transaction> r) {
                        answered = true;
                        if (r.ok() && !(sign && reply.status == 200)) std::abort();
                      });
  }
  if (!answered) std::abort();  // the callback runs exactly once, here synchronously
  return 0;
}
