#!/usr/bin/env bash
# The chart's CI check (ctest label "helm"): builds oqhelm (render/, Go + sprig from Debian,
# GOPATH mode, offline), installs the pinned npm validators (package-lock.json, `npm ci`, offline
# from the npm cache when it can), then validate.mjs renders and checks every value set.
# Ends with "N passed, M failed"; exit 1 on any failure.
# env: OQ_SOURCE_DIR (default: this checkout), OQ_WORK_DIR (default build/dev/tests/helm),
#      OQ_ORDERQUERYD, OQ_GATEWAY_BIN (optional: their --help gives the config keys to compare
#      with; without them the keys are read from server/config/config.cc and gateway/config.go).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=${OQ_SOURCE_DIR:-$(cd "$HERE/../.." && pwd)}
WORK=${OQ_WORK_DIR:-$SRC/build/dev/tests/helm}
ORDERQUERYD=${OQ_ORDERQUERYD:-$SRC/build/dev/server/orderqueryd}
GATEWAY=${OQ_GATEWAY_BIN:-$SRC/build/dev/gateway/orderquery-gateway}

# A prerequisite that fails is one failed check, so the closing line is always there.
setup_failed() { echo "FAIL setup: $*"; echo "0 passed, 1 failed"; exit 1; }

command -v go >/dev/null || setup_failed "go not found (golang-go)"
command -v node >/dev/null || setup_failed "node not found (nodejs)"
command -v npm >/dev/null || setup_failed "npm not found"
[ -d /usr/share/gocode/src/github.com/Masterminds/sprig ] ||
  setup_failed "sprig not found (golang-github-masterminds-sprig-dev; run scripts/bootstrap)"
mkdir -p "$WORK/gopath/src" "$WORK/npm" || setup_failed "cannot create $WORK"

# oqhelm: GOPATH mode against Debian's /usr/share/gocode, no module download.
ln -sfn "$HERE/render" "$WORK/gopath/src/oqhelm"
(cd "$WORK/gopath/src/oqhelm" &&
  GO111MODULE=off GOPATH="$WORK/gopath:/usr/share/gocode" GOCACHE="$WORK/gocache" GOFLAGS= \
    timeout 300 go build -o "$WORK/oqhelm" .) || setup_failed "go build oqhelm"
# Its own tests; the outcome is one of validate.mjs's checks.
if test_out=$(cd "$WORK/gopath/src/oqhelm" &&
  GO111MODULE=off GOPATH="$WORK/gopath:/usr/share/gocode" GOCACHE="$WORK/gocache" GOFLAGS= \
    timeout 300 go test . 2>&1); then
  export OQ_OQHELM_TESTS=ok
else
  echo "$test_out"
  export OQ_OQHELM_TESTS="go test failed: $(tail -n 3 <<<"$test_out" | tr '\n' ' ')"
fi

# Pinned validators; reinstalled only when package-lock.json changes.
cp "$HERE/package.json" "$HERE/package-lock.json" "$HERE/validate.mjs" "$WORK/npm/"
stamp="$WORK/npm/node_modules/.oq-lock-sha256"
want=$(sha256sum "$HERE/package-lock.json" | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  (cd "$WORK/npm" &&
    { timeout 120 npm ci --offline --no-audit --no-fund --ignore-scripts --loglevel=error 2>/dev/null ||
      timeout 300 npm ci --no-audit --no-fund --ignore-scripts --loglevel=error; }) ||
    setup_failed "npm ci in $WORK/npm (is the npm registry reachable?)"
  echo "$want" >"$stamp"
fi

cd "$WORK/npm" || setup_failed "cd $WORK/npm"
timeout 300 node validate.mjs "$WORK/oqhelm" "$SRC/helm/orderquery" "$HERE" "$ORDERQUERYD" "$GATEWAY" 2>&1 | tee "$WORK/last-run.log"
rc=${PIPESTATUS[0]}
# validate.mjs prints the closing line itself; if it died before that, say so in the same form.
if ! tail -n 1 "$WORK/last-run.log" | grep -Eq '^[0-9]+ passed, [0-9]+ failed$'; then
  echo "FAIL validate.mjs stopped early (exit $rc)"
  echo "0 passed, 1 failed"
  exit 1
fi
exit "$rc"
