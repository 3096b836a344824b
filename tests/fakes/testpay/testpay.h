// testpay: a payment provider that exists only in tests, registered through the same mechanism
// as the shipped ones (payment::Providers().Add(module)), to prove that a provider is one
// module: its own config section ("testpay.*", parsed with settings::Source), a build function,
// and the ports it answers. It answers recharge-order queries for its one configured merchant
// from its configuration, without any I/O: every order it is asked about is in `testpay.state`
// at the provider, paid in full when that is SUCCESS.
//
//   testpay::Register();  // before config::Load
//   env["ORDERQUERY_TESTPAY_MCHID"] = "1999000001";
#ifndef ORDERQUERY_TESTS_FAKES_TESTPAY_TESTPAY_H_
#define ORDERQUERY_TESTS_FAKES_TESTPAY_TESTPAY_H_

#include <string>

#include "server/payment/registry.h"

namespace orderquery::testpay {

inline constexpr char kName[] = "testpay";

// The "testpay.*" section.
struct Settings : payment::ProviderSettings {
  std::string mchid;                      // the merchant whose orders it serves; empty = off
  std::string state = "SUCCESS";          // what every order is at the provider (NOTPAY, ...)
  std::string transaction_prefix = "TP";  // transaction ids are this + the order number
  int accounts() const override { return mchid.empty() ? 0 : 1; }
};

payment::ProviderModule Module();
// Adds Module() to payment::Providers() (idempotent: a second call replaces the first).
void Register();
// Queries answered by every testpay provider built in this process.
int QueriesAnswered();

}  // namespace orderquery::testpay

#endif  // ORDERQUERY_TESTS_FAKES_TESTPAY_TESTPAY_H_
