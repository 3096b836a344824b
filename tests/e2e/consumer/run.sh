#!/usr/bin/env bash
# e2e: another team's project builds against the install tree and talks to orderqueryd.
#
# 1. `cmake --install` this build into a temporary prefix (nothing is rebuilt);
# 2. configure and build examples/consumer with find_package(orderquery CONFIG REQUIRED) from
#    that prefix only;
# 3. start a demo stack and run the consumer: health SERVING, DEMO0001PAID code 0 / 1000 fen;
#    with a wrong token it must fail (exit 1, UNAUTHENTICATED).
# env: OQ_SOURCE_DIR, OQ_BUILD_DIR (see ../stubs/stack.sh); OQ_CONSUMER_CMAKE_ARGS (extra
# configure arguments, ;-separated: compiler, build type, sanitizer flags of the main build).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=SCRIPTDIR/../stubs/stack.sh
. "$HERE/../stubs/stack.sh"

oq_work consumer
PREFIX="$WORK/prefix"
step 60 cmake --install "$OQ_BUILD_DIR" --prefix "$PREFIX" >"$WORK/install.log" ||
  { cat "$WORK/install.log"; fail "cmake --install"; }
for f in lib/cmake/orderquery/orderqueryConfig.cmake include/orderquery/client/orderquery_client.h \
         include/orderquery/orderquery/v1/service.grpc.pb.h share/orderquery/orderquery.protoset \
         share/orderquery/protos/orderquery/v1/service.proto share/orderquery/protos/google/api/annotations.proto \
         bin/oqctl bin/orderqueryd; do
  [ -e "$PREFIX/$f" ] || fail "install tree lacks $f (is cmake/install.cmake included by the top CMakeLists?)"
done
echo "consumer: installed into $PREFIX"

IFS=';' read -r -a extra <<<"${OQ_CONSUMER_CMAKE_ARGS:-}"
step 60 cmake -S "$OQ_SOURCE_DIR/examples/consumer" -B "$WORK/consumer" -G Ninja \
  -DCMAKE_PREFIX_PATH="$PREFIX" -DCMAKE_FIND_PACKAGE_PREFER_CONFIG=ON "${extra[@]}" \
  >"$WORK/configure.log" 2>&1 || { cat "$WORK/configure.log"; fail "consumer configure"; }
# The package, not the source tree, must have provided the client.
grep -q "orderquery_DIR:PATH=$PREFIX/lib/cmake/orderquery" "$WORK/consumer/CMakeCache.txt" ||
  fail "consumer did not find orderquery in $PREFIX"
step 240 cmake --build "$WORK/consumer" -j 2 >"$WORK/build.log" 2>&1 ||
  { cat "$WORK/build.log"; fail "consumer build"; }
# Headers and libraries come from the prefix only, never from this source or build tree.
flags=$(grep -E '^ +(INCLUDES|LINK_LIBRARIES) = ' "$WORK/consumer/build.ninja" | sed "s|$PREFIX||g")
if grep -qF -e "$OQ_SOURCE_DIR" -e "$OQ_BUILD_DIR" <<<"$flags"; then
  echo "$flags"; fail "consumer build used the source or build tree"
fi
echo "consumer: built against the install tree"

oq_stack_start
CONSUMER="$WORK/consumer/orderquery-consumer"
rc=0
out=$(step 30 "$CONSUMER" --target "$TARGET" --appid "$APPID" --token "$TOKEN" --order-no DEMO0001PAID) || rc=$?
[ $rc -eq 0 ] || { echo "$out"; fail "consumer exited $rc"; }
echo "$out"
grep -qx "health: SERVING" <<<"$out" || fail "no 'health: SERVING'"
grep -q "^recharge: code=0 (RECHARGE_RESULT_CODE_SUCCESS) .*order_no=DEMO0001PAID amount=1000 " <<<"$out" ||
  fail "DEMO0001PAID did not answer code 0 with 1000 fen"

rc=0
err=$(step 30 "$CONSUMER" --target "$TARGET" --appid "$APPID" --token wrong-token --order-no DEMO0001PAID 2>&1) || rc=$?
if [ $rc -ne 1 ] || ! grep -q "recharge failed: UNAUTHENTICATED" <<<"$err"; then
  echo "$err"; fail "a wrong token should fail with UNAUTHENTICATED (exit $rc)"
fi
echo "consumer: wrong token -> UNAUTHENTICATED, exit 1"

# The installed oqctl runs from the prefix (RPATH finds liboq_proto.so there).
step 30 "$PREFIX/bin/oqctl" --target "$TARGET" health | grep -qx SERVING || fail "installed oqctl health"
echo "PASS: consumer"
