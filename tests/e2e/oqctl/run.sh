#!/usr/bin/env bash
# e2e: oqctl against a running orderqueryd: every subcommand in text and --json form (the JSON
# parsed, values checked), and the exit codes scripts rely on: 0 OK (business outcomes such as
# "no such order" included), the gRPC status code of a failed call, 64 for bad usage.
#   run.sh OQCTL       (env: OQ_SOURCE_DIR, OQ_BUILD_DIR; see ../stubs/stack.sh)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=SCRIPTDIR/../stubs/stack.sh
. "$HERE/../stubs/stack.sh"
OQCTL=${1:?usage: run.sh OQCTL}
[ -x "$OQCTL" ] || fail "$OQCTL is not built"

checks=0
# expect CODE DESCRIPTION -- ARGS...: runs oqctl, checks its exit code; $OUT/$ERR keep the output.
expect() {
  local want=$1 what=$2 rc=0; shift 3
  OUT=$(step 20 "$OQCTL" "$@" 2>"$WORK/stderr") || rc=$?
  ERR=$(cat "$WORK/stderr")
  if [ "$rc" -ne "$want" ]; then
    printf 'stdout:\n%s\nstderr:\n%s\n' "$OUT" "$ERR" >&2
    fail "$what: oqctl $* exited $rc, want $want"
  fi
  checks=$((checks + 1))
  echo "ok: $what (exit $rc)"
}
has() { grep -qF -- "$2" <<<"$1" || { echo "$1" >&2; fail "output lacks: $2"; }; }
# json_check EXPR: evaluates a Python expression over the parsed JSON `j` of $OUT.
json_check() {
  "$PY" -c 'import json,sys; j=json.load(sys.stdin); ok=eval(sys.argv[1]); sys.exit(0 if ok else 1)' "$1" <<<"$OUT" ||
    { echo "$OUT" >&2; fail "JSON check failed: $1"; }
}

oq_work oqctl

# Usage and help need no server.
expect 0 "global --help" -- --help;                  has "$OUT" "Usage: oqctl"
for c in recharge vehicle trade health; do
  expect 0 "$c --help" -- "$c" --help;               has "$OUT" "oqctl $c"
done
expect 64 "no command" --;                            has "$ERR" "a command is required"
expect 64 "unknown command" -- frobnicate;            has "$ERR" "unknown command frobnicate"
expect 64 "recharge without --order-no" -- recharge --appid a --token t
expect 64 "vehicle without --sub-mchid" -- vehicle --out-trade-no 20150806125346
expect 64 "trade without --id" -- trade
expect 64 "bad --deadline" -- --deadline soon health
expect 64 "flag without value" -- health --target

# Nothing listens on a port that was free a moment ago: UNAVAILABLE after the retries.
DEAD="127.0.0.1:$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
expect 14 "unreachable target" -- --target "$DEAD" --deadline 3s health; has "$ERR" "UNAVAILABLE"

oq_stack_start
T=(--target "$TARGET")
R=(recharge --appid "$APPID" --token "$TOKEN")

expect 0 "health" -- "${T[@]}" health;                [ "$OUT" = SERVING ] || fail "health said $OUT"
expect 0 "health --json" -- "${T[@]}" --json health;  json_check 'j["status"] == "SERVING"'
OQCTL_TARGET=$TARGET expect 0 "health via OQCTL_TARGET" -- health

