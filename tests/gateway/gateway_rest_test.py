#!/usr/bin/env python3
"""End-to-end tests of orderquery-gateway (issue 12) over REST, against the real thing.

Starts a MariaDB of its own (or uses the server OQ_TEST_MARIADB_ENV names, on a fresh
database), the payment sandbox, orderqueryd and the gateway, all on loopback, then calls the gateway with urllib exactly as the seeds' callers would. Every process
it starts it stops, by pid. Python 3 standard library only.

Environment: OQ_BUILD_DIR (default build/dev), OQ_SOURCE_DIR (default: this repo),
OQ_TEST_MARIADB_ENV (a running server's connection file, as tests/support/mariadb.sh writes).
"""

import datetime
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

SRC = os.environ.get("OQ_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("OQ_BUILD_DIR") or os.path.join(SRC, "build", "dev")
APPID = "wxd678efh567hg6787"
MCHID = "1230000109"
SUB_MCHID = "1900000109"
STEP_TIMEOUT = 30  # seconds any one start-up may take

# The seeds' example responses, as their documents show them (seed 001 with the comma the
# document lost after goodsDesc put back).
SEED000_EXAMPLE = {"code": 2042, "msg": "订单未支付", "data": None}
SEED000_REQUEST = '{ "orderNo":"30037620190603135446976217590065" }'
SEED001_EXAMPLE = json.loads("""{
"code": 0, "msg": "success",
"data": {
"tradeOrderId": "E01201908230414433510006", "tradeType": 1, "mchId": 20000000, "appId": "",
"clientIp": "0:0:0:0:0:0:0:1", "device": "", "goodsId": "", "subject": "被扫支付", "body": "被扫支付",
"orderAmount": 1, "discountAmount": 0, "amount": 1, "mchIncome": 1, "userId": "134713461986047502",
"channelUserId": null, "status": 1, "payOrderId": "P01201908230414452700006", "productId": "8020",
"productType": null,
"goodsDesc": [
{"cellPrice":12000,"currentPrice":10400,"discountAmount":400,"goodsId":100093,"goodsName":"奥尔良鸡腿堡","goodsNum":1,"goodsProps":""},
{"currentPrice":10000,"goodsId":-1,"goodsName":"茉莉花茶","goodsNum":1}
],
"couponId": null, "storeNo": null, "storeName": null, "operatorId": "null", "operatorName": "123",
"memberId": null, "memberTel": null, "givePoints": null, "refundTotalAmount": 0,
"tradeSuccTime": "2019-08-23T11:12:21.000+0000", "createTime": "2019-08-23T16:14:42.000+0000",
"updateTime": "2019-08-23T19:13:22.000+0000"
}}""")
SEED002_EXAMPLE = json.loads("""{
"appid" : "wxcbda96de0b165486", "sub_appid" : "wxcbda96de0b165489", "sp_mchid" : "1230000109",
"sub_mchid" : "1900000109", "description" : "停车场扣费", "create_time" : "2017-08-26T10:43:39+08:00",
"out_trade_no" : "20150806125346", "transaction_id" : "1009660380201506130728806387",
"trade_state" : "SUCCESS", "trade_state_description" : "支付失败,请重新下单支付",
"success_time" : "2017-08-26T10:43:39+08:00", "bank_type" : "CMC", "user_repaid" : "Y",
"attach" : "深圳分店", "trade_scene" : "PARKING",
"parking_info" : { "parking_id" : "5K8264ILTKCH16CQ250", "plate_number" : "粤B888888",
  "plate_color" : "BLUE", "start_time" : "2017-08-26T10:43:39+08:00",
  "end_time" : "2017-08-26T10:43:39+08:00", "parking_name" : "欢乐海岸停车场",
  "charging_duration" : 3600, "device_id" : "12313" },
"payer" : { "openid" : "oUpF8uMuAJOM2pxb1Q", "sub_openid" : "oUpF8uMuAJOM2pxb1Q" },
"amount" : { "total" : 888, "currency" : "CNY", "payer_total" : 100, "discount_total" : 100 },
"promotion_detail" : [ { "coupon_id" : "109519", "name" : "单品惠-6", "scope" : "SINGLE",
  "type" : "CASH", "stock_id" : "931386", "amount" : 5, "wechatpay_contribute" : 1,
  "merchant_contribute" : 1, "other_contribute" : 1, "currency" : "CNY" } ]
}""")

# Seed 000's error table: code -> msg.
SEED000_CODES = {
    0: "订单支付成功", 2041: "订单转入退款", 2042: "订单未支付", 2043: "订单已关闭",
    2044: "订单已撤销(付款码支付)", 2045: "用户支付中(付款码支付)",
    2046: "订单支付失败(其他原因,如银行返回失败)", 2047: "订单不存在", 2048: "订单未知状态",
}

# Recharge orders: number -> (WeChat state, amount in fen, sandbox extras, expected code).
RECHARGE_ORDERS = {
    "GW0000PAID": ("SUCCESS", 1000, {}, 0),
    "GW2041REFUND": ("REFUND", 1100, {}, 2041),
    "GW2042NOTPAY": ("NOTPAY", 1200, {}, 2042),
    "GW2043CLOSED": ("CLOSED", 1300, {}, 2043),
    "GW2044REVOKED": ("REVOKED", 1400, {}, 2044),
    "GW2045USERPAYING": ("USERPAYING", 1500, {}, 2045),
    "GW2046PAYERROR": ("PAYERROR", 1600, {}, 2046),
    # Paid at WeChat but for one fen more than the order: a crediting check fails -> 2048.
    "GW2048MISMATCH": ("SUCCESS", 1700, {"faults": [{"type": "amount_mismatch"}]}, 2048),
    # The seed's own request example, not paid.
    "30037620190603135446976217590065": ("NOTPAY", 100, {}, 2042),
}
INITIAL_BALANCE = 10000


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f)


