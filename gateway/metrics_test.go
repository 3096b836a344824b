package main

import (
	"math"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	oq "orderquery/gen/go/orderquery/v1"
)

// scrape serves GET /metrics and parses the answer with the text-format parser.
func scrape(t *testing.T, m *Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	w := httptest.NewRecorder()
	m.ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	if w.Code != 200 || w.Header().Get("Content-Type") != "text/plain; version=0.0.4; charset=utf-8" {
		t.Fatalf("scrape: %d %q", w.Code, w.Header().Get("Content-Type"))
	}
	var p expfmt.TextParser
	mfs, err := p.TextToMetricFamilies(strings.NewReader(w.Body.String()))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, w.Body)
	}
	return mfs
}

func labelsOf(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, lp := range m.GetLabel() {
		out[lp.GetName()] = lp.GetValue()
	}
	return out
}

// counts maps "listener route code" to the counter's value.
func counts(mfs map[string]*dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	mf := mfs["orderquery_gateway_requests_total"]
	for _, m := range mf.GetMetric() {
		l := labelsOf(m)
		out[l["listener"]+" "+l["route"]+" "+l["code"]] = m.GetCounter().GetValue()
	}
	return out
}

func TestMetricsCountRouteTemplatesAndCodes(t *testing.T) {
	up := &fakeUpstream{reply: &oq.VehicleTransaction{OutTradeNo: "N1"}}
	g := newTestGateway(t, up)
	g.metrics = NewMetrics()
	pub, internal := g.Handler("public", false), g.Handler("internal", true)

	for _, n := range []string{"N1", "N2", "N3"} {
		if w, _ := do(internal, "GET", "/v3/vehicle/transactions/out-trade-no/"+n+"?sub_mchid=1", "", nil); w.Code != 200 {
			t.Fatalf("vehicle %s: %d %s", n, w.Code, w.Body)
		}
	}
	do(internal, "POST", "/v3/vehicle/transactions/out-trade-no/N4", "", nil) // 405
	do(pub, "GET", "/nope/1", "", nil)                                        // 404, no route
	do(pub, "GET", "/nope/2", "", nil)
	do(pub, "GET", "/v3/vehicle/transactions/out-trade-no/N1", "", nil) // internal only: 404 on public
	do(internal, "GET", "/openapi.json", "", nil)

	mfs := scrape(t, g.metrics)
	vehicle := "/v3/vehicle/transactions/out-trade-no/{out_trade_no}"
	want := map[string]float64{
		"internal " + vehicle + " 200": 3,
		"internal " + vehicle + " 405": 1,
		"public - 404":                 3,
		"internal /openapi.json 200":   1,
	}
	got := counts(mfs)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("requests_total{%s} = %v, want %v", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("series %v, want exactly %v", got, want)
	}
	for k := range got {
		if strings.Contains(k, "N1") || strings.Contains(k, "nope") {
			t.Errorf("raw path in a route label: %q", k)
		}
	}

	lat := mfs["orderquery_gateway_latency_seconds"]
	if lat.GetType() != dto.MetricType_HISTOGRAM {
		t.Fatalf("latency type %v", lat.GetType())
	}
	found := false
	for _, m := range lat.GetMetric() {
		l := labelsOf(m)
		if l["listener"] != "internal" || l["route"] != vehicle {
			continue
		}
		found = true
		h := m.GetHistogram()
		if h.GetSampleCount() != 4 {
			t.Errorf("latency count %d, want 4", h.GetSampleCount())
		}
		b := h.GetBucket() // the parser keeps the +Inf bucket
		if len(b) != len(latencyBuckets)+1 || !math.IsInf(b[len(b)-1].GetUpperBound(), 1) || b[len(b)-1].GetCumulativeCount() != 4 {
			t.Fatalf("%d buckets, want %d and +Inf holding all 4", len(b), len(latencyBuckets))
		}
		for i, bk := range b[:len(latencyBuckets)] {
			if bk.GetUpperBound() != latencyBuckets[i] {
				t.Errorf("bucket %d: le=%v, want %v", i, bk.GetUpperBound(), latencyBuckets[i])
			}
			if i > 0 && bk.GetCumulativeCount() < b[i-1].GetCumulativeCount() {
				t.Errorf("bucket %d not cumulative", i)
			}
		}
	}
	if !found {
		t.Fatalf("no latency series for internal %s", vehicle)
	}
	if _, ok := mfs["go_goroutines"]; !ok {
		t.Errorf("no Go runtime metrics")
	}
}

func TestMetricsHistogramBuckets(t *testing.T) {
	m := NewMetrics()
	for _, d := range []time.Duration{500 * time.Microsecond, 3 * time.Millisecond, 3 * time.Millisecond, 2 * time.Second, 30 * time.Second} {
		m.Observe("public", "/x", 200, d)
	}
	mfs := scrape(t, m)
	h := mfs["orderquery_gateway_latency_seconds"].GetMetric()[0].GetHistogram()
	le := map[float64]uint64{}
	for _, b := range h.GetBucket() {
		le[b.GetUpperBound()] = b.GetCumulativeCount()
	}
	for bound, want := range map[float64]uint64{0.001: 1, 0.0025: 1, 0.005: 3, 1: 3, 2.5: 4, 10: 4} {
		if le[bound] != want {
			t.Errorf("le=%v: %d, want %d", bound, le[bound], want)
		}
	}
	if h.GetSampleCount() != 5 || h.GetSampleSum() < 32 || h.GetSampleSum() > 32.01 {
		t.Errorf("count %d sum %v", h.GetSampleCount(), h.GetSampleSum())
	}
}

func TestMetricsEndpointOnlyServesGetMetrics(t *testing.T) {
	m := NewMetrics()
	for _, c := range []struct {
		method, path string
		code         int
	}{{"GET", "/", 404}, {"GET", "/metricsx", 404}, {"POST", "/metrics", 405}, {"HEAD", "/metrics", 200}} {
		w := httptest.NewRecorder()
		m.ServeHTTP(w, httptest.NewRequest(c.method, c.path, nil))
		if w.Code != c.code {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, w.Code, c.code)
		}
	}
}

func TestAdminListenConfig(t *testing.T) {
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	c, err := LoadConfig("", env(nil))
	if err != nil || c.AdminListen != "" {
		t.Fatalf("default: %q %v", c.AdminListen, err)
	}
	c, err = LoadConfig("", env(map[string]string{"GATEWAY_ADMIN_LISTEN": "127.0.0.1:0"}))
	if err != nil || c.AdminListen != "127.0.0.1:0" {
		t.Fatalf("env: %q %v", c.AdminListen, err)
	}
	for _, bad := range []string{"nope", "127.0.0.1:70000", "127.0.0.1:8081"} {
		_, err := LoadConfig("", env(map[string]string{"GATEWAY_ADMIN_LISTEN": bad}))
		if err == nil || !strings.Contains(err.Error(), "admin.listen (GATEWAY_ADMIN_LISTEN)") {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if !strings.Contains(usage(), "admin.listen (GATEWAY_ADMIN_LISTEN") {
		t.Errorf("--help does not list admin.listen")
	}
}
