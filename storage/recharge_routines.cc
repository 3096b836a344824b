#include "storage/recharge_routines.h"

#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"
#include "server/common/log.h"
#include "storage/recharge_rows.h"
#include "storage/sha256.h"
#include "storage/sql_util.h"

namespace orderquery::storage {
namespace {

// Parameters and body of oq_record_query_v1 (see recharge_routines.h). The character sets and
// collations of the text parameters are spelled out: a routine's parameters otherwise take the
// database's defaults, which need not be utf8mb4, and comparing a utf8mb4_bin column with a
// differently collated parameter is an error. It runs in the sql_mode it was created in (the
// pool's strict mode). Any error rolls the whole transaction back and reaches the caller; a
// deadlock (1213) or lock wait timeout (1205) is the caller's to retry.
std::string RecordQueryText() {
  const std::string order_cols = internal::OrderColumnsOf("o");
  return absl::StrCat(
      "(\n"
      "  IN p_order_no VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin,\n"
      "  IN p_expect_status VARCHAR(16) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin,\n"
      "  IN p_expect_credited TINYINT,\n"
      "  IN p_queried_at DATETIME(3),\n"
      "  IN p_next_check_at DATETIME(3),\n"
      "  IN p_write_log TINYINT,\n"
      "  IN p_log_user_id BIGINT,\n"
      "  IN p_log_appid VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin,\n"
      "  IN p_log_order_no VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin,\n"
      "  IN p_log_trade_state VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin,\n"
      "  IN p_log_error_code VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin,\n"
      "  IN p_log_error_message VARCHAR(512) CHARACTER SET utf8mb4,\n"
      "  IN p_log_latency_ms BIGINT)\n"
      "MODIFIES SQL DATA\n"
      "SQL SECURITY DEFINER\n"
      "BEGIN\n"
      "  DECLARE v_status VARCHAR(16) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin DEFAULT NULL;\n"
      "  DECLARE v_credited TINYINT DEFAULT NULL;\n"
      "  DECLARE v_next DATETIME(3) DEFAULT NULL;\n"
      "  DECLARE v_next_new DATETIME(3) DEFAULT NULL;\n"
      "  DECLARE v_outcome VARCHAR(8) DEFAULT 'ok';\n"
      "  DECLARE CONTINUE HANDLER FOR NOT FOUND SET v_status = NULL;\n"
      "  DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; RESIGNAL; END;\n"
      "  START TRANSACTION;\n"
      // The row lock every state change and credit of the order queues on.
      "  SELECT status, credited, next_check_at INTO v_status, v_credited, v_next\n"
      "    FROM t_recharge_order WHERE order_no = p_order_no FOR UPDATE;\n"
      "  IF v_status IS NULL THEN\n"
      "    SET v_outcome = 'missing';\n"
      // Compare-and-set: the answer was decided on this state.
      "  ELSEIF (p_expect_status IS NOT NULL AND v_status <> p_expect_status)\n"
      "      OR (p_expect_credited IS NOT NULL AND v_credited <> p_expect_credited) THEN\n"
      "    SET v_outcome = 'conflict';\n"
      "  ELSE\n"
      "    IF p_write_log <> 0 THEN\n"
      "      INSERT INTO t_user_order_query_log (user_id, appid, order_no, trade_state,\n"
      "          error_code, error_message, latency_ms, created_at)\n"
      "        VALUES (p_log_user_id, p_log_appid, p_log_order_no, p_log_trade_state,\n"
      "          p_log_error_code, p_log_error_message, p_log_latency_ms, UTC_TIMESTAMP(3));\n"
      "    END IF;\n"
      // A final order leaves the reconciler's schedule; a pending one may get its next slot.
      "    SET v_next_new = IF(v_status IN ('NOTPAY', 'USERPAYING'),\n"
      "                        COALESCE(p_next_check_at, v_next), NULL);\n"
      "    IF p_queried_at IS NOT NULL OR NOT (v_next_new <=> v_next) THEN\n"
      // updated_at keeps meaning \"the order changed\", not \"someone asked\".
      "      UPDATE t_recharge_order\n"
      "        SET last_queried_at = COALESCE(p_queried_at, last_queried_at),\n"
      "            next_check_at = v_next_new, updated_at = updated_at\n"
      "        WHERE order_no = p_order_no;\n"
      "    END IF;\n"
      "  END IF;\n"
      // Read under the row lock, before the transaction ends: the row as this call leaves it.
      // An error raised by the COMMIT after it still reaches the caller (after the result set).
      "  IF v_outcome = 'missing' THEN\n"
      "    ROLLBACK;\n"
      "    SELECT v_outcome;\n"
      "  ELSE\n"
      "    SELECT v_outcome, ",
      order_cols,
      ", u.amount\n"
      "      FROM t_recharge_order o LEFT JOIN t_user u ON u.id = o.user_id\n"
      "      WHERE o.order_no = p_order_no;\n"
      "    IF v_outcome = 'ok' THEN\n"
      "      COMMIT;\n"
      "    ELSE\n"
      "      ROLLBACK;\n"
      "    END IF;\n"
      "  END IF;\n"
      "END");
}

Routine MakeRoutine(const std::string& name, const std::string& text) {
  Routine r;
  r.name = name;
  r.checksum = Sha256Hex(text);
  const std::string rest =
      absl::StrCat(" ", name, text.substr(0, text.find("\nMODIFIES")), "\nCOMMENT 'orderquery ",
                   r.checksum, "'", text.substr(text.find("\nMODIFIES")));
  r.create_sql = absl::StrCat("CREATE PROCEDURE IF NOT EXISTS", rest);
  r.replace_sql = absl::StrCat("CREATE OR REPLACE PROCEDURE", rest);
  return r;
}

constexpr char kSelectRoutineComment[] =
    "SELECT ROUTINE_COMMENT FROM information_schema.ROUTINES"
    " WHERE ROUTINE_SCHEMA = DATABASE() AND ROUTINE_TYPE = 'PROCEDURE' AND ROUTINE_NAME = ?";

}  // namespace

const std::vector<Routine>& Routines() {
  static const std::vector<Routine>* const kRoutines = new std::vector<Routine>{
      MakeRoutine(internal::kRecordQueryProcedure, RecordQueryText()),
  };
  return *kRoutines;
}

absl::Status EnsureRoutines(ConnectionPool& pool) {
  for (const Routine& r : Routines()) {
    absl::Status st = WithConnection(
        pool,
        [&](Connection& c) {
          std::optional<std::string> comment;
          {
            sql::PreparedStatement& q = c.Prepare(kSelectRoutineComment);
            internal::BindString(q, 1, r.name);
            std::unique_ptr<sql::ResultSet> rs = internal::Query(q);
            if (rs->next()) comment = internal::GetString(*rs, 1);
          }
          const std::string want = absl::StrCat("orderquery ", r.checksum);
          if (comment == want) return absl::OkStatus();
          // IF NOT EXISTS: two replicas starting at once both find it missing; one creates it.
          c.Execute(comment.has_value() ? r.replace_sql : r.create_sql);
          log::Info("mysql.routine_created", {{"database", pool.options().database},
                                              {"routine", r.name},
                                              {"replaced", comment.has_value()}});
          return absl::OkStatus();
        },
        "create stored procedures");
    if (!st.ok()) {
      return absl::Status(st.code(), absl::StrCat("procedure ", r.name, ": ", st.message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace orderquery::storage
