package main

// Prometheus metrics (issue 14), served on the admin listener (admin.listen) only, in the text
// exposition format 0.0.4. Names and labels are those of helm/orderquery/README.md's table.
// The route label is the route's template (or /healthz, /openapi.json, "-" for no route),
// never the raw path, so that callers cannot grow the label set.

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/expfmt"
)

// latencyBuckets are orderqueryd's (server/common/metrics.cc LatencyBuckets), so that both
// sides of a call can be read on the same scale.
var latencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Metrics holds the gateway's collectors in a registry of its own.
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// NewMetrics registers the request counter, the latency histogram and the Go runtime and
// process collectors.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orderquery_gateway_requests_total",
			Help: "Gateway requests by listener, route template and HTTP status.",
		}, []string{"listener", "route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "orderquery_gateway_latency_seconds",
			Help:    "Gateway request latency (first byte read to handler return) by listener and route template.",
			Buckets: latencyBuckets,
		}, []string{"listener", "route"}),
	}
	m.reg.MustRegister(m.requests, m.latency,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Observe counts one finished request.
func (m *Metrics) Observe(listener, route string, code int, d time.Duration) {
	m.requests.WithLabelValues(listener, route, strconv.Itoa(code)).Inc()
	m.latency.WithLabelValues(listener, route).Observe(d.Seconds())
}

// ServeHTTP answers GET /metrics in text format 0.0.4 whatever the Accept header asks: the
// protobuf format would go through golang/protobuf 1.3, which predates client_model's messages.
func (m *Metrics) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/metrics" {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "use GET", http.StatusMethodNotAllowed)
		return
	}
	mfs, err := m.reg.Gather()
	if err != nil && len(mfs) == 0 {
		http.Error(w, "gather: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", string(expfmt.FmtText))
	w.Header().Set("Cache-Control", "no-store")
	if r.Method == http.MethodHead {
		return
	}
	enc := expfmt.NewEncoder(w, expfmt.FmtText)
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return // the scraper went away
		}
	}
}
