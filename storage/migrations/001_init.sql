-- Seed 000 (EV-charging recharge query): users, sessions, recharge orders and their logs.
-- Conventions: utf8mb4/InnoDB; money is BIGINT fen; times are UTC DATETIME(3) (every session
-- runs with time_zone '+00:00'); identifiers compare byte for byte (utf8mb4_bin).
-- Every statement is idempotent (IF NOT EXISTS): DDL commits implicitly, so a migration that
-- failed half-way is simply run again from the top.
-- Statements end with a semicolon at the end of a line; no semicolons inside statements.

CREATE TABLE IF NOT EXISTS t_user (
  id BIGINT NOT NULL AUTO_INCREMENT,
  appid VARCHAR(32) COLLATE utf8mb4_bin NOT NULL,
  openid VARCHAR(64) COLLATE utf8mb4_bin NOT NULL,
  nickname VARCHAR(64) NOT NULL DEFAULT '',
  amount BIGINT NOT NULL DEFAULT 0 COMMENT 'balance in fen, changed only by amount = amount + delta',
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id),
  UNIQUE KEY uk_user_appid_openid (appid, openid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
  COMMENT='app users and their balance';

CREATE TABLE IF NOT EXISTS t_user_session (
  token_sha256 CHAR(64) COLLATE utf8mb4_bin NOT NULL COMMENT 'hex SHA-256 of the token, never the token itself',
  user_id BIGINT NOT NULL,
  appid VARCHAR(32) COLLATE utf8mb4_bin NOT NULL,
  expires_at DATETIME(3) NOT NULL,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (token_sha256),
  KEY idx_user_session_user (user_id),
  KEY idx_user_session_expires (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
  COMMENT='login sessions behind the token header';

CREATE TABLE IF NOT EXISTS t_recharge_order (
  id BIGINT NOT NULL AUTO_INCREMENT,
  order_no VARCHAR(32) COLLATE utf8mb4_bin NOT NULL,
  user_id BIGINT NOT NULL,
  appid VARCHAR(32) COLLATE utf8mb4_bin NOT NULL,
  mchid VARCHAR(32) COLLATE utf8mb4_bin NOT NULL,
  sub_mchid VARCHAR(32) COLLATE utf8mb4_bin NOT NULL DEFAULT '' COMMENT 'partner mode only',
  amount BIGINT NOT NULL COMMENT 'fen',
  status VARCHAR(16) COLLATE utf8mb4_bin NOT NULL DEFAULT 'NOTPAY' COMMENT 'WeChat trade_state name',
  trade_state VARCHAR(32) COLLATE utf8mb4_bin NOT NULL DEFAULT '' COMMENT 'last trade_state WeChat reported',
  transaction_id VARCHAR(32) COLLATE utf8mb4_bin NOT NULL DEFAULT '',
  paid_at DATETIME(3) NULL,
  credited TINYINT NOT NULL DEFAULT 0 COMMENT '1 once the balance was credited (exactly once)',
  last_queried_at DATETIME(3) NULL,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id),
  UNIQUE KEY uk_recharge_order_no (order_no),
  KEY idx_recharge_order_user (user_id, created_at),
  KEY idx_recharge_order_status (status, updated_at),
  CONSTRAINT chk_recharge_order_status CHECK (status IN ('NOTPAY', 'SUCCESS', 'REFUND', 'CLOSED', 'REVOKED', 'USERPAYING', 'PAYERROR')),
  CONSTRAINT chk_recharge_order_credited CHECK (credited IN (0, 1)),
  CONSTRAINT chk_recharge_order_amount CHECK (amount >= 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
  COMMENT='recharge orders placed with WeChat Pay';

CREATE TABLE IF NOT EXISTS t_recharge_order_log (
  id BIGINT NOT NULL AUTO_INCREMENT,
  order_no VARCHAR(32) COLLATE utf8mb4_bin NOT NULL,
  from_status VARCHAR(16) COLLATE utf8mb4_bin NOT NULL,
  to_status VARCHAR(16) COLLATE utf8mb4_bin NOT NULL,
  reason VARCHAR(512) NOT NULL DEFAULT '',
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id),
  KEY idx_recharge_order_log_order (order_no, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
  COMMENT='every status change of a recharge order';

CREATE TABLE IF NOT EXISTS t_user_amount_log (
  id BIGINT NOT NULL AUTO_INCREMENT,
  user_id BIGINT NOT NULL,
  order_no VARCHAR(32) COLLATE utf8mb4_bin NOT NULL,
  entry_type VARCHAR(16) COLLATE utf8mb4_bin NOT NULL COMMENT 'RECHARGE',
  amount_before BIGINT NOT NULL,
  delta BIGINT NOT NULL,
  amount_after BIGINT NOT NULL,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id),
  UNIQUE KEY uk_user_amount_log_order_entry (order_no, entry_type) COMMENT 'one credit per order and entry type',
  KEY idx_user_amount_log_user (user_id, id),
  CONSTRAINT chk_user_amount_log_sum CHECK (amount_after = amount_before + delta)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
  COMMENT='balance ledger';

CREATE TABLE IF NOT EXISTS t_user_order_query_log (
  id BIGINT NOT NULL AUTO_INCREMENT,
  user_id BIGINT NULL,
  appid VARCHAR(32) COLLATE utf8mb4_bin NOT NULL DEFAULT '',
  order_no VARCHAR(64) COLLATE utf8mb4_bin NOT NULL,
  trade_state VARCHAR(32) COLLATE utf8mb4_bin NOT NULL DEFAULT '',
  error_code VARCHAR(64) COLLATE utf8mb4_bin NOT NULL DEFAULT '',
  error_message VARCHAR(512) NOT NULL DEFAULT '',
  latency_ms BIGINT NOT NULL DEFAULT 0,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id),
  KEY idx_query_log_order (order_no, id),
  KEY idx_query_log_user (user_id, id),
  KEY idx_query_log_created (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
  COMMENT='every query sent to WeChat, answered or not';
