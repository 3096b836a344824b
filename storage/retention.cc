#include "storage/retention.h"

#include <cppconn/prepared_statement.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "server/common/log.h"
#include "storage/sql_util.h"

namespace orderquery::storage {
namespace {

// Fixed statements per table (names are never spliced from input). ORDER BY the indexed time
// column walks idx_*_created / idx_*_received from the oldest row, so a batch reads only what it
// deletes.
const std::string& DeleteSql(RetainedTable t) {
  static const std::string query_log =
      "DELETE FROM t_user_order_query_log WHERE created_at < ? ORDER BY created_at LIMIT ?";
  static const std::string notifications =
      "DELETE FROM t_payment_notification WHERE received_at < ? ORDER BY received_at LIMIT ?";
  return t == RetainedTable::kQueryLog ? query_log : notifications;
}

}  // namespace

const char* RetainedTableName(RetainedTable t) {
  return t == RetainedTable::kQueryLog ? "t_user_order_query_log" : "t_payment_notification";
}

absl::StatusOr<int64_t> DeleteOlderThan(ConnectionPool& pool, RetainedTable table,
                                        absl::Time cutoff, int batch, absl::Duration pause,
                                        const std::function<bool()>& stop) {
  if (batch < 1) return absl::InvalidArgumentError("retention batch must be >= 1");
  int64_t total = 0;
  for (bool first = true;; first = false) {
    if (stop && stop()) break;
    if (!first && pause > absl::ZeroDuration()) absl::SleepFor(pause);
    int deleted = 0;
    absl::Status s = WithConnection(
        pool,
        [&](Connection& c) -> absl::Status {
          sql::PreparedStatement& st = c.Prepare(DeleteSql(table));
          internal::BindTime(st, 1, cutoff);
          st.setInt(2, batch);
          deleted = st.executeUpdate();
          return absl::OkStatus();
        },
        absl::StrCat("retention ", RetainedTableName(table)));
    if (!s.ok()) return s;
    total += deleted;
    if (deleted < batch) break;
  }
  return total;
}

RetentionTask::RetentionTask(ConnectionPool* pool, RetentionOptions options)
    : pool_(pool), options_(std::move(options)) {}

RetentionTask::~RetentionTask() { Stop(); }

void RetentionTask::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { Loop(); });
}

void RetentionTask::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool RetentionTask::stopping() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stopping_;
}

int64_t RetentionTask::RunOnce() {
  const absl::Time now = options_.clock ? options_.clock() : absl::Now();
  int64_t total = 0;
  const struct {
    RetainedTable table;
    absl::Duration age;
    std::atomic<int64_t>* counter;
  } passes[] = {
      {RetainedTable::kQueryLog, options_.query_log_age, &deleted_query_log_},
      {RetainedTable::kNotifications, options_.notification_age, &deleted_notifications_}};
  for (const auto& p : passes) {
    if (p.age <= absl::ZeroDuration()) continue;
    const absl::Time started = absl::Now();
    absl::StatusOr<int64_t> n = DeleteOlderThan(*pool_, p.table, now - p.age, options_.batch,
                                                options_.pause, [this] { return stopping(); });
    if (!n.ok()) {
      failures_.fetch_add(1);
      log::Warn("retention_failed",
                {{"table", RetainedTableName(p.table)}, {"error", n.status().ToString()}});
      continue;
    }
    p.counter->fetch_add(*n);
    total += *n;
    if (*n > 0) {
      log::Info("retention_deleted",
                {{"table", RetainedTableName(p.table)},
                 {"rows", *n},
                 {"older_than_days", absl::ToInt64Hours(p.age) / 24},
                 {"took_ms", absl::ToInt64Milliseconds(absl::Now() - started)}});
    }
  }
  return total;
}

void RetentionTask::Loop() {
  for (;;) {
    RunOnce();
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, absl::ToChronoMilliseconds(options_.interval), [this] { return stopping_; });
    if (stopping_) return;
  }
}

}  // namespace orderquery::storage
