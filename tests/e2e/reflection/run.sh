#!/usr/bin/env bash
# e2e: server reflection proven by an independent client. Installs the pinned npm packages
# (package-lock.json, `npm ci`; needs the npm registry) into the build tree and runs client.js
# against a demo stack; client.js has no .proto file and learns every type from the server.
# env: OQ_SOURCE_DIR, OQ_BUILD_DIR (see ../stubs/stack.sh).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=SCRIPTDIR/../stubs/stack.sh
. "$HERE/../stubs/stack.sh"

command -v node >/dev/null || fail "node not found (nodejs)"
command -v npm >/dev/null || fail "npm not found (nodejs)"
oq_work reflection
cp "$HERE/package.json" "$HERE/package-lock.json" "$HERE/client.js" "$WORK/"
# No install scripts: none of the pinned packages needs one to work.
(cd "$WORK" && step 180 npm ci --no-audit --no-fund --ignore-scripts --loglevel=error) ||
  fail "npm ci (is the npm registry reachable?)"
find "$WORK" -name '*.proto' -path '*orderquery*' | grep -q . && fail "a local orderquery .proto exists"
echo "reflection: node $(node --version), @grpc/grpc-js $(node -p 'require(process.argv[1]).version' "$WORK/node_modules/@grpc/grpc-js/package.json"), grpc-js-reflection-client $(node -p 'require(process.argv[1]).version' "$WORK/node_modules/grpc-js-reflection-client/package.json")"

oq_stack_start
(cd "$WORK" && step 60 node client.js "$TARGET") || fail "reflection client"
echo "PASS: reflection"
