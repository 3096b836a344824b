package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang/protobuf/proto"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	oq "orderquery/gen/go/orderquery/v1"
)

// fakeUpstream plays orderqueryd in-process: it records the call and answers with a canned
// reply or status.
type fakeUpstream struct {
	mu       sync.Mutex
	method   string
	md       metadata.MD
	req      proto.Message
	deadline time.Duration
	reply    proto.Message
	err      error
}

func (f *fakeUpstream) Invoke(ctx context.Context, method string, args, reply interface{}, _ ...grpc.CallOption) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ri := infoFrom(ctx); ri != nil {
		ri.called = 1
	}
	f.method = method
	f.md, _ = metadata.FromOutgoingContext(ctx)
	f.req = proto.Clone(args.(proto.Message))
	if d, ok := ctx.Deadline(); ok {
		f.deadline = time.Until(d)
	}
	if f.err != nil {
		return f.err
	}
	if f.reply != nil && proto.MessageName(f.reply) == proto.MessageName(reply.(proto.Message)) {
		proto.Merge(reply.(proto.Message), f.reply)
	}
	return nil
}

func (f *fakeUpstream) NewStream(context.Context, *grpc.StreamDesc, string, ...grpc.CallOption) (grpc.ClientStream, error) {
	return nil, status.Error(codes.Unimplemented, "no streams")
}

