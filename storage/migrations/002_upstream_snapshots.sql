-- The latest verified answers of the other two upstreams: WeChat vehicle (parking)
-- transactions (seed 002) and merchant trade orders with their goods (seed 001).
-- Same conventions as 001_init.sql.

CREATE TABLE IF NOT EXISTS t_vehicle_transaction (
  sub_mchid VARCHAR(32) COLLATE utf8mb4_bin NOT NULL,
  out_trade_no VARCHAR(32) COLLATE utf8mb4_bin NOT NULL,
  trade_state VARCHAR(32) COLLATE utf8mb4_bin NOT NULL DEFAULT '' COMMENT 'SUCCESS ACCEPTED PAY_FAIL REFUND',
  transaction_id VARCHAR(32) COLLATE utf8mb4_bin NOT NULL DEFAULT '',
  total BIGINT NOT NULL DEFAULT 0 COMMENT 'amount.total in fen',
  body_json MEDIUMTEXT NOT NULL COMMENT 'reply body exactly as verified',
  fetched_at DATETIME(3) NOT NULL,
  PRIMARY KEY (sub_mchid, out_trade_no),
  KEY idx_vehicle_transaction_id (transaction_id),
  KEY idx_vehicle_state (trade_state, fetched_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
  COMMENT='WeChat vehicle transactions (partner mode)';

CREATE TABLE IF NOT EXISTS t_trade_order (
  merchant VARCHAR(64) COLLATE utf8mb4_bin NOT NULL COMMENT 'configured merchant it was fetched from',
  trade_order_id VARCHAR(64) COLLATE utf8mb4_bin NOT NULL,
  trade_type INT NOT NULL DEFAULT 0 COMMENT '1 collect, 2 recharge',
  deposit_mode INT NOT NULL DEFAULT 0,
  mch_id VARCHAR(64) COLLATE utf8mb4_bin NOT NULL DEFAULT '',
  app_id VARCHAR(64) COLLATE utf8mb4_bin NOT NULL DEFAULT '',
  client_ip VARCHAR(64) NOT NULL DEFAULT '',
  device VARCHAR(255) NOT NULL DEFAULT '',
  goods_id VARCHAR(64) NOT NULL DEFAULT '',
  subject VARCHAR(1024) NOT NULL DEFAULT '',
  body VARCHAR(1024) NOT NULL DEFAULT '',
  order_amount BIGINT NOT NULL DEFAULT 0 COMMENT 'fen',
  discount_amount BIGINT NOT NULL DEFAULT 0 COMMENT 'fen',
  amount BIGINT NOT NULL DEFAULT 0 COMMENT 'fen actually paid',
  mch_income BIGINT NOT NULL DEFAULT 0 COMMENT 'fen',
  user_id VARCHAR(64) NOT NULL DEFAULT '',
  channel_user_id VARCHAR(128) NOT NULL DEFAULT '',
  status INT NOT NULL DEFAULT 0 COMMENT '0 1 2 -1 4 5 6 7 as in the merchant API',
  pay_order_id VARCHAR(64) COLLATE utf8mb4_bin NOT NULL DEFAULT '',
  product_id VARCHAR(64) NOT NULL DEFAULT '',
  product_type INT NOT NULL DEFAULT 0 COMMENT '1-5, 0 when absent',
  coupon_id VARCHAR(128) NOT NULL DEFAULT '',
  store_no VARCHAR(128) NOT NULL DEFAULT '',
  store_name VARCHAR(255) NOT NULL DEFAULT '',
  operator_id VARCHAR(128) NOT NULL DEFAULT '',
  operator_name VARCHAR(255) NOT NULL DEFAULT '',
  member_id VARCHAR(128) NOT NULL DEFAULT '',
  member_tel VARCHAR(64) NOT NULL DEFAULT '',
  give_points BIGINT NOT NULL DEFAULT 0,
  refund_total_amount BIGINT NOT NULL DEFAULT 0 COMMENT 'fen',
  trade_succ_time DATETIME(3) NULL,
  create_time DATETIME(3) NULL,
  update_time DATETIME(3) NULL,
  fetched_at DATETIME(3) NOT NULL,
  PRIMARY KEY (merchant, trade_order_id),
  KEY idx_trade_order_pay_order (pay_order_id),
  KEY idx_trade_order_status (status, fetched_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
  COMMENT='merchant trade orders';

CREATE TABLE IF NOT EXISTS t_trade_order_goods (
  merchant VARCHAR(64) COLLATE utf8mb4_bin NOT NULL,
  trade_order_id VARCHAR(64) COLLATE utf8mb4_bin NOT NULL,
  line_no INT NOT NULL COMMENT 'position in goodsDesc, from 0',
  cell_price BIGINT NOT NULL DEFAULT 0 COMMENT 'fen',
  current_price BIGINT NOT NULL DEFAULT 0 COMMENT 'fen',
  discount_amount BIGINT NOT NULL DEFAULT 0 COMMENT 'fen',
  goods_id BIGINT NOT NULL DEFAULT 0 COMMENT '-1 for goods without a barcode',
  goods_name VARCHAR(255) NOT NULL DEFAULT '',
  goods_num BIGINT NOT NULL DEFAULT 0,
  goods_props VARCHAR(1024) NOT NULL DEFAULT '',
  PRIMARY KEY (merchant, trade_order_id, line_no)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
  COMMENT='goods lines of a merchant trade order';
