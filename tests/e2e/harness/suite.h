// A GoogleTest fixture base whose whole test suite shares one Stack (started in
// SetUpTestSuite, stopped in TearDownTestSuite). Tests in such a suite must use their own order
// numbers and users. On a failure the servers' logs are printed.
//
//   class RechargeE2E : public e2e::StackSuite<RechargeE2E> {
//    public:
//     static e2e::StackOptions Options() { ... }
//   };
//   TEST_F(RechargeE2E, Paid) { e2e::Stack& s = stack(); ... }
#ifndef ORDERQUERY_TESTS_E2E_HARNESS_SUITE_H_
#define ORDERQUERY_TESTS_E2E_HARNESS_SUITE_H_

#include <gtest/gtest.h>

#include <iostream>
#include <memory>
#include <string>

#include "tests/e2e/harness/stack.h"

namespace orderquery::e2e {

template <typename Derived, typename Base = ::testing::Test>
class StackSuite : public Base {
 public:
  static void SetUpTestSuite() {
    auto s = Stack::Start(Derived::Options());
    if (s.ok()) {
      stack_ = std::move(*s);
    } else {
      start_error_ = s.status().ToString();
    }
  }
  static void TearDownTestSuite() { stack_.reset(); }

 protected:
  void SetUp() override {
    ASSERT_NE(stack_, nullptr) << "the stack did not start: " << start_error_;
  }
  void TearDown() override {
    if (!this->HasFailure() || !stack_) return;
    for (int i = 0; i < stack_->servers(); ++i) {
      std::string log = stack_->ServerLog(i);
      if (log.size() > 6000) log = "…" + log.substr(log.size() - 6000);
      std::cerr << "---- orderqueryd #" << i << " (" << stack_->target(i) << ") log tail:\n"
                << log << "----\n";
    }
  }
  static Stack& stack() { return *stack_; }

 private:
  static inline std::unique_ptr<Stack> stack_;
  static inline std::string start_error_;
};

}  // namespace orderquery::e2e

#endif  // ORDERQUERY_TESTS_E2E_HARNESS_SUITE_H_