expect 0 "recharge paid" -- "${T[@]}" "${R[@]}" --order-no DEMO0001PAID
has "$OUT" "code: 0 (RECHARGE_RESULT_CODE_SUCCESS)"; has "$OUT" 'order_no: "DEMO0001PAID"'; has "$OUT" "amount: 1000"
# The token from a file or the environment (issue 15, finding 12): not in the process list.
printf '%s\n' "$TOKEN" > "$WORK/token"
expect 0 "recharge --token-file" -- "${T[@]}" recharge --appid "$APPID" --token-file "$WORK/token" --order-no DEMO0001PAID
has "$OUT" "code: 0"
OQCTL_TOKEN=$TOKEN expect 0 "recharge with OQCTL_TOKEN" -- "${T[@]}" recharge --appid "$APPID" --order-no DEMO0001PAID
has "$OUT" "code: 0"
printf 'wrong-token\n' > "$WORK/bad-token"
expect 16 "a file's token wins over --token" -- "${T[@]}" recharge --appid "$APPID" --token-file "$WORK/bad-token" --token "$TOKEN" --order-no DEMO0001PAID
expect 64 "unreadable --token-file" -- "${T[@]}" recharge --appid "$APPID" --token-file "$WORK/none" --order-no DEMO0001PAID
expect 0 "recharge paid --json" -- "${T[@]}" --json "${R[@]}" --order-no DEMO0001PAID
json_check 'j["code"] == "RECHARGE_RESULT_CODE_SUCCESS" and j["data"]["orderNo"] == "DEMO0001PAID" and j["data"]["amount"] == "1000" and j["data"]["state"] == "RECHARGE_ORDER_STATE_SUCCESS"'
expect 0 "recharge closed" -- "${T[@]}" "${R[@]}" --order-no DEMO0003CLOSED
has "$OUT" "code: 2043 (RECHARGE_RESULT_CODE_CLOSED)"
# "No such order" is an answer, not an error: exit 0 and the seed's code 2047.
expect 0 "recharge unknown order" -- "${T[@]}" "${R[@]}" --order-no NO_SUCH_ORDER
has "$OUT" "code: 2047 (RECHARGE_RESULT_CODE_ORDER_NOT_EXIST)"
expect 0 "recharge unknown order --json" -- "${T[@]}" --json "${R[@]}" --order-no NO_SUCH_ORDER
# Proto JSON writes enums by name; 2047 is RECHARGE_RESULT_CODE_ORDER_NOT_EXIST (text form above).
json_check 'j["code"] == "RECHARGE_RESULT_CODE_ORDER_NOT_EXIST" and "data" not in j'
expect 16 "recharge bad token" -- "${T[@]}" recharge --appid "$APPID" --token wrong-token --order-no DEMO0001PAID
has "$ERR" "UNAUTHENTICATED"
expect 3 "recharge malformed order no" -- "${T[@]}" "${R[@]}" --order-no 'bad order!'
has "$ERR" "INVALID_ARGUMENT"

expect 0 "vehicle" -- "${T[@]}" vehicle --out-trade-no 20150806125346 --sub-mchid 1900000109
has "$OUT" 'out_trade_no: "20150806125346"'; has "$OUT" "trade_state: SUCCESS"; has "$OUT" "total: 888"
expect 0 "vehicle --json" -- "${T[@]}" --json vehicle --out-trade-no 20150806125346 --sub-mchid 1900000109
json_check 'j["out_trade_no"] == "20150806125346" and j["sub_mchid"] == "1900000109" and j["trade_state"] == "SUCCESS" and j["amount"]["total"] == "888" and j["transaction_id"] == "1009660380201506130728806387"'
expect 5 "vehicle unknown order" -- "${T[@]}" vehicle --out-trade-no NOPE20150806 --sub-mchid 1900000109
has "$ERR" "NOT_FOUND"

expect 0 "trade" -- "${T[@]}" trade --id E01201908230414433510006
has "$OUT" "code: 0"; has "$OUT" 'trade_order_id: "E01201908230414433510006"'
expect 0 "trade --json" -- "${T[@]}" --json trade --id E01201908230414433510006
json_check 'j["code"] == 0 and j["msg"] == "success" and j["data"]["tradeOrderId"] == "E01201908230414433510006" and len(j["data"]["goodsDesc"]) == 2 and j["data"]["amount"] == "1"'
expect 5 "trade unknown order" -- "${T[@]}" trade --id NOPE0000
has "$ERR" "NOT_FOUND"

echo "PASS: oqctl ($checks checks)"
