// The logging decorators (usecase/port_logging.h) over fake ports that answer what the test
// scripts: one `upstream_failed` line per failed call, its id attached to the status; nothing
// on success or on an answer (NOT_FOUND, a close refused as already paid).
#include "server/usecase/port_logging.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/log_lines.h"

namespace orderquery::usecase {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kId16[] = "0123456789abcdef";

using test_support::LinesOf;

void ExpectLogId(const absl::Status& s, const std::string& line) {
  std::optional<std::string> id = UpstreamLogIdOf(s);
  ASSERT_TRUE(id.has_value()) << s;
  EXPECT_EQ(id->size(), 16u);
  EXPECT_EQ(id->find_first_not_of(kId16), std::string::npos) << *id;
  EXPECT_THAT(line, HasSubstr(absl::StrCat("upstream_log_id=", *id)));
}

class FakeOrders : public OrderStatusProvider, public OrderCloser {
 public:
  void Query(const domain::RechargeOrder& /*order*/, absl::Time /*deadline*/,
             std::function<void(absl::StatusOr<domain::UpstreamTransaction>)> done) override {
    ++queries;
    done(answer);
  }
  std::string ErrorCode(const absl::Status& s) const override {
    return absl::IsUnavailable(s) ? "SYSTEM_ERROR" : "";
  }
  void Close(const domain::RechargeOrder& /*order*/, absl::Time /*deadline*/,
             std::function<void(absl::Status)> done) override {
    done(close_answer);
  }
  bool IsAlreadyPaid(const absl::Status& s) const override {
    return absl::IsFailedPrecondition(s) && absl::StrContains(s.message(), "ORDERPAID");
  }

  absl::StatusOr<domain::UpstreamTransaction> answer = domain::UpstreamTransaction{};
  absl::Status close_answer;
  int queries = 0;
};

class FakeVehicles : public VehicleStatusProvider {
 public:
  void Query(const std::string& /*out_trade_no*/, const std::string& /*sub_mchid*/,
             absl::Time /*deadline*/,
             std::function<void(absl::StatusOr<VehicleAnswer>)> done) override {
    done(answer);
  }
  absl::StatusOr<domain::VehicleTransaction> Decode(
      const std::string& /*body_json*/) const override {
    return domain::VehicleTransaction();
  }
  absl::StatusOr<VehicleAnswer> answer = VehicleAnswer{};
};

class FakeTrades : public TradeStatusProvider {
 public:
  bool HasMerchant(absl::string_view merchant) const override { return merchant == "shop"; }
  void GetTradeOrder(absl::string_view /*merchant*/, absl::string_view /*trade_order_id*/,
                     absl::Time /*deadline*/, Callback done) override {
    done(answer);
  }
  absl::StatusOr<domain::TradeOrderRecord> answer = domain::TradeOrderRecord{};
};

domain::RechargeOrder Order() {
  domain::RechargeOrder o;
  o.order_no = "R20261206000001";
  o.appid = "wxd678efh567hg6787";
  o.mchid = "1230000109";
  return o;
}

PortDecoration Decoration() {
  PortDecoration d;
  d.provider = "wechat";
  d.display_name = "WeChat";
  return d;
}

class PortLoggingTest : public ::testing::Test {
 protected:
  // Runs `call` with stderr captured and returns what was written.
  template <typename F>
  std::string Captured(F call) {
    ::testing::internal::CaptureStderr();
    call();
    return ::testing::internal::GetCapturedStderr();
  }

  absl::StatusOr<domain::UpstreamTransaction> Query(OrderStatusProvider& port) {
    absl::StatusOr<domain::UpstreamTransaction> got = absl::UnknownError("no answer");
    port.Query(Order(), absl::InfiniteFuture(), [&](auto r) { got = std::move(r); });
    return got;
  }

