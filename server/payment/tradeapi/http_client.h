// usecase::TradeStatusProvider over the shared HTTP transport (retries, timeouts and the
// per-merchant limiter live there). One instance serves every configured merchant.
//
// Request (GET, idempotent, limiter_key = merchant name, deadline = the caller's):
//   {base_url}/api/trade_order/get?tradeOrderId=…&mchId=…&appId=…&signType=…&reqTime=…&sign=…
// values percent-encoded (RFC 3986 unreserved characters kept), appId left out when the merchant
// has none, reqTime in epoch milliseconds, sign as in signer.h over the unencoded values.
//
// Reply: 2xx -> decoder.h; other statuses and transport failures -> errors.h. A readable reply
// about another order is UNAVAILABLE (ask again); one naming another mchId/appId than
// configured is INTERNAL (base_url or ids misconfigured): we never return another merchant's
// order under this merchant's name.
#ifndef ORDERQUERY_SERVER_PAYMENT_TRADEAPI_HTTP_CLIENT_H_
#define ORDERQUERY_SERVER_PAYMENT_TRADEAPI_HTTP_CLIENT_H_

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/payment/http/transport.h"
#include "server/payment/tradeapi/settings.h"
#include "server/payment/tradeapi/signer.h"
#include "server/usecase/ports.h"

namespace orderquery::payment::tradeapi {

inline constexpr absl::string_view kTradeOrderPath = "/api/trade_order/get";

// One merchant, ready to sign: the key is resolved (from `key`, else read from `key_file`).
struct MerchantEndpoint {
  std::string name;
  std::string base_url;  // without a trailing '/'
  std::string mch_id;
  std::string app_id;
  std::string key;  // secret: never logged
  SignType sign_type = SignType::kMd5;
};

// Resolves one merchant's configuration; `name` is its key under trade.merchants. Errors are
// INVALID_ARGUMENT naming the config key (an unreadable or empty key_file names the file).
absl::StatusOr<MerchantEndpoint> LoadMerchant(const std::string& name, const MerchantSettings& c);

// The inverse, for the sandbox playing the platform: "a=1&b=%E8%A2%AB" -> {a:1, b:被}; '+' is a
// space (form encoding). INVALID_ARGUMENT on a bad escape or a repeated name.
absl::StatusOr<Params> ParseQuery(absl::string_view query);

class HttpMerchantTradeClient final : public usecase::TradeStatusProvider {
 public:
  using Clock = std::function<absl::Time()>;

  // Fails when any merchant's configuration cannot be used (see LoadMerchant). `transport`
  // must outlive the client, and the client its in-flight requests; `clock` (default
  // absl::Now) stamps reqTime.
  static absl::StatusOr<std::unique_ptr<HttpMerchantTradeClient>> Create(
      const std::map<std::string, MerchantSettings>& merchants, http::Transport* transport,
      Clock clock = nullptr);

  bool HasMerchant(absl::string_view merchant) const override;
  void GetTradeOrder(absl::string_view merchant, absl::string_view trade_order_id,
                     absl::Time deadline, Callback done) override;

  // The signed request GetTradeOrder sends (INVALID_ARGUMENT for an unknown merchant).
  absl::StatusOr<http::Request> BuildRequest(absl::string_view merchant,
                                             absl::string_view trade_order_id,
                                             absl::Time deadline) const;

 private:
  HttpMerchantTradeClient(std::map<std::string, MerchantEndpoint> merchants,
                          http::Transport* transport, Clock clock);

  const std::map<std::string, MerchantEndpoint> merchants_;
  http::Transport* const transport_;
  const Clock clock_;
};

}  // namespace orderquery::payment::tradeapi

#endif  // ORDERQUERY_SERVER_PAYMENT_TRADEAPI_HTTP_CLIENT_H_
