#include "storage/schema_check.h"

#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "storage/sql_util.h"

namespace orderquery::storage {
namespace {

enum class Kind {
  kMoney,     // BIGINT: integer fen, the full int64 range the code uses
  kInteger,   // any integer type (flags, counters)
  kDatetime,  // DATETIME or TIMESTAMP
  kText,      // CHAR or VARCHAR
};

struct ColumnRule {
  const char* table;
  const char* column;
  Kind kind;
};

// The columns the money and lifecycle code reads and writes with a meaning the type must keep.
constexpr ColumnRule kColumns[] = {
    {"t_user", "amount", Kind::kMoney},
    {"t_recharge_order", "order_no", Kind::kText},
    {"t_recharge_order", "amount", Kind::kMoney},
    {"t_recharge_order", "status", Kind::kText},
    {"t_recharge_order", "credited", Kind::kInteger},
    {"t_recharge_order", "paid_at", Kind::kDatetime},
    {"t_recharge_order", "last_queried_at", Kind::kDatetime},
    {"t_recharge_order", "next_check_at", Kind::kDatetime},
    {"t_recharge_order", "check_attempts", Kind::kInteger},
    {"t_user_amount_log", "order_no", Kind::kText},
    {"t_user_amount_log", "entry_type", Kind::kText},
    {"t_user_amount_log", "amount_before", Kind::kMoney},
    {"t_user_amount_log", "delta", Kind::kMoney},
    {"t_user_amount_log", "amount_after", Kind::kMoney},
    {"t_payment_notification", "id", Kind::kText},
    {"t_vehicle_transaction", "total", Kind::kMoney},
    {"t_trade_order", "order_amount", Kind::kMoney},
    {"t_trade_order", "discount_amount", Kind::kMoney},
    {"t_trade_order", "amount", Kind::kMoney},
    {"t_trade_order", "mch_income", Kind::kMoney},
    {"t_trade_order", "refund_total_amount", Kind::kMoney},
    {"t_trade_order_goods", "cell_price", Kind::kMoney},
    {"t_trade_order_goods", "current_price", Kind::kMoney},
    {"t_trade_order_goods", "discount_amount", Kind::kMoney},
};

struct KeyRule {
  const char* table;
  std::vector<std::string> columns;
  const char* why;
};

// Uniqueness the database must enforce because process memory cannot (several replicas).
// A unique key on a subset of the columns is as good (it is stricter).
const std::vector<KeyRule>& KeyRules() {
  static const auto* rules = new std::vector<KeyRule>{
      {"t_user_amount_log", {"order_no", "entry_type"}, "one ledger entry per order and type"},
      {"t_recharge_order", {"order_no"}, "one row per order number"},
      {"t_payment_notification", {"id"}, "one effect per notification id"},
      {"t_user", {"appid", "openid"}, "one balance per user"},
      {"t_user_session", {"token_sha256"}, "one session per token"},
      {"t_vehicle_transaction", {"sub_mchid", "out_trade_no"}, "one row per transaction"},
      {"t_trade_order", {"merchant", "trade_order_id"}, "one row per trade order"},
      {"t_trade_order_goods", {"merchant", "trade_order_id", "line_no"}, "one row per goods line"},
  };
  return *rules;
}

bool Fits(Kind kind, const std::string& type) {
  auto any_of = [&type](std::initializer_list<const char*> names) {
    return std::any_of(names.begin(), names.end(), [&type](const char* n) { return type == n; });
  };
  switch (kind) {
    case Kind::kMoney:
      return type == "bigint";
    case Kind::kInteger:
      return any_of({"tinyint", "smallint", "mediumint", "int", "bigint"});
    case Kind::kDatetime:
      return any_of({"datetime", "timestamp"});
    case Kind::kText:
      return any_of({"varchar", "char"});
  }
  return false;
}

const char* Wanted(Kind kind) {
  switch (kind) {
    case Kind::kMoney:
      return "BIGINT (integer fen)";
    case Kind::kInteger:
      return "an integer type";
    case Kind::kDatetime:
      return "DATETIME";
    case Kind::kText:
      return "VARCHAR";
  }
  return "?";
}

}  // namespace

std::vector<std::string> SchemaProblems(const SchemaFacts& facts) {
  std::vector<std::string> problems;
  std::vector<std::string> missing_tables;
  auto table_missing = [&](const std::string& table) {
    if (facts.columns.count(table) > 0) return false;
    if (std::find(missing_tables.begin(), missing_tables.end(), table) == missing_tables.end()) {
      missing_tables.push_back(table);
      problems.push_back(absl::StrCat("table ", table, " is missing"));
    }
    return true;
  };
  for (const ColumnRule& rule : kColumns) {
    if (table_missing(rule.table)) continue;
    const auto& columns = facts.columns.at(rule.table);
    auto it = columns.find(rule.column);
    if (it == columns.end()) {
      problems.push_back(
          absl::StrCat(rule.table, ".", rule.column, " is missing (want ", Wanted(rule.kind), ")"));
    } else if (!Fits(rule.kind, absl::AsciiStrToLower(it->second.data_type))) {
      problems.push_back(absl::StrCat(rule.table, ".", rule.column, " is ", it->second.column_type,
                                      ", must be ", Wanted(rule.kind)));
    }
  }
  for (const KeyRule& rule : KeyRules()) {
    if (table_missing(rule.table)) continue;
    bool found = false;
    if (auto keys = facts.keys.find(rule.table); keys != facts.keys.end()) {
      for (const auto& [name, key] : keys->second) {
        if (!key.unique || key.columns.empty()) continue;
        const bool within = std::all_of(key.columns.begin(), key.columns.end(), [&](auto& c) {
          return std::find(rule.columns.begin(), rule.columns.end(), c) != rule.columns.end();
        });
        if (within) {
          found = true;
          break;
        }
      }
    }
    if (!found) {
      problems.push_back(absl::StrCat(rule.table, " has no PRIMARY or UNIQUE key on (",
                                      absl::StrJoin(rule.columns, ", "), ") (", rule.why, ")"));
    }
  }
  return problems;
}

absl::StatusOr<SchemaFacts> ReadSchemaFacts(ConnectionPool& pool) {
  SchemaFacts facts;
  absl::Status st = WithConnection(
      pool,
      [&](Connection& c) {
        facts = SchemaFacts();
        {
          std::unique_ptr<sql::ResultSet> rs(
              c.Prepare("SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE, COLUMN_TYPE"
                        " FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()")
                  .executeQuery());
          while (rs->next()) {
            SchemaFacts::Column col;
            col.data_type = internal::GetString(*rs, 3);
            col.column_type = internal::GetString(*rs, 4);
            facts.columns[internal::GetString(*rs, 1)][internal::GetString(*rs, 2)] =
                std::move(col);
          }
        }
        std::unique_ptr<sql::ResultSet> rs(
            c.Prepare("SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME"
                      " FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE()"
                      " ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX")
                .executeQuery());
        while (rs->next()) {
          SchemaFacts::Key& key =
              facts.keys[internal::GetString(*rs, 1)][internal::GetString(*rs, 2)];
          key.unique = rs->getInt(3) == 0;
          key.columns.push_back(internal::GetString(*rs, 4));
        }
        return absl::OkStatus();
      },
      "read the schema");
  if (!st.ok()) return st;
  return facts;
}

absl::Status VerifySchema(ConnectionPool& pool) {
  absl::StatusOr<SchemaFacts> facts = ReadSchemaFacts(pool);
  if (!facts.ok()) return facts.status();
  std::vector<std::string> problems = SchemaProblems(*facts);
  if (problems.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "database '", pool.options().database,
      "' lacks what exactly-once crediting and integer money rely on (a table that existed "
      "before the migrations is kept as it was): ",
      absl::StrJoin(problems, "; "),
      ". Alter these tables to match storage/migrations/*.sql, or use an empty database"));
}

}  // namespace orderquery::storage
