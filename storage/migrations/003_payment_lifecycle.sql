-- The payment lifecycle (issue 11): the reconciler's durable schedule on each recharge order,
-- and every provider notification, stored once by its id in the transaction it caused.
-- Same conventions as 001_init.sql.

ALTER TABLE t_recharge_order
  ADD COLUMN IF NOT EXISTS next_check_at DATETIME(3) NULL COMMENT 'reconciler: next unprompted check of a pending order; a claim pushes it forward (the lease)',
  ADD COLUMN IF NOT EXISTS check_attempts INT NOT NULL DEFAULT 0 COMMENT 'reconciler: scheduled checks made';

CREATE INDEX IF NOT EXISTS idx_recharge_order_due ON t_recharge_order (status, next_check_at);

CREATE TABLE IF NOT EXISTS t_payment_notification (
  id VARCHAR(64) COLLATE utf8mb4_bin NOT NULL COMMENT 'the provider notification id: one effect per id',
  provider VARCHAR(16) COLLATE utf8mb4_bin NOT NULL,
  merchant VARCHAR(32) COLLATE utf8mb4_bin NOT NULL COMMENT 'our configured merchant name',
  event_type VARCHAR(64) COLLATE utf8mb4_bin NOT NULL,
  order_no VARCHAR(32) COLLATE utf8mb4_bin NOT NULL,
  trade_state VARCHAR(32) COLLATE utf8mb4_bin NOT NULL DEFAULT '',
  body MEDIUMTEXT NOT NULL COMMENT 'as received; the payment resource stays encrypted',
  received_at DATETIME(3) NOT NULL,
  PRIMARY KEY (id),
  KEY idx_payment_notification_order (order_no),
  KEY idx_payment_notification_received (received_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
  COMMENT='verified provider notifications, stored with the change they caused';
