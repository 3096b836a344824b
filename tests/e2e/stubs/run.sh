#!/usr/bin/env bash
# e2e: the stubs of one language from scripts/gen-stubs are generated, compiled or imported,
# and make one real call against a running orderqueryd.
#
#   run.sh python|go|java      (env: OQ_SOURCE_DIR, OQ_BUILD_DIR; see stack.sh)
#
# python: QueryRechargeOrder(DEMO0001PAID) with appid/token metadata -> code 0, 1000 fen
# go:     GetVehicleTransaction(20150806125346, 1900000109) -> SUCCESS, 888 fen (GOPATH mode,
#         Debian's golang-google-grpc-dev)
# java:   GetTradeOrder(E01201908230414433510006) -> code 0, two goods lines
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=SCRIPTDIR/stack.sh
. "$HERE/stack.sh"
lang=${1:?usage: run.sh python|go|java}

oq_work "stubs-$lang"
STUBS="$WORK/stubs"
step 60 bash "$OQ_SOURCE_DIR/scripts/gen-stubs" --lang "$lang" "$STUBS"

case "$lang" in
  python)
    PYTHONPATH="$STUBS/python" step 30 "$PY" -c \
      'from orderquery.v1 import service_pb2_grpc, recharge_pb2, vehicle_pb2, trade_pb2; from google.api import annotations_pb2'
    echo "python: stubs import"
    run_call() { step 30 "$PY" "$HERE/python/call.py" "$STUBS/python" "$TARGET" "$APPID" "$TOKEN"; }
    ;;
  go)
    command -v go >/dev/null || fail "go not found (golang-go)"
    # GOPATH mode: the generated package, then Debian's Go sources (grpc 1.33, protobuf 1.3).
    export GO111MODULE=off GOPATH="$STUBS/go:/usr/share/gocode" GOFLAGS=""
    export GOCACHE="$OQ_BUILD_DIR/tests/e2e/go-build-cache"  # reused by later runs
    (cd "$HERE/go" && step 180 go build -p 2 -o "$WORK/go-call" main.go)
    step 60 go vet orderquery/gen/go/orderquery/v1
    echo "go: stubs compile ($(go version | cut -d' ' -f3), $(grep -h '^const Version' /usr/share/gocode/src/google.golang.org/grpc/version.go))"
    run_call() { step 30 "$WORK/go-call" "$TARGET"; }
    ;;
  java)
    command -v javac >/dev/null || fail "javac not found (default-jdk-headless)"
    CP=$(cat "$STUBS/java/classpath")
    mkdir -p "$WORK/classes"
    find "$STUBS/java/src" -name '*.java' >"$WORK/sources.txt"
    step 180 javac -J-Xmx512m -nowarn -encoding UTF-8 -cp "$CP" -d "$WORK/classes" \
      @"$WORK/sources.txt" "$HERE/java/StubCall.java"
    echo "java: stubs compile ($(wc -l <"$WORK/sources.txt") generated files)"
    run_call() { step 60 java -Xmx256m -cp "$WORK/classes:$CP" StubCall "$TARGET"; }
    ;;
  *) fail "unknown language $lang" ;;
esac

oq_stack_start
out=$(run_call) || { echo "$out"; fail "$lang call failed"; }
echo "$out"
echo "PASS: $lang stubs"
