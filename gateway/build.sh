#!/usr/bin/env bash
# Builds orderquery-gateway offline in GOPATH mode from Debian's Go packages (grpc-gateway
# 1.6.4, grpc-go, golang/protobuf 1.3) and the protos. Called by gateway/CMakeLists.txt; every
# generated file stays in OUT.
#
#   gateway/build.sh SRC OUT PROTOS GOOGLEAPIS [--test]
#
# OUT/gopath/src/orderquery/gen/go/orderquery/v1  protoc-gen-go (plugins=grpc) + protoc-gen-grpc-gateway
# OUT/gopath/src/orderquery/gateway               a copy of SRC/*.go and openapi.json (go:embed)
# OUT/openapi.raw.json                            protoc-gen-swagger, merged over the services
# OUT/openapi.json                                the same as the gateway serves it (its JSON shapes)
# OUT/orderquery-gateway                          the binary
# --test also runs the package's Go unit tests (go vet + go test).
set -euo pipefail
[ $# -ge 4 ] || { echo "usage: build.sh SRC OUT PROTOS GOOGLEAPIS [--test]" >&2; exit 64; }
SRC=$1 OUT=$2 PROTOS=$3 GOOGLEAPIS=$4
mode=${5:-build}

GOPATH_DIR="$OUT/gopath"
GEN="$GOPATH_DIR/src/orderquery/gen/go/orderquery/v1"
PKG="$GOPATH_DIR/src/orderquery/gateway"
export GO111MODULE=off GOPATH="$GOPATH_DIR:/usr/share/gocode"
if [ -z "${GOCACHE:-}" ] && [ -z "${HOME:-}" ] && [ -z "${XDG_CACHE_HOME:-}" ]; then
  export GOCACHE="$OUT/gocache"
fi

if [ "$mode" != "--test" ]; then
  rm -rf "$GEN" "$PKG"
  mkdir -p "$GEN" "$PKG"
  files=(orderquery/v1/recharge.proto orderquery/v1/vehicle.proto orderquery/v1/trade.proto
         orderquery/v1/service.proto)
  (cd "$PROTOS" && protoc -I. -I"$GOOGLEAPIS" --go_out=plugins=grpc:"$GOPATH_DIR/src" \
     --grpc-gateway_out=logtostderr=true:"$GOPATH_DIR/src" "${files[@]}")
  (cd "$PROTOS" && protoc -I. -I"$GOOGLEAPIS" \
     --swagger_out=logtostderr=true,allow_merge=true,merge_file_name=orderquery:"$OUT" "${files[@]}")
  mv "$OUT/orderquery.swagger.json" "$OUT/openapi.raw.json"
  cp "$SRC"/*.go "$PKG/"
  cp "$OUT/openapi.raw.json" "$PKG/openapi.json"
  (cd "$PKG" && go build -trimpath -o "$OUT/orderquery-gateway.tmp" .)
  "$OUT/orderquery-gateway.tmp" --print-openapi > "$OUT/openapi.json"
  mv "$OUT/orderquery-gateway.tmp" "$OUT/orderquery-gateway"
else
  cp "$SRC"/*.go "$PKG/"
  (cd "$PKG" && go vet . && go test -count=1 .)
fi
