// The smallest useful program against the installed orderquery package: is the server up, and
// what is the state of one recharge order?
//
//   orderquery-consumer --target HOST:PORT --appid A --token T --order-no N
//
// Prints `health: SERVING` and `recharge: code=0 (RECHARGE_RESULT_CODE_SUCCESS) ...`; exits 1
// when a call fails (the message says which and why), 2 on bad usage.
#include <cstdio>
#include <map>
#include <string>

#include "client/orderquery_client.h"

namespace {

void PrintError(const char* what, const absl::Status& s) {
  std::fprintf(stderr, "%s failed: %s: %s\n", what, absl::StatusCodeToString(s.code()).c_str(),
               std::string(s.message()).c_str());
}

}  // namespace

int main(int argc, char** argv) {
  std::string target, appid, token, order_no;
  const std::map<std::string, std::string*> flags = {
      {"--target", &target}, {"--appid", &appid}, {"--token", &token}, {"--order-no", &order_no}};
  bool usage_ok = argc % 2 == 1;
  for (int i = 1; usage_ok && i + 1 < argc; i += 2) {
    auto it = flags.find(argv[i]);
    if (it == flags.end())
      usage_ok = false;
    else
      *it->second = argv[i + 1];
  }
  if (!usage_ok || target.empty() || appid.empty() || token.empty() || order_no.empty()) {
    std::fprintf(stderr,
                 "usage: orderquery-consumer --target HOST:PORT --appid A --token T "
                 "--order-no N\n");
    return 2;
  }

  orderquery::client::ClientOptions options;
  options.target = target;
  options.deadline = absl::Seconds(10);
  auto client = orderquery::client::OrderQueryClient::Create(options);
  if (!client.ok()) {
    PrintError("client", client.status());
    return 1;
  }

  auto health = (*client)->Health();
  if (!health.ok()) {
    PrintError("health", health.status());
    return 1;
  }
  std::printf("health: %s\n", health->c_str());

  auto r = (*client)->QueryRechargeOrder(appid, token, order_no);
  if (!r.ok()) {
    PrintError("recharge", r.status());
    return 1;
  }
  std::printf("recharge: code=%d (%s) msg=%s order_no=%s amount=%lld balance=%lld\n",
              static_cast<int>(r->code()),
              orderquery::v1::RechargeResultCode_Name(r->code()).c_str(), r->msg().c_str(),
              r->data().order_no().c_str(), static_cast<long long>(r->data().amount()),
              static_cast<long long>(r->data().balance()));
  return *health == "SERVING" ? 0 : 1;
}
