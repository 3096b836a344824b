// The providers built into this binary: every folder under server/payment/ that registers one
// (see CMakeLists.txt there). Tests may Add() their own modules to the same registry.
#ifndef ORDERQUERY_SERVER_PAYMENT_PROVIDERS_H_
#define ORDERQUERY_SERVER_PAYMENT_PROVIDERS_H_

#include "server/payment/registry.h"

namespace orderquery::payment {

// Registry::Global() with the built-in providers registered (once).
Registry& Providers();

}  // namespace orderquery::payment

#endif  // ORDERQUERY_SERVER_PAYMENT_PROVIDERS_H_
