// The connection pool and transaction helper against a real MariaDB: exhaustion, reuse,
// killed sessions, unreachable servers, deadlock retry.
#include <arpa/inet.h>
#include <cppconn/prepared_statement.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "storage/migrations.h"
#include "storage/mysql_pool.h"
#include "storage/recharge_repository.h"
#include "tests/integration/storage/storage_test_util.h"
#include "tests/support/storage_admin.h"

namespace orderquery::storage {
namespace {

using ::orderquery::storage_test::StartLine;
using ::testing::HasSubstr;
using ::testing::Not;

// A loopback port nothing listens on (bound and released by us just now).
int ClosedPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

class PoolTest : public storage_test::StorageTest {
 protected:
  std::unique_ptr<ConnectionPool> NewPool(int size, absl::Duration acquire_timeout) {
    absl::StatusOr<std::unique_ptr<ConnectionPool>> p = db_->NewPool(size, acquire_timeout);
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? *std::move(p) : nullptr;
  }

  // Kills a server session and waits until the server has closed it.
  void Kill(int64_t session_id) {
    OQ_ASSERT_OK(admin::KillSession(db_->admin_pool(), session_id));
    absl::SleepFor(absl::Milliseconds(50));
  }
};

TEST_F(PoolTest, PingAnswersWhenTheDatabaseIsUp) {
  EXPECT_TRUE(pool().Ping());
  ConnectionPool::Stats s = pool().GetStats();
  EXPECT_EQ(s.pool_size, 8);
  EXPECT_GE(s.open, 1);
  EXPECT_EQ(s.open, s.idle);  // nothing leased
}

TEST_F(PoolTest, ConnectionsAreReusedNotReopened) {
  std::unique_ptr<ConnectionPool> p = NewPool(2, absl::Seconds(1));
  ASSERT_NE(p, nullptr);
  int64_t first = 0;
  for (int i = 0; i < 10; ++i) {
    absl::StatusOr<ConnectionLease> lease = p->Acquire();
    ASSERT_TRUE(lease.ok()) << lease.status();
    if (i == 0) first = (*lease)->session_id();
    EXPECT_EQ((*lease)->session_id(), first);
  }
  EXPECT_GT(first, 0);
  EXPECT_EQ(p->GetStats().opened_total, 1);
}

TEST_F(PoolTest, ExhaustedPoolAnswersUnavailableAfterTheTimeout) {
  const absl::Duration timeout = absl::Milliseconds(500);
  std::unique_ptr<ConnectionPool> p = NewPool(2, timeout);
  ASSERT_NE(p, nullptr);
  absl::StatusOr<ConnectionLease> a = p->Acquire();
  absl::StatusOr<ConnectionLease> b = p->Acquire();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE((*a)->session_id(), (*b)->session_id());

  absl::Time start = absl::Now();
  absl::StatusOr<ConnectionLease> c = p->Acquire();
  absl::Duration waited = absl::Now() - start;
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(c.status().message(), HasSubstr("all 2 connections in use"));
  EXPECT_THAT(c.status().message(), HasSubstr("500ms"));
  EXPECT_GE(waited, timeout);
  // Gave up at the timeout rather than waiting on (the leases are never returned); the slack
  // is for a busy machine, not a measurement.
  EXPECT_LT(waited, timeout + absl::Seconds(5));

  // Repositories report the same code through their own calls.
  MysqlRechargeRepository repo(*p);
  EXPECT_EQ(repo.GetBalance(1).status().code(), absl::StatusCode::kUnavailable);

  // One lease back: the next caller gets that connection at once.
  int64_t returned = (*a)->session_id();
  a = absl::CancelledError("released");  // destroys the lease
  const int64_t waits_before = p->GetStats().waits_total;
  absl::StatusOr<ConnectionLease> d = p->Acquire();
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(p->GetStats().waits_total, waits_before) << "found the returned one idle: no wait";
  EXPECT_EQ((*d)->session_id(), returned);
}

TEST_F(PoolTest, WaiterGetsAConnectionReleasedDuringItsWait) {
  std::unique_ptr<ConnectionPool> p = NewPool(1, absl::Seconds(5));
  ASSERT_NE(p, nullptr);
  auto held = std::make_unique<absl::StatusOr<ConnectionLease>>(p->Acquire());
  ASSERT_TRUE(held->ok());
  int64_t id = (**held)->session_id();
  // Released once the waiter is waiting (the pool counts it), not after a sleep that a busy
  // machine could outlast before the waiter even starts.
  std::thread releaser([&] {
    for (int i = 0; i < 30000 && p->GetStats().waits_total == 0; ++i) {
      absl::SleepFor(absl::Milliseconds(1));
    }
    held.reset();
  });
  absl::Time start = absl::Now();
  absl::StatusOr<ConnectionLease> lease = p->Acquire();
  absl::Duration waited = absl::Now() - start;
  releaser.join();
  ASSERT_TRUE(lease.ok()) << lease.status();
  EXPECT_EQ((*lease)->session_id(), id);
  EXPECT_EQ(p->GetStats().waits_total, 1) << "it waited for the release";
  EXPECT_EQ(p->GetStats().timeouts_total, 0);
  EXPECT_LT(waited, absl::Seconds(5)) << "got the released connection before its timeout";
}

TEST_F(PoolTest, KilledSessionIsReplacedTransparentlyForReads) {
  std::unique_ptr<ConnectionPool> p = NewPool(1, absl::Seconds(2));
  ASSERT_NE(p, nullptr);
  int64_t user = OQ_UNWRAP(admin::CreateUser(*p, "wxapp", "openid-kill-read", "k", 1234));
  int64_t victim = 0;
  {
    absl::StatusOr<ConnectionLease> lease = p->Acquire();
    ASSERT_TRUE(lease.ok());
    victim = (*lease)->session_id();
  }
  Kill(victim);

  MysqlRechargeRepository repo(*p);
  absl::StatusOr<int64_t> balance = repo.GetBalance(user);
  ASSERT_TRUE(balance.ok()) << balance.status();
  EXPECT_EQ(*balance, 1234);

  ConnectionPool::Stats s = p->GetStats();
  EXPECT_EQ(s.opened_total, 2);
  EXPECT_EQ(s.discarded_total, 1);
  absl::StatusOr<ConnectionLease> lease = p->Acquire();
  ASSERT_TRUE(lease.ok());
  EXPECT_NE((*lease)->session_id(), victim);
}

TEST_F(PoolTest, KilledSessionIsReplacedTransparentlyForTransactions) {
  std::unique_ptr<ConnectionPool> p = NewPool(1, absl::Seconds(2));
  ASSERT_NE(p, nullptr);
  int64_t victim = 0;
  {
    absl::StatusOr<ConnectionLease> lease = p->Acquire();
    ASSERT_TRUE(lease.ok());
    victim = (*lease)->session_id();
  }
  Kill(victim);

  // CreateUser runs in RunInTransaction: the dead session fails at START TRANSACTION, before
  // anything was written, and the transaction runs on a fresh session instead.
  absl::StatusOr<int64_t> user = admin::CreateUser(*p, "wxapp", "openid-kill-txn", "k", 77);
  ASSERT_TRUE(user.ok()) << user.status();
  EXPECT_EQ(OQ_UNWRAP(MysqlRechargeRepository(pool()).GetBalance(*user)), 77);
  EXPECT_EQ(p->GetStats().discarded_total, 1);
}

TEST_F(PoolTest, IdleSessionIsValidatedBeforeUse) {
  MysqlOptions o = db_->options();
  o.pool_size = 1;
  o.validate_after_idle = absl::ZeroDuration();  // validate on every Acquire
  absl::StatusOr<std::unique_ptr<ConnectionPool>> p = ConnectionPool::Create(o);
  ASSERT_TRUE(p.ok()) << p.status();
  int64_t victim = 0;
  {
    absl::StatusOr<ConnectionLease> lease = (*p)->Acquire();
    ASSERT_TRUE(lease.ok());
    victim = (*lease)->session_id();
  }
  Kill(victim);
  absl::StatusOr<ConnectionLease> lease = (*p)->Acquire();
  ASSERT_TRUE(lease.ok()) << lease.status();
  EXPECT_NE((*lease)->session_id(), victim);
  EXPECT_EQ((*p)->GetStats().discarded_total, 1);
}

TEST_F(PoolTest, PingRecoversFromADeadIdleSession) {
  std::unique_ptr<ConnectionPool> p = NewPool(1, absl::Seconds(2));
  ASSERT_NE(p, nullptr);
  int64_t victim = 0;
  {
    absl::StatusOr<ConnectionLease> lease = p->Acquire();
    ASSERT_TRUE(lease.ok());
    victim = (*lease)->session_id();
  }
  Kill(victim);
  EXPECT_TRUE(p->Ping());
  EXPECT_EQ(p->GetStats().discarded_total, 1);
}

TEST_F(PoolTest, UnreachableDatabaseIsUnavailableWithAClearMessage) {
  MysqlOptions o = db_->options();
  o.port = ClosedPort();
  o.connect_timeout = absl::Seconds(2);
  absl::Time start = absl::Now();
  absl::StatusOr<std::unique_ptr<ConnectionPool>> p = ConnectionPool::Create(o);
  ASSERT_FALSE(p.ok());
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  EXPECT_EQ(p.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(p.status().message(), HasSubstr(absl::StrCat("127.0.0.1:", o.port)));
  EXPECT_THAT(p.status().message(), HasSubstr("cannot connect"));
  EXPECT_THAT(p.status().message(), HasSubstr(o.user));
  EXPECT_THAT(p.status().message(), Not(HasSubstr(o.password)));

  // Started without connecting: every use reports UNAVAILABLE, and health says down.
  o.connect_on_create = false;
  absl::StatusOr<std::unique_ptr<ConnectionPool>> lazy = ConnectionPool::Create(o);
  ASSERT_TRUE(lazy.ok()) << lazy.status();
  absl::StatusOr<ConnectionLease> lease = (*lazy)->Acquire();
  EXPECT_EQ(lease.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE((*lazy)->Ping());
  MysqlRechargeRepository repo(**lazy);
  EXPECT_EQ(repo.GetBalance(1).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(repo.ResolveToken("tok", absl::Now()).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ApplyMigrations(**lazy).code(), absl::StatusCode::kUnavailable);
  // A failed open does not leak a pool slot.
  EXPECT_EQ((*lazy)->GetStats().open, 0);
}

// Issue 15, finding 10: the pool tells its observer (the gRPC health state) at once when opening
// a connection starts failing and when it succeeds again, once per change.
TEST_F(PoolTest, ReachabilityObserverHearsEachChange) {
  const std::string later = db_->name() + "_later";
  auto admin_exec = [this](const std::string& sql) {
    OQ_ASSERT_OK(WithConnection(db_->admin_pool(), [&](Connection& c) {
      c.Execute(sql);
      return absl::OkStatus();
    }));
  };
  MysqlOptions o = db_->options();
  o.database = later;  // does not exist yet: every connect fails
  o.connect_on_create = false;
  absl::StatusOr<std::unique_ptr<ConnectionPool>> p = ConnectionPool::Create(o);
  ASSERT_TRUE(p.ok()) << p.status();
  std::vector<bool> heard;  // reports are serialised
  (*p)->SetReachabilityObserver([&heard](bool up) { heard.push_back(up); });

  for (int i = 0; i < 3; ++i)
    EXPECT_EQ((*p)->Acquire().status().code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE((*p)->Ping());
  EXPECT_EQ(heard, std::vector<bool>({false}));

  admin_exec("CREATE DATABASE `" + later + "`");
  {
    absl::StatusOr<ConnectionLease> a = (*p)->Acquire();
    ASSERT_TRUE(a.ok()) << a.status();
    absl::StatusOr<ConnectionLease> b = (*p)->Acquire();  // a second open: no second report
    ASSERT_TRUE(b.ok()) << b.status();
  }
  EXPECT_EQ(heard, std::vector<bool>({false, true}));

  // Cleared: nothing more is heard.
  (*p)->SetReachabilityObserver(nullptr);
  admin_exec("DROP DATABASE `" + later + "`");
  {
    absl::StatusOr<ConnectionLease> a = (*p)->Acquire();
    absl::StatusOr<ConnectionLease> b = (*p)->Acquire();
    absl::StatusOr<ConnectionLease> c = (*p)->Acquire();  // a third open, into the dropped database
    EXPECT_EQ(c.status().code(), absl::StatusCode::kUnavailable);
  }
  EXPECT_EQ(heard, std::vector<bool>({false, true}));
}

TEST_F(PoolTest, WrongPasswordIsUnavailableWithoutEchoingThePassword) {
  MysqlOptions o = db_->options();
  o.password = "definitely-wrong-password";
  absl::StatusOr<std::unique_ptr<ConnectionPool>> p = ConnectionPool::Create(o);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(p.status().message(), HasSubstr("Access denied"));
  EXPECT_THAT(p.status().message(), Not(HasSubstr(o.password)));
}

TEST_F(PoolTest, InvalidOptionsAreRejected) {
  MysqlOptions o = db_->options();
  o.pool_size = 0;
  EXPECT_EQ(ConnectionPool::Create(o).status().code(), absl::StatusCode::kInvalidArgument);
  o = db_->options();
  o.user.clear();
  EXPECT_EQ(ConnectionPool::Create(o).status().code(), absl::StatusCode::kInvalidArgument);
  o = db_->options();
  o.port = 70000;
  EXPECT_EQ(ConnectionPool::Create(o).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(PoolTest, AbortedTransactionsAreRetriedUpToTheLimit) {
  int calls = 0;
  TransactionOptions opts;
  opts.max_attempts = 4;
  opts.initial_backoff = absl::Milliseconds(1);
  absl::Status st = RunInTransaction(
      pool(),
      [&](Connection&) {
        ++calls;
        return calls < 3 ? absl::AbortedError("simulated deadlock") : absl::OkStatus();
      },
      opts);
  OQ_EXPECT_OK(st);
  EXPECT_EQ(calls, 3);

  calls = 0;
  st = RunInTransaction(
      pool(),
      [&](Connection&) {
        ++calls;
        return absl::AbortedError("always");
      },
      opts);
  EXPECT_EQ(st.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(calls, 4);

  calls = 0;
  st = RunInTransaction(
      pool(),
      [&](Connection&) {
        ++calls;
        return absl::NotFoundError("not retried");
      },
      opts);
  EXPECT_EQ(st.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(calls, 1);
}

// Two transactions take the same two row locks in opposite orders: InnoDB kills one with
// error 1213, which must come back as ABORTED, be rolled back and rerun, so both succeed.
TEST_F(PoolTest, RealDeadlockIsRolledBackAndRetried) {
  int64_t u1 = OQ_UNWRAP(admin::CreateUser(pool(), "wxapp", "dl-1", "a", 0));
  int64_t u2 = OQ_UNWRAP(admin::CreateUser(pool(), "wxapp", "dl-2", "b", 0));
  std::unique_ptr<ConnectionPool> p1 = NewPool(1, absl::Seconds(10));
  std::unique_ptr<ConnectionPool> p2 = NewPool(1, absl::Seconds(10));
  ASSERT_TRUE(p1 && p2);

  std::atomic<int> calls{0};
  StartLine both_locked_first_row(2);
  std::atomic<bool> first_round_done[2] = {false, false};
  auto run = [&](ConnectionPool& p, int64_t first, int64_t second, int who) {
    TransactionOptions opts;
    opts.name = "deadlock test";
    return RunInTransaction(
        p,
        [&](Connection& c) {
          calls.fetch_add(1);
          sql::PreparedStatement& up =
              c.Prepare("UPDATE t_user SET amount = amount + 1 WHERE id = ?");
          up.setInt64(1, first);
          up.executeUpdate();
          if (!first_round_done[who].exchange(true)) both_locked_first_row.ArriveAndWait();
          up.setInt64(1, second);
          up.executeUpdate();
          return absl::OkStatus();
        },
        opts);
  };
  absl::Status s1, s2;
  std::thread t1([&] { s1 = run(*p1, u1, u2, 0); });
  std::thread t2([&] { s2 = run(*p2, u2, u1, 1); });
  t1.join();
  t2.join();
  OQ_EXPECT_OK(s1);
  OQ_EXPECT_OK(s2);
  EXPECT_EQ(calls.load(), 3);  // one victim ran twice
  MysqlRechargeRepository repo(pool());
  EXPECT_EQ(OQ_UNWRAP(repo.GetBalance(u1)), 2);
  EXPECT_EQ(OQ_UNWRAP(repo.GetBalance(u2)), 2);
}

TEST_F(PoolTest, SqlErrorsBecomeStatusesAndTheSessionSurvives) {
  std::unique_ptr<ConnectionPool> p = NewPool(1, absl::Seconds(2));
  ASSERT_NE(p, nullptr);
  int64_t before = 0;
  {
    absl::StatusOr<ConnectionLease> lease = p->Acquire();
    ASSERT_TRUE(lease.ok());
    before = (*lease)->session_id();
  }
  // Duplicate key -> ALREADY_EXISTS.
  OQ_ASSERT_OK(admin::CreateUser(*p, "wxapp", "dup", "a", 0).status());
  absl::StatusOr<int64_t> dup = admin::CreateUser(*p, "wxapp", "dup", "a", 0);
  EXPECT_EQ(dup.status().code(), absl::StatusCode::kAlreadyExists) << dup.status();
  EXPECT_THAT(dup.status().message(), HasSubstr("1062"));
  // Any other server error -> INTERNAL with its number.
  absl::Status st = WithConnection(*p, [](Connection& c) {
    c.Execute("SELECT * FROM no_such_table");
    return absl::OkStatus();
  });
  EXPECT_EQ(st.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(st.message(), HasSubstr("1146"));
  // None of this cost the session.
  absl::StatusOr<ConnectionLease> lease = p->Acquire();
  ASSERT_TRUE(lease.ok());
  EXPECT_EQ((*lease)->session_id(), before);
  EXPECT_EQ(p->GetStats().discarded_total, 0);
}

}  // namespace
}  // namespace orderquery::storage
