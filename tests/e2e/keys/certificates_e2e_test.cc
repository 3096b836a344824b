// Platform certificates end to end (issue 14): orderqueryd as a process, with a merchant in
// certificate mode that has no configured key and download_certificates on, starts, downloads
// the list from a sandbox (bootstrap, self-verified) and answers a recharge query whose WeChat
// reply only the downloaded certificate verifies; then WeChat signs with a certificate the
// server has not seen, and the refresh that unknown serial asks for (on orderqueryd's refresher
// thread, certificate_min_refresh_ms 1 s) makes the next query pass. Every wait is bounded.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/e2e/harness/calls.h"
#include "tests/e2e/harness/stack.h"
#include "tests/fakes/sandbox_process.h"

namespace orderquery::e2e {
namespace {

using ::nlohmann::json;
using ::testing::HasSubstr;

// A loopback port nobody listens on right now (for admin.listen, which needs a fixed port).
int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  close(fd);
  return port;
}

// The value of orderquery_cert_expiry_days{merchant="direct",kind=KIND} in a scrape, -1000 when
// absent.
double ExpiryDays(const std::string& text, const std::string& kind) {
  const std::string prefix =
      absl::StrCat("orderquery_cert_expiry_days{merchant=\"direct\",kind=\"", kind, "\"} ");
  const size_t at = text.find(prefix);
  if (at == std::string::npos) return -1000;
  return std::stod(text.substr(at + prefix.size()));
}

class CertificatesE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    StackOptions o;
    o.name_hint = "certificates";
    o.servers = 0;  // ours is started with its own merchant config below
    auto s = Stack::Start(o);
    ASSERT_TRUE(s.ok()) << s.status();
    stack_ = s->release();
    // Keys with a second platform certificate, and a sandbox that lists both.
    auto keys = fakes::MakeTestKeys(absl::StrCat(::testing::TempDir(), "/oq-certs-e2e-keys"));
    ASSERT_TRUE(keys.ok()) << keys.status();
    keys_ = new fakes::TestKeys(*keys);
    fakes::SandboxProcess::Options so = fakes::SandboxProcess::Options::FromKeys(*keys_);
    so.platform_certs = {keys_->platform_cert,
                         keys_->platform2_cert + "," + keys_->platform2_private_key};
    auto sandbox = fakes::SandboxProcess::Start(so);
    ASSERT_TRUE(sandbox.ok()) << sandbox.status();
    sandbox_ = sandbox->release();
  }

  static void TearDownTestSuite() {
    delete stack_;  // stops orderqueryd before its upstream goes
    delete sandbox_;
    delete keys_;
  }

  // The stack's config with merchant "direct" in certificate mode: no public key, no
  // certificate file, download_certificates on, pointed at our sandbox with our keys.
  static json Config() {
    json c = stack_->BaseConfig();
    json& m = c["wechat"]["merchants"]["direct"];
    m.erase("public_key_id");
    m.erase("public_key_file");
    m["download_certificates"] = true;
    m["base_url"] = sandbox_->base_url();
    m["serial_no"] = keys_->merchant_serial;
    m["private_key_file"] = keys_->merchant_private_key;
    m["apiv3_key_file"] = keys_->dir + "/apiv3_key.txt";
    m["merchant_cert_file"] = keys_->merchant_cert;
    c["upstream"]["certificate_min_refresh_ms"] = 1000;
    c["admin"] = {{"listen", absl::StrCat("127.0.0.1:", admin_port_)}};
    return c;
  }

  static json WechatOrder(const std::string& no, int64_t amount) {
    return {{"out_trade_no", no},
            {"kind", "direct"},
            {"mchid", kMchid},
            {"appid", kDirectAppid},
            {"amount", amount},
            {"trade_state", "SUCCESS"},
            {"transaction_id", "4200000001202612060001" + no.substr(no.size() - 2)}};
  }

  // GET /metrics on the server's admin listener ("" when unreachable).
  static std::string Scrape() {
    httplib::Client admin("127.0.0.1", admin_port_);
    admin.set_connection_timeout(2);
    admin.set_read_timeout(5);
    auto r = admin.Get("/metrics");
    return r && r->status == 200 ? r->body : "";
  }

  static int admin_port_;
  static Stack* stack_;
  static fakes::TestKeys* keys_;
  static fakes::SandboxProcess* sandbox_;
};

