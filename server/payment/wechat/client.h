// The WeChat Pay v3 client (order queries and close): the seam services program against
// (WechatPayClient, easy to fake in their tests) and its implementation over the async HTTP
// transport.
#ifndef ORDERQUERY_SERVER_PAYMENT_WECHAT_CLIENT_H_
#define ORDERQUERY_SERVER_PAYMENT_WECHAT_CLIENT_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/domain/vehicle.h"
#include "server/payment/http/transport.h"
#include "server/payment/wechat/merchant.h"
#include "server/payment/wechat/model.h"

namespace orderquery::payment::wechat {

struct VehicleResult {
  domain::VehicleTransaction transaction;
  std::string body;  // the verified reply body exactly as received (for snapshots/audit)
};

// Statuses the callbacks receive (see errors.h for the full table): INVALID_ARGUMENT for a bad
// out_trade_no/sub_mchid (checked before any I/O) or WeChat's PARAM_ERROR; NOT_FOUND;
// FAILED_PRECONDITION (WeChat's INVALID_REQUEST and other 4xx, message is WeChat's);
// RESOURCE_EXHAUSTED; UNAVAILABLE (5xx, unreachable, unreadable reply: unknown, ask again);
// DEADLINE_EXCEEDED; INTERNAL (SIGN_ERROR, a reply that failed verification, a merchant
// misconfiguration). WechatCode()/UpstreamHttpStatus() read the details off a status.
class WechatPayClient {
 public:
  using TransactionCallback = std::function<void(absl::StatusOr<Transaction>)>;
  using VehicleCallback = std::function<void(absl::StatusOr<VehicleResult>)>;
  using CloseCallback = std::function<void(absl::Status)>;

  virtual ~WechatPayClient() = default;

  // Asks WeChat for an ordinary order: the direct or partner endpoint by merchant.mode (partner
  // mode uses merchant.sub_mchid). `done` runs exactly once, possibly before this returns (input
  // rejected, deadline already passed), otherwise on the transport's thread: it must not block.
  // `merchant` need not outlive the call.
  virtual void QueryOrder(const MerchantConfig& merchant, absl::string_view out_trade_no,
                          absl::Time deadline, TransactionCallback done) = 0;

  // Asks WeChat for a parking transaction (seed 002, partner mode) of sub-merchant `sub_mchid`.
  // Same callback rules as QueryOrder.
  virtual void QueryVehicleTransaction(const MerchantConfig& merchant,
                                       absl::string_view out_trade_no, absl::string_view sub_mchid,
                                       absl::Time deadline, VehicleCallback done) = 0;

  // Closes an unpaid order (关闭订单). Direct mode: POST /v3/pay/transactions/out-trade-no/{no}/
  // close with {"mchid":M}; partner mode: POST /v3/pay/partner/transactions/out-trade-no/{no}/
  // close with {"sp_mchid":SP,"sub_mchid":SUB}, SUB = `sub_mchid`, or merchant.sub_mchid when
  // that is empty (ignored in direct mode). OK on a verified 2xx (WeChat answers 204, signed).
  // FAILED_PRECONDITION with WechatCode() "ORDERPAID" when the order is paid (query it and
  // credit, never mark it closed) or "ORDER_CLOSED" when it is already closed; other failures as
  // for QueryOrder (errors.h). A 2xx that fails verification is INTERNAL: whether the order was
  // closed is unknown, so query it. Retried by the transport like a query: closing is idempotent
  // at WeChat (a repeat finds the order closed), so the worst a retry does is turn a lost 204
  // into ORDER_CLOSED. Same callback rules as QueryOrder.
  virtual void CloseOrder(const MerchantConfig& merchant, absl::string_view out_trade_no,
                          absl::string_view sub_mchid, absl::Time deadline, CloseCallback done) = 0;
};

class HttpWechatPayClient final : public WechatPayClient {
 public:
  struct Options {
    std::string user_agent = "orderquery/0.1 (WeChat Pay APIv3 client; C++)";
    // Signing timestamps and the reply freshness check read this clock; tests move it.
    std::function<absl::Time()> clock;  // absl::Now when empty
  };

  // `transport` must outlive this client and every request in flight.
  explicit HttpWechatPayClient(http::Transport* transport);
  HttpWechatPayClient(http::Transport* transport, Options options);

  void QueryOrder(const MerchantConfig& merchant, absl::string_view out_trade_no,
                  absl::Time deadline, TransactionCallback done) override;
  void QueryVehicleTransaction(const MerchantConfig& merchant, absl::string_view out_trade_no,
                               absl::string_view sub_mchid, absl::Time deadline,
                               VehicleCallback done) override;
  void CloseOrder(const MerchantConfig& merchant, absl::string_view out_trade_no,
                  absl::string_view sub_mchid, absl::Time deadline, CloseCallback done) override;

  // Signed GET /v3/certificates. `done` gets a 2xx reply unverified (the key store checks it
  // with its own rules, certificates.h) or the mapped error, under QueryOrder's callback rules.
  void FetchCertificates(const MerchantConfig& merchant, absl::Time deadline,
                         std::function<void(absl::StatusOr<http::Response>)> done);

 private:
  // Called with the reply only once it is a verified 2xx; otherwise with the mapped error.
  using VerifiedCallback = std::function<void(absl::StatusOr<http::Response>)>;

  absl::Time Now() const;
  // Signs and sends `method` `path_and_query` (with `body`, JSON, for a POST) for `merchant`,
  // verifies the reply.
  void Call(const MerchantConfig& merchant, absl::string_view method,
            const std::string& path_and_query, std::string body, absl::Time deadline,
            VerifiedCallback on_reply, bool verify = true);
  void Get(const MerchantConfig& merchant, const std::string& path_and_query, absl::Time deadline,
           VerifiedCallback on_reply);

  http::Transport* transport_;
  Options options_;
};

// How a merchant's key store refreshes (config: upstream.certificate_refresh_ms etc.).
struct KeyStoreSettings {
  absl::Duration refresh_interval = absl::Hours(12);
  absl::Duration min_refresh_gap = absl::Minutes(1);
  absl::Duration download_timeout = absl::Seconds(30);
  std::function<absl::Time()> clock;  // absl::Now when empty
};

// Gives `merchant` its key store (merchant.key_store), started with the configured keys. With
// merchant.download_certificates the store downloads through `client` (which must outlive it),
// signing as a copy of `merchant`; without a configured key it may bootstrap (key_store.h).
// Call before copies of `merchant` are handed out; the first download is the caller's
// (CertificateRefresher::RunDue).
absl::Status AttachKeyStore(MerchantConfig& merchant, HttpWechatPayClient* client,
                            const KeyStoreSettings& settings);

}  // namespace orderquery::payment::wechat

#endif  // ORDERQUERY_SERVER_PAYMENT_WECHAT_CLIENT_H_
