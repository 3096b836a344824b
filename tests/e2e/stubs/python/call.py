"""One real call through the generated Python stubs (scripts/gen-stubs, python3-grpcio).

usage: call.py STUBS_DIR TARGET APPID TOKEN
QueryRechargeOrder(DEMO0001PAID) with appid/token metadata must answer code 0 for that order
and 1000 fen; the demo stack has credited it. Exit 0 only then.
"""
import sys

stubs, target, appid, token = sys.argv[1:5]
sys.path.insert(0, stubs)

import grpc  # noqa: E402
from orderquery.v1 import recharge_pb2, service_pb2_grpc  # noqa: E402

with grpc.insecure_channel(target) as channel:
    stub = service_pb2_grpc.OrderQueryServiceStub(channel)
    resp = stub.QueryRechargeOrder(
        recharge_pb2.QueryRechargeOrderRequest(order_no="DEMO0001PAID"),
        metadata=(("appid", appid), ("token", token)),
        timeout=10,
    )
print("python: code=%d (%s) msg=%s order_no=%s amount=%d state=%s" % (
    resp.code, recharge_pb2.RechargeResultCode.Name(resp.code), resp.msg, resp.data.order_no,
    resp.data.amount, recharge_pb2.RechargeOrderState.Name(resp.data.state)))
ok = (resp.code == recharge_pb2.RECHARGE_RESULT_CODE_SUCCESS and
      resp.data.order_no == "DEMO0001PAID" and resp.data.amount == 1000 and
      resp.data.trade_state == "SUCCESS")
if not ok:
    print("python: unexpected answer:\n%s" % resp, file=sys.stderr)
sys.exit(0 if ok else 1)