int CertificatesE2E::admin_port_ = FreePort();
Stack* CertificatesE2E::stack_ = nullptr;
fakes::TestKeys* CertificatesE2E::keys_ = nullptr;
fakes::SandboxProcess* CertificatesE2E::sandbox_ = nullptr;

TEST_F(CertificatesE2E, StartsWithDownloadedCertificatesAndFollowsANewSerial) {
  Stack& s = *stack_;
  const std::string s1 = keys_->platform_cert_serial, s2 = keys_->platform2_cert_serial;
  // Only certificate 2 exists at WeChat; it signs everything. No configured key verifies it.
  ASSERT_TRUE(
      sandbox_->SetCertificates({{"listed", {s2}}, {"sign_with", s2}, {"sign_list_with", s2}})
          .ok());
  auto started = s.AddServer(Config());
  ASSERT_TRUE(started.ok()) << started.status();
  const int server = *started;
  EXPECT_EQ(sandbox_->Certificates()->value("downloads", 0), 1);
  const std::string log = s.ServerLog(server);
  EXPECT_THAT(log, HasSubstr("event=wechat_certificates_self_verified"));
  EXPECT_THAT(log, HasSubstr("event=wechat_certificates_downloaded"));
  // Start-up reports every key's expiry: the merchant certificate and the downloaded one.
  EXPECT_THAT(log, HasSubstr(absl::StrCat("kind=downloaded_cert serial=", s2)));
  EXPECT_THAT(log, HasSubstr("kind=merchant_cert"));
  // And the gauge: certificate 2 is made for 60 days, the merchant certificate for 30.
  const std::string scrape = Scrape();
  ASSERT_FALSE(scrape.empty()) << "admin listener unreachable\n" << log;
  EXPECT_NEAR(ExpiryDays(scrape, "downloaded_cert"), 60, 1) << scrape;
  EXPECT_NEAR(ExpiryDays(scrape, "merchant_cert"), 30, 1) << scrape;
  EXPECT_EQ(ExpiryDays(scrape, "public_key"), -1000);

  auto user = s.CreateUser(1000);
  ASSERT_TRUE(user.ok()) << user.status();
  ASSERT_TRUE(s.CreateRechargeOrder(*user, "CERTE2E01", 300).ok());
  ASSERT_TRUE(sandbox_->UpsertOrder(WechatOrder("CERTE2E01", 300)).ok());
  RechargeResult r = QueryRecharge(s.orders(server), {kDirectAppid, user->token, "CERTE2E01"});
  ASSERT_TRUE(r.status.ok()) << Describe(r.status) << "\n" << s.ServerLog(server);
  EXPECT_EQ(static_cast<int>(r.response.code()), 0) << r.response.msg();
  EXPECT_EQ(*s.Balance(user->id), 1300);

  // WeChat now also lists certificate 1 and signs query replies with it: unknown to the server.
  ASSERT_TRUE(sandbox_->SetCertificates({{"listed", {s1, s2}}, {"sign_with", s1}}).ok());
  ASSERT_TRUE(s.CreateRechargeOrder(*user, "CERTE2E02", 200).ok());
  ASSERT_TRUE(sandbox_->UpsertOrder(WechatOrder("CERTE2E02", 200)).ok());
  // Asked until the refresh the unknown serial triggers lands (at most once a second here).
  int code = -1;
  int internal_errors = 0;
  const absl::Time give_up = absl::Now() + absl::Seconds(15);
  while (absl::Now() < give_up) {
    RechargeResult q =
        QueryRecharge(s.orders(server), {kDirectAppid, user->token, "CERTE2E02", /*force=*/true});
    if (q.status.ok() && q.response.code() == 0) {
      code = 0;
      break;
    }
    if (q.status.error_code() == grpc::StatusCode::INTERNAL) ++internal_errors;
    absl::SleepFor(absl::Milliseconds(200));
  }
  EXPECT_EQ(code, 0) << s.ServerLog(server);
  EXPECT_GE(internal_errors, 1);  // the first reply signed with certificate 1 was refused
  EXPECT_EQ(*s.Balance(user->id), 1500);
  EXPECT_GE(sandbox_->Certificates()->value("downloads", 0), 2);
  EXPECT_THAT(s.ServerLog(server), HasSubstr("event=wechat_certificates_refresh_requested"));
  // Certificate 1 (30 days) is held now too; the gauge still reports the last one to expire.
  EXPECT_NEAR(ExpiryDays(Scrape(), "downloaded_cert"), 60, 1);
}

}  // namespace
}  // namespace orderquery::e2e
