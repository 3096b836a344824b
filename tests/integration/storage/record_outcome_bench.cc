// A micro-benchmark, not a test (issue 13 c): the polling answer's write, RecordOutcome of
// NOTPAY -> NOTPAY on one pooled connection, by the stored procedure (one CALL) and by the
// statements (the procedure dropped), alternating in rounds in the same run; and the read a
// pending query makes first (LoadForQuery: session, order and balance in one statement). Prints
// wall time, this process's CPU and the server's CPU per call, and the server's statement count
// per call.
//
//   tests/support/mariadb.sh start /tmp/oq-bench-db
//   OQ_TEST_MARIADB_ENV=/tmp/oq-bench-db/env OQ_BENCH_MARIADB_PID=$(cat
//   /tmp/oq-bench-db/mariadbd.pid) \
//     build/dev/tests/integration/storage/storage_record_outcome_bench [calls per round] [rounds]
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "server/domain/recharge.h"
#include "storage/migrations.h"
#include "storage/recharge_repository.h"
#include "storage/recharge_routines.h"
#include "storage/sql_util.h"
#include "tests/support/cpu_time.h"
#include "tests/support/storage_admin.h"
#include "tests/support/test_database.h"

namespace orderquery::storage {
namespace {

using test_support::OtherCpuSeconds;
using test_support::ProcessCpuSeconds;

int64_t Questions(ConnectionPool& pool) {
  int64_t n = -1;
  absl::Status st = WithConnection(pool, [&](Connection& c) {
    std::unique_ptr<sql::ResultSet> rs =
        internal::Query(c.Prepare("SHOW SESSION STATUS LIKE 'Questions'"));
    n = rs->next() ? rs->getInt64(2) : -1;
    return absl::OkStatus();
  });
  return st.ok() ? n : -1;
}

struct Totals {
  int64_t calls = 0;
  double wall = 0, client = 0, server = 0;
  int64_t statements = 0;
};

int Run(int calls, int rounds) {
  const char* pid_text = std::getenv("OQ_BENCH_MARIADB_PID");
  const long server_pid = pid_text == nullptr ? 0 : std::atol(pid_text);
  test_support::TestDatabaseOptions options;
  options.name_hint = "record_outcome_bench";
  auto db = test_support::TestDatabase::Create(options);
  if (!db.ok()) {
    std::fprintf(stderr, "%s\n", db.status().ToString().c_str());
    return 1;
  }
  auto one = (*db)->NewPool(1, absl::Seconds(30));
  if (!one.ok()) {
    std::fprintf(stderr, "%s\n", one.status().ToString().c_str());
    return 1;
  }
  auto user = admin::CreateUser((*db)->pool(), "wx-app", "u-bench", "u-bench", 1000);
  if (!user.ok()) return 1;
  domain::RechargeOrder order;
  order.order_no = "BENCH1";
  order.user_id = *user;
  order.appid = "wx-app";
  order.mchid = "1230000109";
  order.amount_fen = 100;
  order.created_at = absl::UnixEpoch();
  if (!admin::CreateRechargeOrder((*db)->pool(), order).ok()) return 1;
  if (!admin::CreateSession((*db)->pool(), *user, "wx-app", "bench-token",
                            absl::Now() + absl::Hours(1))
           .ok()) {
    return 1;
  }

  auto outcome = [&] {
    domain::QueryOutcome o;
    o.order_no = "BENCH1";
    domain::QueryLogEntry e;
    e.user_id = *user;
    e.appid = "wx-app";
    e.order_no = "BENCH1";
    e.trade_state = "NOTPAY";
    e.latency_ms = 50;
    o.query_log = e;
    o.expect_state = domain::RechargeState::kNotPay;
    o.expect_credited = false;
    o.queried_at = absl::Now();
    return o;
  };
  auto exec = [&](const std::string& sql) {
    return WithConnection((*db)->pool(), [&](Connection& c) {
      c.Execute(sql);
      return absl::OkStatus();
    });
  };

  // Runs `one_call` `calls` times on `pool` and adds what it cost to `t`; false if a call failed.
  auto measure = [&](ConnectionPool& pool, Totals& t, const std::function<bool()>& one_call) {
    const int64_t q0 = Questions(pool);
    const double c0 = ProcessCpuSeconds(), s0 = OtherCpuSeconds(server_pid);
    const absl::Time t0 = absl::Now();
    for (int i = 0; i < calls; ++i) {
      if (!one_call()) return false;
    }
    t.wall += absl::ToDoubleSeconds(absl::Now() - t0);
    t.client += ProcessCpuSeconds() - c0;
    t.server += OtherCpuSeconds(server_pid) - s0;
    t.statements += Questions(pool) - q0 - 1;
    t.calls += calls;
    return true;
  };

  Totals by_call, by_statements, reads;
  for (int round = 0; round < rounds; ++round) {
    {
      MysqlRechargeRepository repo(**one);
      if (!repo.LoadForQuery("bench-token", "BENCH1", absl::Now()).ok()) return 1;  // prepares
      const bool ok = measure(**one, reads, [&] {
        auto v = repo.LoadForQuery("bench-token", "BENCH1", absl::Now());
        if (v.ok() && v->order) return true;
        std::fprintf(stderr, "read failed: %s\n", v.status().ToString().c_str());
        return false;
      });
      if (!ok) return 1;
    }
    for (bool with_procedure : {true, false}) {
      if (with_procedure) {
        if (!ApplyMigrations((*db)->pool()).ok()) return 1;  // creates it again
      } else if (!exec(absl::StrCat("DROP PROCEDURE ", internal::kRecordQueryProcedure)).ok()) {
        return 1;
      }
      MysqlRechargeRepository repo(**one);
      if (!repo.RecordOutcome(outcome()).ok()) return 1;  // prepares, finds the procedure
      const bool ok = measure(**one, with_procedure ? by_call : by_statements, [&] {
        auto r = repo.RecordOutcome(outcome());
        if (r.ok() && !r->conflict) return true;
        std::fprintf(stderr, "call failed: %s\n", r.status().ToString().c_str());
        return false;
      });
      if (!ok) return 1;
    }
  }
  auto print = [](const char* name, const Totals& t) {
    const double n = static_cast<double>(t.calls);
    std::printf(
        "%-28s calls %6lld  statements/call %5.2f  wall %7.1f us  client CPU %6.1f us"
        "  server CPU %6.1f us\n",
        name, static_cast<long long>(t.calls), t.statements / n, t.wall / n * 1e6,
        t.client / n * 1e6, t.server / n * 1e6);
  };
  print("read (LoadForQuery)", reads);
  print("one CALL (procedure)", by_call);
  print("statements (no procedure)", by_statements);
  return 0;
}

}  // namespace
}  // namespace orderquery::storage

int main(int argc, char** argv) {
  const int calls = argc > 1 ? std::atoi(argv[1]) : 2000;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 3;
  return orderquery::storage::Run(calls, rounds);
}