  std::shared_ptr<FakeOrders> orders_ = std::make_shared<FakeOrders>();
};

TEST_F(PortLoggingTest, FailedQueryIsLoggedOnceWithItsIdOnTheStatus) {
  orders_->answer = absl::UnavailableError("WeChat unreachable: connect refused");
  auto port = Decorate(std::shared_ptr<OrderStatusProvider>(orders_), Decoration());
  absl::StatusOr<domain::UpstreamTransaction> got;
  const std::string log = Captured([&] { got = Query(*port); });
  ASSERT_FALSE(got.ok());
  // The status is the provider's, unchanged but for the payloads.
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(got.status().message(), "WeChat unreachable: connect refused");
  EXPECT_EQ(UpstreamProviderOf(got.status()), "WeChat");
  const std::vector<std::string> lines = LinesOf(log, "upstream_failed");
  ASSERT_EQ(lines.size(), 1u) << log;
  ExpectLogId(got.status(), lines[0]);
  for (const char* field :
       {"provider=wechat", "port=order_status", "operation=query", "order_no=R20261206000001",
        "appid=wxd678efh567hg6787", "mchid=1230000109", "code=UNAVAILABLE",
        "provider_code=SYSTEM_ERROR", "connect refused", "level=warn"}) {
    EXPECT_THAT(lines[0], HasSubstr(field));
  }
  EXPECT_EQ(orders_->queries, 1);
}

TEST_F(PortLoggingTest, EachFailedCallGetsItsOwnLineAndId) {
  orders_->answer = absl::InternalError("WeChat reply failed verification and was not used");
  auto port = Decorate(std::shared_ptr<OrderStatusProvider>(orders_), Decoration());
  absl::StatusOr<domain::UpstreamTransaction> first, second;
  const std::string log = Captured([&] {
    first = Query(*port);
    second = Query(*port);
  });
  const std::vector<std::string> lines = LinesOf(log, "upstream_failed");
  ASSERT_EQ(lines.size(), 2u) << log;
  ExpectLogId(first.status(), lines[0]);
  ExpectLogId(second.status(), lines[1]);
  EXPECT_NE(UpstreamLogIdOf(first.status()), UpstreamLogIdOf(second.status()));
  EXPECT_THAT(lines[0], HasSubstr("level=error"));  // INTERNAL is ours to fix
}

TEST_F(PortLoggingTest, SuccessAndNotFoundAreNotFailures) {
  auto port = Decorate(std::shared_ptr<OrderStatusProvider>(orders_), Decoration());
  absl::StatusOr<domain::UpstreamTransaction> ok, missing;
  const std::string log = Captured([&] {
    ok = Query(*port);
    orders_->answer = absl::NotFoundError("ORDER_NOT_EXIST");
    missing = Query(*port);
  });
  EXPECT_TRUE(ok.ok());
  EXPECT_TRUE(absl::IsNotFound(missing.status()));
  EXPECT_FALSE(UpstreamLogIdOf(missing.status()).has_value());
  EXPECT_THAT(log, Not(HasSubstr("upstream_failed")));
  EXPECT_EQ(orders_->queries, 2);
}

TEST_F(PortLoggingTest, TheDecoratorForwardsServesAndErrorCode) {
  auto port = Decorate(std::shared_ptr<OrderStatusProvider>(orders_), Decoration());
  EXPECT_TRUE(port->Serves(Order()));
  EXPECT_EQ(port->ErrorCode(absl::UnavailableError("x")), "SYSTEM_ERROR");
}

TEST_F(PortLoggingTest, CloseLogsFailuresButNotARefusalAsPaid) {
  auto closer = Decorate(std::shared_ptr<OrderCloser>(orders_), Decoration());
  absl::Status paid, failed;
  const std::string log = Captured([&] {
    orders_->close_answer = absl::FailedPreconditionError("ORDERPAID: 订单已支付");
    closer->Close(Order(), absl::InfiniteFuture(), [&](absl::Status s) { paid = std::move(s); });
    orders_->close_answer = absl::DeadlineExceededError("WeChat did not answer in time");
    closer->Close(Order(), absl::InfiniteFuture(), [&](absl::Status s) { failed = std::move(s); });
  });
  EXPECT_TRUE(closer->IsAlreadyPaid(paid));
  EXPECT_FALSE(UpstreamLogIdOf(paid).has_value());
  const std::vector<std::string> lines = LinesOf(log, "upstream_failed");
  ASSERT_EQ(lines.size(), 1u) << log;
  ExpectLogId(failed, lines[0]);
  EXPECT_THAT(lines[0], HasSubstr("port=order_closer"));
  EXPECT_THAT(lines[0], HasSubstr("code=DEADLINE_EXCEEDED"));
}

TEST_F(PortLoggingTest, VehicleFailureNamesTheOrderAndSubMerchant) {
  auto fake = std::make_shared<FakeVehicles>();
  fake->answer = absl::UnavailableError("unreadable reply from WeChat (HTTP 200): not JSON");
  auto port = Decorate(std::shared_ptr<VehicleStatusProvider>(fake), Decoration());
  absl::StatusOr<VehicleAnswer> got;
  const std::string log = Captured([&] {
    port->Query("P20261206000001", "1900000109", absl::InfiniteFuture(),
                [&](auto r) { got = std::move(r); });
  });
  const std::vector<std::string> lines = LinesOf(log, "upstream_failed");
  ASSERT_EQ(lines.size(), 1u) << log;
  ExpectLogId(got.status(), lines[0]);
  for (const char* field : {"port=vehicle_status", "out_trade_no=P20261206000001",
                            "sub_mchid=1900000109", "not JSON"}) {
    EXPECT_THAT(lines[0], HasSubstr(field));
  }
  // Success: no line.
  fake->answer = VehicleAnswer{};
  const std::string quiet = Captured([&] {
    port->Query("P20261206000001", "1900000109", absl::InfiniteFuture(),
                [&](auto r) { got = std::move(r); });
  });
  EXPECT_TRUE(got.ok());
  EXPECT_THAT(quiet, Not(HasSubstr("upstream_failed")));
}

TEST_F(PortLoggingTest, TradeFailureNamesTheMerchantAndOrder) {
  auto fake = std::make_shared<FakeTrades>();
  fake->answer = absl::ResourceExhaustedError("merchant API rate limit");
  PortDecoration d;
  d.provider = "trade";  // no display name: the registered name
  auto port = Decorate(std::shared_ptr<TradeStatusProvider>(fake), d);
  EXPECT_TRUE(port->HasMerchant("shop"));
  absl::StatusOr<domain::TradeOrderRecord> got;
  const std::string log = Captured([&] {
    port->GetTradeOrder("shop", "T1", absl::InfiniteFuture(), [&](auto r) { got = std::move(r); });
  });
  const std::vector<std::string> lines = LinesOf(log, "upstream_failed");
  ASSERT_EQ(lines.size(), 1u) << log;
  ExpectLogId(got.status(), lines[0]);
  EXPECT_EQ(UpstreamProviderOf(got.status()), "trade");
  for (const char* field : {"provider=trade", "port=trade_status", "merchant=shop",
                            "trade_order_id=T1", "code=RESOURCE_EXHAUSTED"}) {
    EXPECT_THAT(lines[0], HasSubstr(field));
  }
}

TEST_F(PortLoggingTest, DecorationOffOrNullPortLeavesThePortAlone) {
  PortDecoration off = Decoration();
  off.log_failures = false;
  std::shared_ptr<OrderStatusProvider> raw = orders_;
  EXPECT_EQ(Decorate(raw, off), raw);
  EXPECT_EQ(Decorate(std::shared_ptr<TradeStatusProvider>(), Decoration()), nullptr);
}

}  // namespace
}  // namespace orderquery::usecase
