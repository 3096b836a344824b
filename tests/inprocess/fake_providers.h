// Fake payment providers for in-process RPC tests: each port answers from a script the test
// sets (a function of the request), inline, and counts its calls. A FakeProvider bundles the
// three ports the way a real provider does (payment::Provider), so App wires it as it wires
// the registered ones.
#ifndef ORDERQUERY_TESTS_INPROCESS_FAKE_PROVIDERS_H_
#define ORDERQUERY_TESTS_INPROCESS_FAKE_PROVIDERS_H_

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/payment/registry.h"
#include "server/usecase/ports.h"

namespace orderquery::inprocess {

class FakeOrderStatus : public usecase::OrderStatusProvider {
 public:
  using Answer =
      std::function<absl::StatusOr<domain::UpstreamTransaction>(const domain::RechargeOrder&)>;

  // Serves every order of `mchid` ("" = every order).
  bool Serves(const domain::RechargeOrder& order) const override {
    return mchid.empty() || order.mchid == mchid;
  }
  void Query(const domain::RechargeOrder& order, absl::Time /*deadline*/,
             std::function<void(absl::StatusOr<domain::UpstreamTransaction>)> done) override {
    Answer answer;
    {
      std::lock_guard<std::mutex> l(mu_);
      answer = answer_;
    }
    ++calls;
    done(answer ? answer(order) : absl::UnimplementedError("fake: no answer scripted"));
  }
  // The provider's code behind a failure: "FAKE_" and the status code's name.
  std::string ErrorCode(const absl::Status& status) const override {
    return status.ok() ? "" : "FAKE_" + std::string(absl::StatusCodeToString(status.code()));
  }

  void Script(Answer answer) {
    std::lock_guard<std::mutex> l(mu_);
    answer_ = std::move(answer);
  }

  std::string mchid;
  std::atomic<int> calls{0};

 private:
  std::mutex mu_;
  Answer answer_;
};

class FakeVehicleStatus : public usecase::VehicleStatusProvider {
 public:
  using Answer = std::function<absl::StatusOr<domain::VehicleTransaction>(
      const std::string& out_trade_no, const std::string& sub_mchid)>;

  // Each answer's body is "{\"fake_body\":N}"; Decode gives back the answer it came with.
  void Query(const std::string& out_trade_no, const std::string& sub_mchid, absl::Time /*deadline*/,
             std::function<void(absl::StatusOr<usecase::VehicleAnswer>)> done) override {
    Answer answer;
    {
      std::lock_guard<std::mutex> l(mu_);
      answer = answer_;
    }
    ++calls;
    if (!answer) return done(absl::UnimplementedError("fake: no answer scripted"));
    absl::StatusOr<domain::VehicleTransaction> tx = answer(out_trade_no, sub_mchid);
    if (!tx.ok()) return done(tx.status());
    usecase::VehicleAnswer a;
    a.transaction = *tx;
    {
      std::lock_guard<std::mutex> l(mu_);
      a.body_json = "{\"fake_body\":" + std::to_string(bodies_.size()) + "}";
      bodies_[a.body_json] = *tx;
    }
    done(std::move(a));
  }
  absl::StatusOr<domain::VehicleTransaction> Decode(const std::string& body_json) const override {
    std::lock_guard<std::mutex> l(mu_);
    auto it = bodies_.find(body_json);
    if (it == bodies_.end()) return absl::InternalError("fake: stored body does not decode");
    return it->second;
  }

  void Script(Answer answer) {
    std::lock_guard<std::mutex> l(mu_);
    answer_ = std::move(answer);
  }

  std::atomic<int> calls{0};

 private:
  mutable std::mutex mu_;
  Answer answer_;
  std::map<std::string, domain::VehicleTransaction> bodies_;
};

class FakeTradeStatus : public usecase::TradeStatusProvider {
 public:
  using Answer = std::function<absl::StatusOr<domain::TradeOrderRecord>(
      absl::string_view merchant, absl::string_view trade_order_id)>;

  explicit FakeTradeStatus(std::string merchant) : merchant_(std::move(merchant)) {}
  bool HasMerchant(absl::string_view merchant) const override { return merchant == merchant_; }
  std::string DefaultMerchant() const override { return merchant_; }
  void GetTradeOrder(absl::string_view merchant, absl::string_view trade_order_id,
                     absl::Time /*deadline*/, Callback done) override {
    Answer answer;
    {
      std::lock_guard<std::mutex> l(mu_);
      answer = answer_;
    }
    ++calls;
    if (!answer) return done(absl::UnimplementedError("fake: no answer scripted"));
    absl::StatusOr<domain::TradeOrderRecord> r = answer(merchant, trade_order_id);
    if (r.ok()) r->merchant = std::string(merchant);
    done(std::move(r));
  }

  void Script(Answer answer) {
    std::lock_guard<std::mutex> l(mu_);
    answer_ = std::move(answer);
  }

  std::atomic<int> calls{0};

 private:
  const std::string merchant_;
  std::mutex mu_;
  Answer answer_;
};

// One provider answering all three questions (a test keeps the raw pointers to script them).
class FakeProvider : public payment::Provider {
 public:
  explicit FakeProvider(std::string trade_merchant) : trades_(std::move(trade_merchant)) {}
  usecase::OrderStatusProvider* orders() override { return &orders_; }
  usecase::VehicleStatusProvider* vehicles() override { return &vehicles_; }
  usecase::TradeStatusProvider* trades() override { return &trades_; }

  FakeOrderStatus& order_status() { return orders_; }
  FakeVehicleStatus& vehicle_status() { return vehicles_; }
  FakeTradeStatus& trade_status() { return trades_; }

 private:
  FakeOrderStatus orders_;
  FakeVehicleStatus vehicles_;
  FakeTradeStatus trades_;
};

}  // namespace orderquery::inprocess

#endif  // ORDERQUERY_TESTS_INPROCESS_FAKE_PROVIDERS_H_
