// Payment notifications (支付通知) the way WeChat Pay v3 sends them: the transaction encrypted
// with the APIv3 key (AEAD_AES_256_GCM) inside a JSON envelope, signed with the platform key
// over TIMESTAMP\nNONCE\nBODY\n, POSTed to the merchant's notify URL. The sandbox sends them on
// demand (POST /__sandbox/notify, with bad variants) and when an order with a notify_url is paid
// (NotificationQueue, with WeChat's retries). tests/fakes/README.md documents both.
#ifndef ORDERQUERY_TESTS_FAKES_SANDBOX_WECHAT_NOTIFY_H_
#define ORDERQUERY_TESTS_FAKES_SANDBOX_WECHAT_NOTIFY_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/payment/wechat/crypto.h"

namespace orderquery::sandbox {

// How a notification is bent. kValid is what WeChat sends; the others each break one thing a
// receiver must check.
enum class NotifyVariant {
  kValid,
  kForged,          // a valid signature, of other bytes
  kStale,           // Wechatpay-Timestamp 10 minutes ago, correctly signed
  kFuture,          // Wechatpay-Timestamp 10 minutes ahead, correctly signed
  kSigntest,        // Wechatpay-Signature: WECHATPAY/SIGNTEST/…
  kUnknownSerial,   // Wechatpay-Serial PUB_KEY_ID_000…, correctly signed
  kMissingHeaders,  // no Wechatpay-* headers
  kUndecryptable,   // ciphertext with a flipped tag byte, correctly signed
  kWrongKey,        // resource encrypted with another key, correctly signed
};

// "valid", "forged", … (the README's names); INVALID_ARGUMENT listing them otherwise.
absl::StatusOr<NotifyVariant> ParseNotifyVariant(absl::string_view name);

struct NotificationContent {
  std::string id;  // the envelope's id, the same on every retry and copy
  std::string event_type = "TRANSACTION.SUCCESS";
  std::string summary = "支付成功";
  nlohmann::json transaction;  // the plaintext resource (a query reply)
};

// One POST's outcome: the receiver's HTTP status and body (cut at 4 KiB), or status 0 and
// `error` when there was no answer (refused, timed out).
struct Delivery {
  int status = 0;
  std::string body;
  std::string error;
  bool acked() const { return status >= 200 && status < 300; }
  nlohmann::json ToJson() const;
};

class NotificationSender {
 public:
  NotificationSender(payment::wechat::RsaKey platform_key, std::string platform_serial,
                     std::string apiv3_key)
      : platform_key_(std::move(platform_key)),
        platform_serial_(std::move(platform_serial)),
        apiv3_key_(std::move(apiv3_key)) {}

  bool has_apiv3_key() const { return !apiv3_key_.empty(); }

  // Builds the notification afresh (new timestamp and nonces) and POSTs it to `url`
  // (http:// or https://, certificate not checked), waiting for the answer: 2 s to connect,
  // 5 s to answer.
  Delivery Send(const std::string& url, const NotificationContent& content,
                NotifyVariant variant) const;

 private:
  const payment::wechat::RsaKey platform_key_;
  const std::string platform_serial_;
  const std::string apiv3_key_;
};

// Automatic notifications: each is POSTed once, then again every `retry` until a 2xx or
// `max_attempts` POSTs, on a background thread. `count` (called with no lock of the queue
// held) hears every attempt; Enqueue only takes the queue's own lock, so it may be called under
// the order book's.
class NotificationQueue {
 public:
  using Count = std::function<void(const std::string& out_trade_no, const Delivery& delivery)>;

  NotificationQueue(const NotificationSender* sender, Count count);
  ~NotificationQueue();
  NotificationQueue(const NotificationQueue&) = delete;
  NotificationQueue& operator=(const NotificationQueue&) = delete;

  void Enqueue(std::string out_trade_no, std::string url, NotificationContent content,
               absl::Duration retry, int64_t max_attempts);

 private:
  struct Job {
    absl::Time due;
    std::string out_trade_no;
    std::string url;
    NotificationContent content;
    absl::Duration retry;
    int64_t attempts_left = 0;
  };
  void Run();

  const NotificationSender* sender_;
  const Count count_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Job> jobs_;
  bool stop_ = false;
  std::thread worker_;
};

// Calls `tick` every `period` on its own thread until destroyed.
class Ticker {
 public:
  Ticker(absl::Duration period, std::function<void()> tick);
  ~Ticker();
  Ticker(const Ticker&) = delete;
  Ticker& operator=(const Ticker&) = delete;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace orderquery::sandbox

#endif  // ORDERQUERY_TESTS_FAKES_SANDBOX_WECHAT_NOTIFY_H_
