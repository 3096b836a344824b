# shellcheck shell=bash
# Sourced by the e2e test scripts (stubs, consumer, reflection, oqctl): each starts its own demo
# stack (MariaDB + payment sandbox + orderqueryd on loopback, free ports) through scripts/demo
# and always stops it on exit.
#
#   . tests/e2e/stubs/stack.sh
#   oq_work NAME          -> $WORK, a fresh directory under $OQ_BUILD_DIR/tests/e2e/
#   oq_stack_start        -> $TARGET, $APPID, $TOKEN; an EXIT trap stops the stack
#   step SECONDS CMD...   runs CMD with a time limit (the tests must end before ctest's TIMEOUT
#                         kills them, or the trap would not run and the stack would leak)
#
# Needs OQ_SOURCE_DIR and OQ_BUILD_DIR (the test's CMakeLists sets them). Nothing is built:
# orderqueryd, oqctl and payment-sandbox must be built already (they are ALL targets).
set -euo pipefail

: "${OQ_SOURCE_DIR:?OQ_SOURCE_DIR not set}"
: "${OQ_BUILD_DIR:?OQ_BUILD_DIR not set}"
OQ_SOURCE_DIR=$(cd "$OQ_SOURCE_DIR" && pwd)
OQ_BUILD_DIR=$(cd "$OQ_BUILD_DIR" && pwd)
export PY=/usr/bin/python3  # Debian's, with python3-grpcio and python3-protobuf
WORK=""
OQ_DEMO_DIR_USED=""

fail() { echo "FAIL: $*" >&2; exit 1; }
step() { local secs=$1; shift; timeout --kill-after=5 "$secs" "$@"; }

oq_work() {
  mkdir -p "$OQ_BUILD_DIR/tests/e2e"
  WORK=$(mktemp -d "$OQ_BUILD_DIR/tests/e2e/$1.XXXXXX")
  trap oq_cleanup EXIT
  trap 'exit 143' TERM INT HUP
}

oq_cleanup() {
  local rc=$?
  set +e
  if [ -n "$OQ_DEMO_DIR_USED" ]; then
    if [ $rc -ne 0 ] && [ -f "$OQ_DEMO_DIR_USED/orderqueryd.log" ]; then
      echo "---- orderqueryd.log (last 40 lines)" >&2
      tail -n 40 "$OQ_DEMO_DIR_USED/orderqueryd.log" >&2
    fi
    OQ_DEMO_DIR="$OQ_DEMO_DIR_USED" timeout 60 bash "$OQ_SOURCE_DIR/scripts/demo" --stop >/dev/null 2>&1
  fi
  # Keep the work directory of a failed run for a look; a passing run leaves nothing behind.
  if [ $rc -eq 0 ] && [ -n "$WORK" ]; then rm -rf "$WORK"; fi
  [ $rc -eq 0 ] || echo "(work directory kept: $WORK)" >&2
  exit $rc
}

oq_stack_start() {
  [ -n "$WORK" ] || fail "oq_work first"
  # scripts/demo finds the build as build/$OQ_PRESET under the source tree.
  local preset
  preset=$(realpath -m --relative-to="$OQ_SOURCE_DIR/build" "$OQ_BUILD_DIR")
  OQ_DEMO_DIR_USED="$WORK/demo"
  # OQ_DEMO_AUTH=off: these clients test the generated stubs, and send no API key.
  if ! OQ_DEMO_DIR="$OQ_DEMO_DIR_USED" OQ_DEMO_SKIP_BUILD=1 OQ_PRESET="$preset" OQ_DEMO_AUTH=off \
       step 120 bash "$OQ_SOURCE_DIR/scripts/demo" --keep >"$WORK/demo.out" 2>&1; then
    cat "$WORK/demo.out" >&2
    fail "the demo stack did not start"
  fi
  # shellcheck disable=SC1091
  . "$OQ_DEMO_DIR_USED/sample.env"
  if [ -z "${TARGET:-}" ] || [ -z "${TOKEN:-}" ]; then fail "no sample.env from scripts/demo"; fi
  case "$TARGET" in 127.0.0.1:*) ;; *) fail "demo target $TARGET is not loopback" ;; esac
  echo "stack: orderqueryd on $TARGET"
}
