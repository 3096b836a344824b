// Retention for the tables that only grow: t_user_order_query_log (a row per upstream call) and
// t_payment_notification (a row per notification id). Rows older than the configured age are
// deleted in bounded batches, each one autocommitted DELETE (a short transaction holding few row
// locks), with a pause between batches so that writers are never locked out for long.
//
// Deletes are idempotent, so every replica may run the task: two replicas only share the work.
// Deleting a notification row forgets that its id was seen; a redelivery that old would be
// applied again, which the lifecycle makes harmless (the credit is guarded in the database).
#ifndef ORDERQUERY_STORAGE_RETENTION_H_
#define ORDERQUERY_STORAGE_RETENTION_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "storage/mysql_pool.h"

namespace orderquery::storage {

enum class RetainedTable {
  kQueryLog,       // t_user_order_query_log by created_at
  kNotifications,  // t_payment_notification by received_at
};

const char* RetainedTableName(RetainedTable t);

// Deletes the rows of `table` older than `cutoff`, at most `batch` per statement, sleeping
// `pause` between statements, until a statement deletes fewer than `batch` rows or `stop`
// (optional) returns true. Returns the rows deleted; an error after some batches reports the
// error (those rows stay deleted).
absl::StatusOr<int64_t> DeleteOlderThan(ConnectionPool& pool, RetainedTable table,
                                        absl::Time cutoff, int batch, absl::Duration pause,
                                        const std::function<bool()>& stop = nullptr);

struct RetentionOptions {
  absl::Duration query_log_age = absl::Hours(24 * 90);      // zero = keep forever
  absl::Duration notification_age = absl::Hours(24 * 180);  // zero = keep forever
  int batch = 1000;
  absl::Duration pause = absl::Milliseconds(200);
  absl::Duration interval = absl::Hours(1);
  std::function<absl::Time()> clock;  // absl::Now when empty
};

// The background task: a pass at Start() and then every `interval`.
class RetentionTask {
 public:
  RetentionTask(ConnectionPool* pool, RetentionOptions options);
  ~RetentionTask();  // Stop()
  RetentionTask(const RetentionTask&) = delete;
  RetentionTask& operator=(const RetentionTask&) = delete;

  void Start();
  // Stops between two batches (a statement in progress finishes) and joins.
  void Stop();
  // One pass over both tables now, on the calling thread. Returns the rows deleted.
  int64_t RunOnce();

  // Since creation, for the metrics endpoint.
  int64_t deleted(RetainedTable t) const {
    return t == RetainedTable::kQueryLog ? deleted_query_log_.load()
                                         : deleted_notifications_.load();
  }
  int64_t failures() const { return failures_.load(); }

 private:
  void Loop();
  bool stopping() const;

  ConnectionPool* pool_;
  RetentionOptions options_;
  std::atomic<int64_t> deleted_query_log_{0}, deleted_notifications_{0}, failures_{0};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace orderquery::storage

#endif  // ORDERQUERY_STORAGE_RETENTION_H_