func newTestGateway(t *testing.T, up *fakeUpstream) *Gateway {
	t.Helper()
	cfg, err := LoadConfig("", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxBodyBytes = 64
	cfg.AccessLog = false
	g, err := NewGateway(cfg, up, []byte(`{"swagger":"2.0"}`), &Logger{w: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func do(h http.Handler, method, target, body string, hdr map[string]string) (*httptest.ResponseRecorder, map[string]interface{}) {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var m map[string]interface{}
	json.Unmarshal(w.Body.Bytes(), &m)
	return w, m
}

func TestPublicListenerServesSeed000AndHealthOnly(t *testing.T) {
	up := &fakeUpstream{reply: &oq.VehicleTransaction{OutTradeNo: "N1"}}
	g := newTestGateway(t, up)
	pub, internal := g.Handler("public", false), g.Handler("internal", true)
	for _, target := range []string{"/v3/vehicle/transactions/out-trade-no/N1?sub_mchid=1", "/api/trade_order/get?tradeOrderId=E1",
		"/openapi.json", "/nope", "/app/app/recharge/queryOrder/../../../v3/vehicle/transactions/out-trade-no/N1",
		"//v3/vehicle/transactions/out-trade-no/N1", "/app/app/recharge/queryOrder:get"} {
		w, m := do(pub, "GET", target, "", nil)
		if w.Code != 404 || m["code"] != float64(4041) || up.method != "" {
			t.Errorf("public %s: %d %s (upstream called: %q)", target, w.Code, w.Body, up.method)
		}
	}
	w, m := do(internal, "GET", "/v3/vehicle/transactions/out-trade-no/N1?sub_mchid=1900000109", "", nil)
	if w.Code != 200 || m["out_trade_no"] != "N1" || up.method != "/orderquery.v1.OrderQueryService/GetVehicleTransaction" {
		t.Fatalf("internal vehicle: %d %s %q", w.Code, w.Body, up.method)
	}
	if got := up.req.(*oq.GetVehicleTransactionRequest); got.SubMchid != "1900000109" || got.OutTradeNo != "N1" {
		t.Fatalf("request: %+v", got)
	}
	if w, _ := do(internal, "GET", "/openapi.json", "", nil); w.Code != 200 || !strings.Contains(w.Body.String(), "swagger") {
		t.Fatalf("openapi: %d %s", w.Code, w.Body)
	}
}

func TestHeadersAndQueryTokenBecomeMetadataAndNothingElse(t *testing.T) {
	up := &fakeUpstream{reply: &oq.QueryRechargeOrderResponse{Code: 2042, Msg: "订单未支付"}}
	g := newTestGateway(t, up)
	h := g.Handler("public", false)
	w, _ := do(h, "POST", "/app/app/recharge/queryOrder?token=qtok", `{"orderNo":"R1"}`,
		map[string]string{"appid": "wxA", "Cookie": "c=1", "Authorization": "Bearer x", "Content-Type": "application/json; charset=utf-8"})
	if w.Code != 200 || w.Body.String() != `{"code":2042,"msg":"订单未支付","data":null}` {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if got := up.md.Get("appid"); len(got) != 1 || got[0] != "wxA" {
		t.Errorf("appid metadata: %v", got)
	}
	if got := up.md.Get("token"); len(got) != 1 || got[0] != "qtok" {
		t.Errorf("token metadata from the query: %v", got)
	}
	for _, k := range []string{"cookie", "grpcgateway-cookie", "authorization"} {
		if len(up.md.Get(k)) != 0 {
			t.Errorf("%s forwarded: %v", k, up.md)
		}
	}
	// A header token wins over the query's.
	do(h, "POST", "/app/app/recharge/queryOrder?token=qtok", `{"orderNo":"R1"}`, map[string]string{"appid": "wxA", "token": "htok"})
	if got := up.md.Get("token"); len(got) != 1 || got[0] != "htok" {
		t.Errorf("token metadata from the header: %v", got)
	}
	if up.deadline <= 0 || up.deadline > 5*time.Second {
		t.Errorf("deadline %v, want the 5 s request timeout", up.deadline)
	}
}

func TestSeed001AnswersGetAndPostWithJSONOrForm(t *testing.T) {
	up := &fakeUpstream{reply: &oq.GetTradeOrderResponse{Msg: "success"}}
	g := newTestGateway(t, up)
	h := g.Handler("internal", true)
	for _, c := range []struct{ method, target, body, ctype string }{
		{"GET", "/api/trade_order/get?tradeOrderId=E1", "", ""},
		{"POST", "/api/trade_order/get", `{"tradeOrderId":"E1"}`, "application/json"},
		{"POST", "/api/trade_order/get", "tradeOrderId=E1", "application/x-www-form-urlencoded"},
	} {
		up.req = nil
		w, m := do(h, c.method, c.target, c.body, map[string]string{"Content-Type": c.ctype})
		if w.Code != 200 || m["msg"] != "success" {
			t.Errorf("%s %s: %d %s", c.method, c.ctype, w.Code, w.Body)
			continue
		}
		if r, ok := up.req.(*oq.GetTradeOrderRequest); !ok || r.TradeOrderId != "E1" {
			t.Errorf("%s %s: request %v", c.method, c.ctype, up.req)
		}
	}
	if w, _ := do(h, "PUT", "/api/trade_order/get", "", nil); w.Code != 405 || w.Header().Get("Allow") != "GET, POST" {
		t.Errorf("PUT: %d allow %q", w.Code, w.Header().Get("Allow"))
	}
}

func TestGrpcTimeoutOnlyOnTheInternalListenerAndCapped(t *testing.T) {
	up := &fakeUpstream{reply: &oq.GetTradeOrderResponse{Msg: "success"}}
	g := newTestGateway(t, up)
	do(g.Handler("internal", true), "GET", "/api/trade_order/get?tradeOrderId=E1", "", map[string]string{"Grpc-Timeout": "200m"})
	if up.deadline <= 0 || up.deadline > 200*time.Millisecond {
		t.Errorf("internal grpc-timeout 200m: deadline %v", up.deadline)
	}
	do(g.Handler("internal", true), "GET", "/api/trade_order/get?tradeOrderId=E1", "", map[string]string{"Grpc-Timeout": "10H"})
	if up.deadline <= 5*time.Second || up.deadline > 30*time.Second {
		t.Errorf("internal grpc-timeout 10H: deadline %v, want capped at 30 s", up.deadline)
	}
	w, m := do(g.Handler("internal", true), "GET", "/api/trade_order/get?tradeOrderId=E1", "", map[string]string{"Grpc-Timeout": "soon"})
	if w.Code != 400 || m["code"] != float64(4002) {
		t.Errorf("bad grpc-timeout: %d %s", w.Code, w.Body)
	}
	do(g.Handler("public", false), "POST", "/app/app/recharge/queryOrder", `{"orderNo":"R1"}`, map[string]string{"Grpc-Timeout": "10H"})
	if up.deadline > 5*time.Second {
		t.Errorf("public listener honoured grpc-timeout: %v", up.deadline)
	}
}

func TestFailuresInTheEnvelope(t *testing.T) {
	cases := []struct {
		err  error
		http int
		code float64
	}{
		{status.Error(codes.InvalidArgument, "order_no must be 1-32"), 400, 4000},
		{status.Error(codes.Unauthenticated, "unknown token"), 401, 4010},
		{status.Error(codes.NotFound, "no such order"), 404, 4040},
		{status.Error(codes.FailedPrecondition, "refused"), 412, 4120},
		{status.Error(codes.ResourceExhausted, "429"), 429, 4290},
		{status.Error(codes.Internal, "signature rejected"), 500, 5000},
		{status.Error(codes.Unavailable, "connection refused 10.0.0.1"), 503, 5030},
		{status.Error(codes.DeadlineExceeded, "late"), 504, 5040},
	}
	for _, c := range cases {
		up := &fakeUpstream{err: c.err}
		g := newTestGateway(t, up)
		w, m := do(g.Handler("public", false), "POST", "/app/app/recharge/queryOrder", `{"orderNo":"R1"}`, nil)
		if w.Code != c.http || m["code"] != c.code {
			t.Errorf("%v: got %d %s", c.err, w.Code, w.Body)
		}
		if v, ok := m["data"]; !ok || v != nil {
			t.Errorf("%v: data must be present and null: %s", c.err, w.Body)
		}
		msg, _ := m["msg"].(string)
		detail := status.Convert(c.err).Message()
		if c.http < 500 && c.http != 429 && !strings.Contains(msg, detail) {
			t.Errorf("%v: 4xx message should carry the service's detail: %q", c.err, msg)
		}
		if c.http >= 500 && strings.Contains(msg, detail) {
			t.Errorf("%v: 5xx message leaks the detail: %q", c.err, msg)
		}
	}
}

func TestFailuresInWechatShapeForSeed002(t *testing.T) {
	cases := []struct {
		err     error
		http    int
		code    string
		message string
	}{
		{status.Error(codes.InvalidArgument, "参数错误,请检查out_trade_no"), 400, "PARAM_ERROR", "参数错误,请检查out_trade_no"},
		{status.Error(codes.FailedPrecondition, "服务商和子商户没有绑定关系"), 400, "INVALID_REQUEST", "服务商和子商户没有绑定关系"},
		{status.Error(codes.NotFound, "订单不存在"), 404, "NOT_FOUND", "订单不存在"},
		{status.Error(codes.ResourceExhausted, "x"), 429, "RATELIMIT_EXCEEDED", "达到调用速率限制"},
		{status.Error(codes.Unavailable, "x"), 500, "SYSTEM_ERROR", "系统异常,请稍后重试"},
		{status.Error(codes.Internal, "x"), 500, "SYSTEM_ERROR", "系统异常,请稍后重试"},
	}
	for _, c := range cases {
		up := &fakeUpstream{err: c.err}
		g := newTestGateway(t, up)
		w, m := do(g.Handler("internal", true), "GET", "/v3/vehicle/transactions/out-trade-no/N1?sub_mchid=1", "", nil)
		if w.Code != c.http || m["code"] != c.code || m["message"] != c.message || len(m) != 2 {
			t.Errorf("%v: got %d %s", c.err, w.Code, w.Body)
		}
	}
}

func TestGatewayOwnFailures(t *testing.T) {
	up := &fakeUpstream{}
	g := newTestGateway(t, up)
	h := g.Handler("public", false)
	if w, m := do(h, "POST", "/app/app/recharge/queryOrder", strings.Repeat("x", 65), nil); w.Code != 413 || m["code"] != float64(4130) {
		t.Errorf("oversized: %d %s", w.Code, w.Body)
	}
	if w, m := do(h, "POST", "/app/app/recharge/queryOrder", `{"orderNo":`, nil); w.Code != 400 || m["code"] != float64(4001) ||
		!strings.Contains(m["msg"].(string), "JSON") {
		t.Errorf("malformed: %d %s", w.Code, w.Body)
	}
	if w, m := do(h, "GET", "/app/app/recharge/queryOrder", "", nil); w.Code != 405 || m["code"] != float64(4050) {
		t.Errorf("wrong method: %d %s", w.Code, w.Body)
	}
	if up.method != "" {
		t.Errorf("upstream called for a request the gateway refused: %s", up.method)
	}
}

func TestConfigFileEnvAndValidation(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "gw.json")
	os.WriteFile(file, []byte(`{"listen":"127.0.0.1:9000","upstream":{"target":"oq:50051"},"max_body_bytes":1024}`), 0o600)
	env := map[string]string{"GATEWAY_MAX_BODY_BYTES": "2048"}
	cfg, err := LoadConfig(file, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:9000" || cfg.UpstreamTarget != "oq:50051" || cfg.MaxBodyBytes != 2048 ||
		cfg.InternalListen != "127.0.0.1:8081" || cfg.RequestTimeout != 5*time.Second {
		t.Fatalf("%+v", cfg)
	}
	for content, want := range map[string]string{
		`{"listen":"nope"}`:                                  "listen (GATEWAY_LISTEN): must be HOST:PORT",
		`{"lisen":"127.0.0.1:1"}`:                            "unknown key lisen",
		`{"request_timeout_ms":0}`:                           "request_timeout_ms (GATEWAY_REQUEST_TIMEOUT_MS): must be between 1",
		`{"upstream":{"ca_file":"/x"}}`:                      "upstream.ca_file (GATEWAY_UPSTREAM_CA_FILE): needs upstream.tls true",
		`{"upstream":{"tls":true,"cert_file":"/x"}}`:         "go together",
		`{"upstream":{"tls":true,"ca_file":"/nonexistent"}}`: "cannot read /nonexistent",
		`[1]`: "not a JSON object",
	} {
		os.WriteFile(file, []byte(content), 0o600)
		_, err := LoadConfig(file, func(string) string { return "" })
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", content, err, want)
		}
	}
	if _, err := LoadConfig("", func(k string) string { return map[string]string{"GATEWAY_ACCESS_LOG": "maybe"}[k] }); err == nil ||
		!strings.Contains(err.Error(), "GATEWAY_ACCESS_LOG") {
		t.Errorf("bad env value: %v", err)
	}
}

func TestHelpListsEveryKeyWithItsVariable(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"--help"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d", code)
	}
	var c Config
	for _, k := range keys(&c) {
		if !strings.Contains(out.String(), envName(k.name)) {
			t.Errorf("--help lacks %s", envName(k.name))
		}
	}
	if code := run([]string{"--bogus"}, &out, &errOut); code != 64 {
		t.Errorf("unknown flag: exit %d", code)
	}
}

func TestOpenAPIDescribesWhatTheGatewaySends(t *testing.T) {
	raw, err := os.ReadFile("openapi.json") // protoc-gen-swagger's, copied here by build.sh
	if err != nil {
		t.Fatal(err)
	}
	b, err := AdjustOpenAPI(raw)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]interface{}
	json.Unmarshal(b, &doc)
	defs := asMap(doc["definitions"])
	prop := func(def, name string) map[string]interface{} {
		return asMap(asMap(asMap(defs[def])["properties"])[name])
	}
	for _, c := range []struct {
		def, prop, key string
		want           interface{}
	}{
		{"v1RechargeOrderData", "amount", "type", "integer"},
		{"v1RechargeOrderData", "orderNo", "type", "string"},
		{"v1QueryRechargeOrderResponse", "code", "type", "integer"},
		{"v1QueryRechargeOrderResponse", "data", "x-nullable", true},
		{"v1QueryRechargeOrderRequest", "orderNo", "type", "string"},
		{"v1TradeOrder", "channelUserId", "x-nullable", true},
		{"v1TradeOrder", "orderAmount", "type", "integer"},
		{"v1OrderAmount", "total", "type", "integer"},
		{"v1ParkingInfo", "plate_color", "$ref", "#/definitions/ParkingInfoPlateColor"},
	} {
		if got := prop(c.def, c.prop)[c.key]; got != c.want {
			t.Errorf("%s.%s %s = %v, want %v", c.def, c.prop, c.key, got, c.want)
		}
	}
	if prop("v1TradeOrder", "trade_order_id") != nil {
		t.Errorf("proto field names left in v1TradeOrder")
	}
	get := asMap(asMap(asMap(doc["paths"])["/api/trade_order/get"])["get"])
	found := false
	for _, p := range get["parameters"].([]interface{}) {
		if asMap(p)["name"] == "tradeOrderId" {
			found = true
		}
	}
	if !found {
		t.Errorf("seed 001's query parameter is not tradeOrderId: %v", get["parameters"])
	}
}

func TestOnlyTheInternalListenerSendsTheGatewaysAPIKey(t *testing.T) {
	up := &fakeUpstream{reply: &oq.QueryRechargeOrderResponse{Code: 2042, Msg: "订单未支付"}}
	g := newTestGateway(t, up)
	g.cfg.UpstreamAPIKey = "gw-key-0123456789abcdef"
	// Internal: the gateway's key, whatever the caller sent.
	for _, hdr := range []map[string]string{nil, {"x-api-key": "callers-own"}, {"Grpc-Metadata-X-Api-Key": "callers-own"}} {
		up.md = nil
		w, _ := do(g.Handler("internal", true), "GET", "/api/trade_order/get?tradeOrderId=E1", "", hdr)
		if w.Code != 200 {
			t.Fatalf("internal: %d %s", w.Code, w.Body)
		}
		if got := up.md.Get(apiKeyMetadata); len(got) != 1 || got[0] != "gw-key-0123456789abcdef" {
			t.Errorf("internal %v: x-api-key %v", hdr, got)
		}
	}
	// Public: never a key, not even one the caller sends.
	for _, hdr := range []map[string]string{{"appid": "wxA", "token": "t"}, {"appid": "wxA", "token": "t", "x-api-key": "callers-own"},
		{"appid": "wxA", "token": "t", "Grpc-Metadata-X-Api-Key": "callers-own"}} {
		up.md = nil
		w, _ := do(g.Handler("public", false), "POST", "/app/app/recharge/queryOrder", `{"orderNo":"R1"}`, hdr)
		if w.Code != 200 || up.method != "/orderquery.v1.OrderQueryService/QueryRechargeOrder" {
			t.Fatalf("public: %d %s", w.Code, w.Body)
		}
		if got := up.md.Get(apiKeyMetadata); len(got) != 0 {
			t.Errorf("public %v: x-api-key %v sent", hdr, got)
		}
	}
}

func TestAPIKeyFromAFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "key")
	if err := os.WriteFile(file, []byte("gw-key-from-file-01234\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"GATEWAY_UPSTREAM_API_KEY_FILE": file}
	cfg, err := LoadConfig("", func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("key file: %v", err)
	}
	if cfg.UpstreamAPIKey != "gw-key-from-file-01234" {
		t.Fatalf("key file: key %q", cfg.UpstreamAPIKey)
	}
	env["GATEWAY_UPSTREAM_API_KEY"] = "also-given"
	if _, err := LoadConfig("", func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "not both") {
		t.Errorf("key and key file: %v", err)
	}
	env = map[string]string{"GATEWAY_UPSTREAM_API_KEY_FILE": filepath.Join(dir, "missing")}
	if _, err := LoadConfig("", func(k string) string { return env[k] }); err == nil || strings.Contains(err.Error(), "gw-key") {
		t.Errorf("missing key file: %v", err)
	}
}