def json_type(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def shape_diff(actual, example, path="$", alternatives=None):
    """Structural differences: same keys, same JSON types, same nesting. Array elements are
    compared with the example's element at the same index (or its first); an element may carry
    keys another element of the example array has. `alternatives` maps a path to extra allowed
    types there (seed 000's data: an object or null)."""
    alternatives = alternatives or {}
    diffs = []
    allowed = {json_type(example)} | set(alternatives.get(path, ()))
    if json_type(actual) not in allowed:
        return ["%s: %s, the example has %s" % (path, json_type(actual), json_type(example))]
    if isinstance(actual, dict) and isinstance(example, dict):
        for k in example:
            if k not in actual:
                diffs.append("%s.%s: missing" % (path, k))
            else:
                diffs += shape_diff(actual[k], example[k], path + "." + k, alternatives)
        for k in actual:
            if k not in example and k not in alternatives.get(path + ".*extra", ()):
                diffs.append("%s.%s: not in the example" % (path, k))
    elif isinstance(actual, list) and isinstance(example, list) and example:
        union = {}
        for e in example:
            if isinstance(e, dict):
                for k, v in e.items():
                    union.setdefault(k, v)
        for i, a in enumerate(actual):
            e = example[i] if i < len(example) else example[0]
            if isinstance(a, dict) and isinstance(e, dict):
                for k in e:
                    if k not in a:
                        diffs.append("%s[%d].%s: missing" % (path, i, k))
                for k in a:
                    if k in e:
                        diffs += shape_diff(a[k], e[k], "%s[%d].%s" % (path, i, k), alternatives)
                    elif k in union:
                        diffs += shape_diff(a[k], union[k], "%s[%d].%s" % (path, i, k), alternatives)
                    else:
                        diffs.append("%s[%d].%s: not in the example" % (path, i, k))
            else:
                diffs += shape_diff(a, e, "%s[%d]" % (path, i), alternatives)
    return diffs


def instant(s):
    """Seed 001's times (…000+0000) and RFC 3339 (…Z, …+08:00) as one comparable instant."""
    s = s.replace("Z", "+00:00")
    if len(s) > 5 and s[-5] in "+-" and s[-3] != ":":
        s = s[:-2] + ":" + s[-2:]
    return datetime.datetime.fromisoformat(s)


class ShapeDiffSelfTest(unittest.TestCase):
    """The comparison the REST tests rely on must see what proto3 JSON gets wrong."""

    def test_catches_the_differences_that_matter(self):
        ex = {"code": 2042, "msg": "x", "data": None, "l": [{"a": 1, "b": ""}, {"a": 2}]}
        self.assertEqual(shape_diff(json.loads(json.dumps(ex)), ex), [])
        self.assertTrue(shape_diff(dict(ex, code="2042"), ex))          # quoted number
        self.assertTrue(shape_diff(dict(ex, code=True), ex))            # boolean for number
        self.assertTrue(shape_diff({k: v for k, v in ex.items() if k != "data"}, ex))  # omitted
        self.assertTrue(shape_diff(dict(ex, extra=1), ex))              # extra key
        self.assertTrue(shape_diff(dict(ex, data={}), ex))              # object for null
        self.assertEqual(shape_diff(dict(ex, data={}), ex, alternatives={"$.data": ["object"]}), [])
        self.assertEqual(shape_diff(dict(ex, l=[{"a": 1, "b": ""}, {"a": 2, "b": ""}]), ex), [])
        self.assertTrue(shape_diff(dict(ex, l=[{"a": 1, "b": ""}, {"a": "2"}]), ex))
        self.assertTrue(shape_diff(dict(ex, l=[{"a": 1, "b": "", "c": 0}, {"a": 2}]), ex))


class Proc:
    """A child process whose first stdout lines announce where it listens."""

    def __init__(self, name, argv, logdir, env=None):
        self.name = name
        self.out_path = os.path.join(logdir, name + ".out")
        self.log_path = os.path.join(logdir, name + ".log")
        self.out = open(self.out_path, "w")
        self.log = open(self.log_path, "w")
        self.p = subprocess.Popen(argv, stdout=self.out, stderr=self.log, env=env,
                                  stdin=subprocess.DEVNULL)

    def wait_for(self, prefix, count=1):
        deadline = time.time() + STEP_TIMEOUT
        while time.time() < deadline:
            found = [l[len(prefix):].strip() for l in read(self.out_path).splitlines()
                     if l.startswith(prefix)]
            if len(found) >= count:
                return found
            if self.p.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError("%s did not print %r; its log:\n%s" % (
            self.name, prefix, read(self.log_path)[-3000:]))

    def stop(self, timeout=10):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(5)
        self.out.close()
        self.log.close()


def http(method, url, body=None, headers=None, timeout=15):
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw, status, hdrs = r.read(), r.status, r.headers
    except urllib.error.HTTPError as e:
        raw, status, hdrs = e.read(), e.code, e.headers
    text = raw.decode("utf-8")
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    return status, parsed, text, hdrs


class GatewayRest(unittest.TestCase):
    procs = []

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="oq-gateway-test-")
        cls.own_db_dir = None
        try:
            cls._start()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def _mariadb(cls, sql, database=None):
        argv = ["mariadb", "--defaults-file=" + cls.client_cnf, "--batch", "--skip-column-names"]
        if database:
            argv.append(database)
        return subprocess.run(argv, input=sql, text=True, check=True, capture_output=True,
                              timeout=STEP_TIMEOUT).stdout

    @classmethod
    def _start(cls):
        env_file = os.environ.get("OQ_TEST_MARIADB_ENV")
        if not env_file:
            cls.own_db_dir = os.path.join(cls.tmp, "mariadb")
            subprocess.run(["bash", os.path.join(SRC, "tests/support/mariadb.sh"), "start",
                            cls.own_db_dir], check=True, timeout=120, stdout=subprocess.DEVNULL)
            env_file = os.path.join(cls.own_db_dir, "env")
        db = dict(l.strip().split("=", 1) for l in read(env_file).splitlines() if "=" in l)
        cls.client_cnf = os.path.join(os.path.dirname(env_file), "client.cnf")
        cls.database = "gw_" + secrets.token_hex(4)
        cls._mariadb("CREATE DATABASE %s CHARACTER SET utf8mb4" % cls.database)

        keys = os.path.join(cls.tmp, "keys")
        subprocess.run(["bash", os.path.join(SRC, "tests/fakes/make-keys.sh"), keys, "--tls"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
        cls.keys = keys
        k = lambda name: os.path.join(keys, name)
        serial = lambda name: read(k(name)).strip()

        orders = []
        for no, (state, amount, extra, _) in RECHARGE_ORDERS.items():
            o = {"out_trade_no": no, "kind": "direct", "mchid": MCHID, "appid": APPID,
                 "amount": amount, "trade_state": state}
            o.update(extra)
            orders.append(o)
        vehicle = lambda no, faults: {"out_trade_no": no, "kind": "vehicle", "sub_mchid": SUB_MCHID,
                                      "trade_state": "ACCEPTED", "faults": faults}
        orders += [
            vehicle("GWV400PARAM", [{"type": "param_error_out_trade_no"}]),
            vehicle("GWV400INVALID", [{"type": "invalid_request"}]),
            vehicle("GWV400NOTBOUND", [{"type": "invalid_request_not_bound"}]),
            vehicle("GWV401SIGN", [{"type": "sign_error"}]),
            vehicle("GWV429", [{"type": "http_429"}]),
            vehicle("GWV500", [{"type": "http_500"}]),
            dict(vehicle("GWVSLOW", []), latency_ms=1500),
        ]
        scenario = os.path.join(cls.tmp, "scenario.json")
        write_json(scenario, {"builtin_orders": True, "orders": orders})
        sandbox = Proc("payment-sandbox", [
            os.path.join(BUILD, "tests/fakes/payment-sandbox"),
            "--merchant-public-key", k("merchant_public.pem"),
            "--platform-private-key", k("platform_key.pem"),
            "--platform-serial", serial("platform_serial.txt"),
            "--scenario", scenario, "--port", "0"], cls.tmp)
        cls.procs.append(sandbox)
        sandbox_addr = sandbox.wait_for("payment-sandbox listening on ")[0]

        merchant = lambda appid, mode, extra: dict({
            "appids": [appid], "mode": mode, "mchid": MCHID,
            "serial_no": serial("merchant_serial.txt"), "private_key_file": k("merchant_key.pem"),
            "public_key_id": serial("platform_serial.txt"),
            "public_key_file": k("platform_public.pem"),
            "base_url": "http://" + sandbox_addr}, **extra)
        # A fixed port, so that the last test can restart orderqueryd where the gateway expects it.
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            oq_port = sock.getsockname()[1]
        cls.gateway_key_file = os.path.join(cls.tmp, "gateway_api_key")
        with open(cls.gateway_key_file, "w") as f:
            f.write("gw-" + secrets.token_hex(16) + "\n")
        oq_config = {
            "listen": "127.0.0.1:%d" % oq_port,
            "db": {"host": db["host"], "port": int(db["port"]), "user": db["user"],
                   "database": cls.database},
            "upstream": {"max_attempts": 2, "initial_backoff_ms": 10, "max_backoff_ms": 20},
            "wechat": {"merchants": {
                "app": merchant(APPID, "direct", {}),
                "parking": merchant("wxcbda96de0b165486", "partner", {"sub_mchid": SUB_MCHID})}},
            "trade": {"default_merchant": "shop", "merchants": {
                "shop": {"base_url": "http://" + sandbox_addr, "mch_id": "20000000",
                         "key": "sandbox-trade-key"}}},
            # The internal RPCs need a service identity: the gateway's own API key.
            "auth": {"callers": {"gateway": {
                "key_file": cls.gateway_key_file,
                "methods": ["/orderquery.v1.OrderQueryService/GetVehicleTransaction",
                            "/orderquery.v1.TradeOrderService/GetTradeOrder"]}}},
        }
        oq_config_path = os.path.join(cls.tmp, "orderqueryd.json")
        write_json(oq_config_path, oq_config)
        cls.oq_config = oq_config
        oq_env = dict(os.environ, ORDERQUERY_DB_PASSWORD=db["password"])
        cls.oq_env = oq_env
        orderqueryd = os.path.join(BUILD, "server/orderqueryd")
        migrate = subprocess.run([orderqueryd, "--config", oq_config_path, "--migrate-only"],
                                 env=oq_env, timeout=60, capture_output=True, text=True)
        if migrate.returncode != 0:
            raise RuntimeError("orderqueryd --migrate-only failed (%d): %s" % (
                migrate.returncode, migrate.stderr[-2000:]))

        cls.token = "gw-token-" + secrets.token_hex(12)
        values = ",".join("('%s', @uid, '%s', '%s', %d)" % (no, APPID, MCHID, amount)
                          for no, (_, amount, _, _) in RECHARGE_ORDERS.items())
        cls._mariadb("""
INSERT INTO t_user (appid, openid, nickname, amount) VALUES ('%s', 'oGatewayUser', 'gw', %d);
SET @uid = LAST_INSERT_ID();
INSERT INTO t_user_session (token_sha256, user_id, appid, expires_at)
  VALUES (SHA2('%s', 256), @uid, '%s', UTC_TIMESTAMP(3) + INTERVAL 1 DAY);
INSERT INTO t_recharge_order (order_no, user_id, appid, mchid, amount) VALUES %s;
""" % (APPID, INITIAL_BALANCE, cls.token, APPID, values), cls.database)

        oq = Proc("orderqueryd", [orderqueryd, "--config", oq_config_path], cls.tmp, env=oq_env)
        cls.procs.append(oq)
        cls.oq = oq
        cls.oq_addr = oq.wait_for("orderqueryd listening on ")[0]
        cls.oq_argv = [orderqueryd, "--config", oq_config_path]

        gw_config = os.path.join(cls.tmp, "gateway.json")
        write_json(gw_config, {"listen": "127.0.0.1:0", "internal_listen": "127.0.0.1:0",
                               "admin": {"listen": "127.0.0.1:0"},
                               "upstream": {"target": cls.oq_addr,
                                            "api_key_file": cls.gateway_key_file},
                               "max_body_bytes": 4096,
                               "request_timeout_ms": 10000})
        gw = Proc("orderquery-gateway", [os.path.join(BUILD, "gateway/orderquery-gateway"),
                                         "--config", gw_config], cls.tmp)
        cls.procs.append(gw)
        cls.gw = gw
        cls.public = "http://" + gw.wait_for("gateway listening on ")[0]
        cls.internal = "http://" + gw.wait_for("gateway internal listening on ")[0]
        cls.metrics_url = gw.wait_for("gateway metrics on ")[0]

    @classmethod
    def tearDownClass(cls):
        for p in reversed(cls.procs):
            p.stop()
        cls.procs = []
        try:
            if getattr(cls, "database", None):
                cls._mariadb("DROP DATABASE IF EXISTS %s" % cls.database)
        except Exception as e:  # the fixture server may already be gone
            print("drop database: %s" % e, file=sys.stderr)
        if cls.own_db_dir:
            subprocess.run(["bash", os.path.join(SRC, "tests/support/mariadb.sh"), "stop",
                            cls.own_db_dir], timeout=120)
        if os.environ.get("OQ_KEEP_TMP"):
            print("kept " + cls.tmp, file=sys.stderr)
        else:
            shutil.rmtree(cls.tmp, ignore_errors=True)

    # --- helpers -------------------------------------------------------------------------------

    def recharge(self, body, headers=None, base=None, query=""):
        h = {"Content-Type": "application/json"}
        h.update(headers if headers is not None else {"appid": APPID, "token": self.token})
        return http("POST", (base or self.public) + "/app/app/recharge/queryOrder" + query, body, h)

    def assertShape(self, actual, example, alternatives=None):
        diffs = shape_diff(actual, example, alternatives=alternatives)
        self.assertEqual(diffs, [], "response %s" % json.dumps(actual, ensure_ascii=False))

    def assertEnvelope(self, status, body, http_status, code):
        self.assertEqual(status, http_status, body)
        self.assertEqual(sorted(body), ["code", "data", "msg"], body)
        self.assertIs(type(body["code"]), int, body)
        self.assertEqual(body["code"], code, body)
        self.assertIsNone(body["data"], body)
        self.assertIsInstance(body["msg"], str)

    # --- seed 000 ------------------------------------------------------------------------------

    def test_seed000_request_example_answers_the_example_shape(self):
        status, body, text, hdrs = self.recharge(SEED000_REQUEST)
        self.assertEqual(status, 200, text)
        self.assertTrue(hdrs["Content-Type"].startswith("application/json"))
        self.assertShape(body, SEED000_EXAMPLE, {"$.data": ["object"]})
        self.assertEqual((body["code"], body["msg"]), (2042, "订单未支付"))
        self.assertEqual(body["data"]["orderNo"], "30037620190603135446976217590065")

    def test_seed000_every_code_through_rest(self):
        for no, (state, amount, _, code) in RECHARGE_ORDERS.items():
            with self.subTest(order=no):
                status, body, text, _ = self.recharge(json.dumps({"orderNo": no}))
                self.assertEqual(status, 200, text)
                self.assertShape(body, SEED000_EXAMPLE, {"$.data": ["object"]})
                self.assertIs(type(body["code"]), int)
                self.assertEqual(body["code"], code, text)
                self.assertEqual(body["msg"], SEED000_CODES[code])
                data = body["data"]
                self.assertEqual(data["orderNo"], no)
                self.assertIs(type(data["amount"]), int)
                self.assertEqual(data["amount"], amount)
                self.assertIs(type(data["balance"]), int)
        # 2047: unknown here; data null, never omitted.
        status, body, text, _ = self.recharge('{"orderNo":"GW2047NOSUCHORDER"}')
        self.assertEqual((status, body), (200, {"code": 2047, "msg": "订单不存在", "data": None}), text)

    def test_seed000_paid_order_credits_once(self):
        first = self.recharge('{"orderNo":"GW0000PAID"}')[1]
        second = self.recharge('{"orderNo":"GW0000PAID"}')[1]
        self.assertEqual((first["code"], second["code"]), (0, 0))
        self.assertEqual(first["data"]["state"], 2)  # RECHARGE_ORDER_STATE_SUCCESS, as a number
        self.assertEqual(second["data"]["balance"], first["data"]["balance"])
        ledger = self._mariadb("SELECT COUNT(*), SUM(delta) FROM t_user_amount_log WHERE order_no='GW0000PAID'",
                               self.database).split()
        self.assertEqual(ledger, ["1", "1000"])

    def test_seed000_token_from_header_query_body_or_form(self):
        ok = lambda r: (r[0], r[1]["code"])
        self.assertEqual(ok(self.recharge('{"orderNo":"GW2043CLOSED"}', {"appid": APPID}, query="?token=" + self.token)), (200, 2043))
        self.assertEqual(ok(self.recharge(json.dumps({"orderNo": "GW2043CLOSED", "token": self.token}), {"appid": APPID})), (200, 2043))
        status, body, text, _ = http("POST", self.public + "/app/app/recharge/queryOrder",
                                     "orderNo=GW2043CLOSED&token=" + self.token,
                                     {"appid": APPID, "Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"})
        self.assertEqual((status, body["code"]), (200, 2043), text)

    def test_seed000_missing_appid_or_token(self):
        status, body, text, _ = self.recharge('{"orderNo":"GW2042NOTPAY"}', {"token": self.token})
        self.assertEnvelope(status, body, 400, 4000)
        self.assertIn("appid", body["msg"])
        status, body, text, _ = self.recharge('{"orderNo":"GW2042NOTPAY"}', {"appid": APPID})
        self.assertEnvelope(status, body, 401, 4010)
        self.assertIn("token", body["msg"])
        status, body, text, _ = self.recharge('{"orderNo":"GW2042NOTPAY"}', {"appid": APPID, "token": "not-a-session"})
        self.assertEnvelope(status, body, 401, 4010)

    def test_seed000_invalid_order_number(self):
        status, body, text, _ = self.recharge('{"orderNo":"bad order!"}')
        self.assertEnvelope(status, body, 400, 4000)

    def test_malformed_json_is_400_with_a_clear_message(self):
        for bad in ['{"orderNo": "GW2042NOTPAY"', '{"orderNo": 2042}', '{"orderNo":"A"} trailing']:
            with self.subTest(body=bad):
                status, body, text, _ = self.recharge(bad)
                self.assertEnvelope(status, body, 400, 4001)
                self.assertIn("JSON", body["msg"])

    def test_oversized_body_is_413(self):
        big = json.dumps({"orderNo": "GW2042NOTPAY", "pad": "x" * 5000})
        status, body, text, _ = self.recharge(big)
        self.assertEnvelope(status, body, 413, 4130)

    def test_unknown_route_and_wrong_method(self):
        for base in (self.public, self.internal):
            status, body, text, _ = http("GET", base + "/app/app/recharge/nothing")
            self.assertEnvelope(status, body, 404, 4041)
            status, body, text, _ = http("GET", base + "/app/app/recharge/queryOrder")
            self.assertEnvelope(status, body, 405, 4050)

    def test_internal_routes_refused_on_the_public_listener(self):
        for path in ("/api/trade_order/get?tradeOrderId=E01201908230414433510006",
                     "/v3/vehicle/transactions/out-trade-no/20150806125346?sub_mchid=" + SUB_MCHID,
                     "/openapi.json"):
            with self.subTest(path=path):
                status, body, text, _ = http("GET", self.public + path)
                self.assertEnvelope(status, body, 404, 4041)
                status, _, text, _ = http("GET", self.internal + path)
                self.assertEqual(status, 200, text)

    def test_internal_routes_need_the_gateways_identity(self):
        # A gateway without the key reaches orderqueryd's internal RPCs no more than anybody
        # else: UNAUTHENTICATED (401), on both seeds' contracts.
        cfg = os.path.join(self.tmp, "gateway-nokey.json")
        write_json(cfg, {"listen": "127.0.0.1:0", "internal_listen": "127.0.0.1:0",
                         "upstream": {"target": self.oq_addr}})
        gw = Proc("orderquery-gateway-nokey", [os.path.join(BUILD, "gateway/orderquery-gateway"),
                                               "--config", cfg], self.tmp)
        try:
            internal = "http://" + gw.wait_for("gateway internal listening on ")[0]
            status, body, text, _ = http("GET", internal + "/api/trade_order/get?tradeOrderId=E01201908230414433510006")
            self.assertEnvelope(status, body, 401, 4010)
            status, body, text, _ = http(
                "GET", internal + "/v3/vehicle/transactions/out-trade-no/20150806125346?sub_mchid=" + SUB_MCHID)
            self.assertEqual(status, 401, text)
        finally:
            gw.stop()
        # The gateway with its key: the same calls answer.
        status, _, text, _ = http("GET", self.internal + "/api/trade_order/get?tradeOrderId=E01201908230414433510006")
        self.assertEqual(status, 200, text)
        with open(self.gateway_key_file) as f:
            key = f.read().strip()
        for log in ("orderqueryd.log", "orderquery-gateway.log", "orderquery-gateway-nokey.log"):
            path = os.path.join(self.tmp, log)
            if os.path.exists(path):
                self.assertNotIn(key, read(path), log)

    # --- seed 001 ------------------------------------------------------------------------------

    def test_seed001_example(self):
        status, body, text, _ = http("GET", self.internal + "/api/trade_order/get?tradeOrderId=E01201908230414433510006")
        self.assertEqual(status, 200, text)
        self.assertShape(body, SEED001_EXAMPLE)
        # Values as the sandbox serves the seed's example order: all but the times verbatim
        # (orderqueryd writes times as RFC 3339; the instant is the same).
        times = ("tradeSuccTime", "createTime", "updateTime")
        for k, v in SEED001_EXAMPLE["data"].items():
            if k in times:
                self.assertEqual(instant(body["data"][k]), instant(v), k)
            elif k == "goodsDesc":
                for got, want in zip(body["data"][k], v):
                    for gk, gv in want.items():
                        self.assertEqual(got[gk], gv, "goodsDesc." + gk)
                self.assertEqual(len(body["data"][k]), len(v))
            else:
                self.assertEqual(body["data"][k], v, k)
        self.assertEqual((body["code"], body["msg"]), (0, "success"))

    def test_seed001_post_json_and_form(self):
        for ctype, body in (("application/json", '{"tradeOrderId":"E01201908230414433510006"}'),
                            ("application/x-www-form-urlencoded", "tradeOrderId=E01201908230414433510006")):
            with self.subTest(content_type=ctype):
                status, got, text, _ = http("POST", self.internal + "/api/trade_order/get", body,
                                            {"Content-Type": ctype})
                self.assertEqual(status, 200, text)
                self.assertShape(got, SEED001_EXAMPLE)
                self.assertEqual(got["data"]["tradeOrderId"], "E01201908230414433510006")

    def test_seed001_unknown_order_in_the_envelope(self):
        status, body, text, _ = http("GET", self.internal + "/api/trade_order/get?tradeOrderId=GWNOSUCHTRADE1")
        self.assertEnvelope(status, body, 404, 4040)

    # --- seed 002 ------------------------------------------------------------------------------

    def test_seed002_example_exactly(self):
        status, body, text, _ = http(
            "GET", self.internal + "/v3/vehicle/transactions/out-trade-no/20150806125346?sub_mchid=1900000109",
            headers={"Accept": "application/json",
                     "Authorization": 'WECHATPAY2-SHA256-RSA2048 mchid="1900000001",...'})
        self.assertEqual(status, 200, text)
        self.assertShape(body, SEED002_EXAMPLE)
        self.assertEqual(body, SEED002_EXAMPLE)

    def test_seed002_error_table(self):
        vehicle = lambda no, sub=SUB_MCHID: http(
            "GET", self.internal + "/v3/vehicle/transactions/out-trade-no/%s?sub_mchid=%s" % (no, sub))
        rows = [
            # (order number, HTTP status, WeChat code, text the message carries)
            ("GWV400PARAM", 400, "PARAM_ERROR", "参数错误,请检查out_trade_no"),
            ("bad%20no!", 400, "PARAM_ERROR", "out_trade_no"),
            ("GWV400INVALID", 400, "INVALID_REQUEST", "HTTP 请求不符合微信支付 APIv3 接口规则"),
            ("GW2042NOTPAY", 400, "INVALID_REQUEST", "不支持查询非支付分停车订单,请更换单号后再试"),
            ("GWV400NOTBOUND", 400, "INVALID_REQUEST", "服务商和子商户没有绑定关系"),
            ("GWVNOSUCHORDER", 404, "NOT_FOUND", "订单不存在"),
            ("GWV429", 429, "RATELIMIT_EXCEEDED", "达到调用速率限制"),
            ("GWV500", 500, "SYSTEM_ERROR", "系统异常,请稍后重试"),
            # WeChat refusing orderqueryd's own signature is our misconfiguration, not the
            # caller's: a system error for the REST caller (orderqueryd says INTERNAL).
            ("GWV401SIGN", 500, "SYSTEM_ERROR", "系统异常"),
        ]
        for no, http_status, code, text_part in rows:
            with self.subTest(order=no):
                status, body, text, _ = vehicle(no)
                self.assertEqual(status, http_status, text)
                self.assertEqual(sorted(body), ["code", "message"], text)
                self.assertEqual(body["code"], code, text)
                self.assertIn(text_part, body["message"])

    # --- health, OpenAPI, logs -----------------------------------------------------------------

    def test_healthz_on_both_listeners(self):
        for base in (self.public, self.internal):
            status, body, text, _ = http("GET", base + "/healthz")
            self.assertEqual((status, body["status"]), (200, "SERVING"), text)

    def test_openapi_document_on_the_internal_listener(self):
        status, doc, text, _ = http("GET", self.internal + "/openapi.json")
        self.assertEqual(status, 200)
        self.assertEqual(doc["swagger"], "2.0")
        for path in ("/app/app/recharge/queryOrder", "/api/trade_order/get",
                     "/v3/vehicle/transactions/out-trade-no/{out_trade_no}"):
            self.assertIn(path, doc["paths"])

    def scrape(self):
        """The gateway's /metrics, parsed by prometheus_client's own text parser."""
        status, _, text, hdrs = http("GET", self.metrics_url)
        self.assertEqual(status, 200, text)
        self.assertTrue(hdrs["Content-Type"].startswith("text/plain; version=0.0.4"), hdrs["Content-Type"])
        requests, latency = {}, {}
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                if s.name == "orderquery_gateway_requests_total":
                    requests[(s.labels["listener"], s.labels["route"], s.labels["code"])] = s.value
                elif s.name == "orderquery_gateway_latency_seconds_count":
                    latency[(s.labels["listener"], s.labels["route"])] = s.value
                elif s.name == "orderquery_gateway_latency_seconds_bucket" and s.labels["le"] == "+Inf":
                    latency[(s.labels["listener"], s.labels["route"], "+Inf")] = s.value
        return requests, latency

    def test_metrics_count_requests_by_route_template_and_status(self):
        vehicle_route = "/v3/vehicle/transactions/out-trade-no/{out_trade_no}"
        recharge_route = "/app/app/recharge/queryOrder"
        before, lat_before = self.scrape()
        vehicle = "/v3/vehicle/transactions/out-trade-no/%s?sub_mchid=" + SUB_MCHID
        self.assertEqual(http("GET", self.internal + vehicle % "20150806125346")[0], 200)
        self.assertEqual(http("GET", self.internal + vehicle % "GWVNOSUCHORDER")[0], 404)
        self.assertEqual(http("GET", self.internal + vehicle % "GWVNOSUCHORDER")[0], 404)
        self.assertEqual(self.recharge(SEED000_REQUEST)[0], 200)
        self.assertEqual(http("GET", self.public + recharge_route)[0], 405)
        self.assertEqual(http("GET", self.public + "/no/such/route/x1")[0], 404)
        after, lat_after = self.scrape()
        delta = {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}
        self.assertEqual(delta, {
            ("internal", vehicle_route, "200"): 1,
            ("internal", vehicle_route, "404"): 2,
            ("public", recharge_route, "200"): 1,
            ("public", recharge_route, "405"): 1,
            ("public", "-", "404"): 1,
        })
        for key in after:
            self.assertNotIn("20150806125346", key[1])
            self.assertNotIn("x1", key[1])
        for key, n in (((("internal", vehicle_route)), 3), (("public", recharge_route), 2)):
            self.assertEqual(lat_after[key] - lat_before.get(key, 0), n, key)
            self.assertEqual(lat_after[key + ("+Inf",)], lat_after[key], key)
        # The scrapes themselves are not requests of the public or internal listener.
        self.assertNotIn("/metrics", {k[1] for k in after})
        status, body, _, _ = http("GET", self.internal + "/metrics")
        self.assertEqual(status, 404)

    def test_access_log_has_a_line_per_request_and_no_secret(self):
        marker_token = "gw-secret-" + secrets.token_hex(8)
        self.recharge('{"orderNo":"GW2042NOTPAY"}', {"appid": APPID, "token": marker_token})
        self.recharge('{"orderNo":"GW2042NOTPAY","token":"%s"}' % marker_token, {"appid": APPID})
        self.recharge('{"orderNo":"GW2042NOTPAY"}', {"appid": APPID}, query="?token=" + marker_token)
        time.sleep(0.6)  # the gateway writes its log at least every 200 ms
        log = read(self.gw.log_path)
        self.assertNotIn(marker_token, log)
        self.assertNotIn(self.token, log)
        lines = [l for l in log.splitlines() if "event=http_request" in l
                 and "route=/app/app/recharge/queryOrder" in l and "status=401" in l]
        self.assertGreaterEqual(len(lines), 3, log[-2000:])
        for field in ("method=", "status=", "latency_ms=", "listener=public"):
            self.assertIn(field, lines[-1])

    def test_upstream_mtls(self):
        """orderqueryd with TLS and client certificates: the gateway with the CA and a client
        certificate gets through; without the certificate it answers 503 and /healthz says so."""
        k = lambda name: os.path.join(self.keys, name)
        client_key, client_csr, client_cert = k("gw_client_key.pem"), k("gw_client.csr"), k("gw_client_cert.pem")
        openssl = lambda *a: subprocess.run(["openssl"] + list(a), check=True, timeout=60,
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", client_key, "-subj",
                "/CN=orderquery-gateway", "-out", client_csr)
        openssl("x509", "-req", "-in", client_csr, "-CA", k("ca_cert.pem"), "-CAkey", k("ca_key.pem"),
                "-CAcreateserial", "-days", "1", "-out", client_cert)
        # Its own port: gRPC binds with SO_REUSEPORT, so sharing the plaintext server's port
        # would split the connections between the two servers.
        cfg = dict(self.oq_config, listen="127.0.0.1:0", tls={"cert_file": k("server_cert.pem"), "key_file": k("server_key.pem"),
                                         "client_ca_file": k("ca_cert.pem")})
        path = os.path.join(self.tmp, "orderqueryd-tls.json")
        write_json(path, cfg)
        started = []
        try:
            oq = Proc("orderqueryd-tls", [os.path.join(BUILD, "server/orderqueryd"), "--config", path],
                      self.tmp, env=self.oq_env)
            started.append(oq)
            target = oq.wait_for("orderqueryd listening on ")[0]
            gateways = {}
            for name, extra in (("with-cert", {"cert_file": client_cert, "key_file": client_key}),
                                ("without-cert", {})):
                gcfg = os.path.join(self.tmp, "gateway-%s.json" % name)
                write_json(gcfg, {"listen": "127.0.0.1:0", "internal_listen": "127.0.0.1:0",
                                  "upstream": dict({"target": target, "tls": True, "ca_file": k("ca_cert.pem")}, **extra)})
                gw = Proc("gateway-" + name, [os.path.join(BUILD, "gateway/orderquery-gateway"), "--config", gcfg], self.tmp)
                started.append(gw)
                gateways[name] = "http://" + gw.wait_for("gateway listening on ")[0]
            status, body, text, _ = self.recharge('{"orderNo":"GW2043CLOSED"}', base=gateways["with-cert"])
            self.assertEqual((status, body["code"]), (200, 2043), text)
            self.assertEqual(http("GET", gateways["with-cert"] + "/healthz")[0], 200)
            status, body, text, _ = self.recharge('{"orderNo":"GW2043CLOSED"}', base=gateways["without-cert"])
            self.assertEnvelope(status, body, 503, 5030)
            self.assertEqual(http("GET", gateways["without-cert"] + "/healthz")[0], 503)
        finally:
            for p in reversed(started):
                p.stop()

    def test_sigterm_lets_in_flight_requests_finish(self):
        gcfg = os.path.join(self.tmp, "gateway-drain.json")
        write_json(gcfg, {"listen": "127.0.0.1:0", "internal_listen": "127.0.0.1:0",
                          "upstream": {"target": self.oq_addr, "api_key_file": self.gateway_key_file},
                          "shutdown_grace_ms": 5000})
        gw = Proc("gateway-drain", [os.path.join(BUILD, "gateway/orderquery-gateway"), "--config", gcfg], self.tmp)
        try:
            internal = "http://" + gw.wait_for("gateway internal listening on ")[0]
            result = {}

            def call():
                try:
                    result["r"] = http("GET", internal + "/v3/vehicle/transactions/out-trade-no/GWVSLOW?sub_mchid=" + SUB_MCHID)
                except Exception as e:  # the connection cut: what the assertion below reports
                    result["r"] = (None, None, repr(e), None)
            t = threading.Thread(target=call)
            t.start()
            time.sleep(0.5)  # the call is at the sandbox (1.5 s latency)
            gw.p.send_signal(signal.SIGTERM)
            t.join(10)
            self.assertEqual(result["r"][0], 200, result["r"][2])
            self.assertEqual(result["r"][1]["out_trade_no"], "GWVSLOW")
            self.assertEqual(gw.p.wait(10), 0)
            with self.assertRaises(OSError):  # and it no longer accepts
                urllib.request.urlopen(internal + "/healthz", timeout=2)
        finally:
            gw.stop()

    # Runs last (unittest orders by name): stops orderqueryd, then starts it again.
    def test_zz_orderqueryd_down_is_503_and_health_says_so(self):
        self.oq.stop()
        time.sleep(2)  # the gateway's reconnection attempts fail meanwhile
        status, body, text, _ = self.recharge('{"orderNo":"GW2042NOTPAY"}')
        self.assertEnvelope(status, body, 503, 5030)
        status, body, text, _ = http("GET", self.internal + "/api/trade_order/get?tradeOrderId=E01201908230414433510006")
        self.assertEnvelope(status, body, 503, 5030)
        status, body, text, _ = http("GET", self.internal + "/v3/vehicle/transactions/out-trade-no/20150806125346?sub_mchid=1900000109")
        self.assertEqual((status, body), (500, {"code": "SYSTEM_ERROR", "message": "系统异常,请稍后重试"}), text)
        for base in (self.public, self.internal):
            status, body, text, _ = http("GET", base + "/healthz")
            self.assertEqual((status, body["status"]), (503, "NOT_SERVING"), text)
        # Back: the gateway reconnects by itself and answers again.
        oq = Proc("orderqueryd-again", self.oq_argv, self.tmp, env=self.oq_env)
        self.procs.append(oq)
        oq.wait_for("orderqueryd listening on ")
        up_at = time.time()
        while time.time() - up_at < 10 and http("GET", self.public + "/healthz")[0] != 200:
            time.sleep(0.1)
        self.assertLess(time.time() - up_at, 5, "the gateway took too long to reconnect")
        status, body, text, _ = self.recharge('{"orderNo":"GW2043CLOSED"}')
        self.assertEqual((status, body["code"]), (200, 2043), text)


if __name__ == "__main__":
    unittest.main(verbosity=2)
