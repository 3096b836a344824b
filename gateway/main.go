// Command orderquery-gateway serves orderqueryd's gRPC API as REST/JSON in the shapes of the
// three seed contracts (grpc-gateway v1 transcoding from the same protos), on a public listener
// (seed 000's route only) and an internal one (every route, the OpenAPI document).
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
)

// The OpenAPI (Swagger 2.0) document protoc-gen-swagger writes from the protos at build time;
// AdjustOpenAPI turns it into the document of what the gateway sends.
//
//go:embed openapi.json
var openapiRaw []byte

// Logger writes orderqueryd's log format: one line per event, ts=… level=… event=… key=value.
// Never a token or a header value. Lines are buffered and written at least every
// logFlushInterval (and at exit): one write per request was a tenth of the gateway's CPU.
type Logger struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
}

const (
	logFlushInterval = 200 * time.Millisecond
	logFlushBytes    = 32 << 10
)

func (l *Logger) line(level, event, rest string) {
	ts := time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	l.mu.Lock()
	l.buf = append(l.buf, "ts="...)
	l.buf = append(l.buf, ts...)
	l.buf = append(l.buf, " level="...)
	l.buf = append(l.buf, level...)
	l.buf = append(l.buf, " event="...)
	l.buf = append(l.buf, event...)
	l.buf = append(l.buf, rest...)
	l.buf = append(l.buf, '\n')
	if len(l.buf) >= logFlushBytes {
		l.flushLocked()
	}
	l.mu.Unlock()
}

func (l *Logger) flushLocked() {
	if len(l.buf) > 0 {
		l.w.Write(l.buf)
		l.buf = l.buf[:0]
	}
}

// Flush writes what is buffered.
func (l *Logger) Flush() {
	l.mu.Lock()
	l.flushLocked()
	l.mu.Unlock()
}

// FlushEvery flushes on a timer until stop is closed.
func (l *Logger) FlushEvery(d time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			l.Flush()
		case <-stop:
			l.Flush()
			return
		}
	}
}

// Info logs an event with preformatted key=value pairs.
func (l *Logger) Info(event, kv string) { l.line("info", event, kv) }

// Error logs an error event.
func (l *Logger) Error(event, kv string) { l.line("error", event, kv) }

// Access logs one request: method, route (the pattern, not the path), status, latency.
func (l *Logger) Access(listener, method, route string, status int, grpcCode string, d time.Duration, bytes int64, errMsg string) {
	if grpcCode == "" {
		grpcCode = "-"
	}
	level := "info"
	if status >= 500 {
		level = "warn"
	}
	rest := fmt.Sprintf(" listener=%s method=%s route=%s status=%d grpc=%s latency_ms=%.3f bytes=%d",
		listener, strconv.Quote(method), route, status, grpcCode, float64(d.Microseconds())/1000, bytes)
	if errMsg != "" {
		rest += " err=" + strconv.Quote(errMsg)
	}
	l.line(level, "http_request", rest)
}

// connPool spreads calls over several HTTP/2 connections (upstream.connections).
type connPool struct {
	conns []*grpc.ClientConn
	next  uint32
}

func (p *connPool) pick() *grpc.ClientConn {
	if len(p.conns) == 1 {
		return p.conns[0]
	}
	return p.conns[atomic.AddUint32(&p.next, 1)%uint32(len(p.conns))]
}

func (p *connPool) Invoke(ctx context.Context, method string, args, reply interface{}, opts ...grpc.CallOption) error {
	return p.pick().Invoke(ctx, method, args, reply, opts...)
}

func (p *connPool) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	return p.pick().NewStream(ctx, desc, method, opts...)
}

func dialUpstream(cfg *Config) (*connPool, error) {
	opts := []grpc.DialOption{
		grpc.WithUnaryInterceptor(MarkCalled),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 30 * time.Second, Timeout: 10 * time.Second}),
		grpc.WithUserAgent("orderquery-gateway"),
		// grpc-go's default reconnect backoff grows to 120 s: after a long orderqueryd outage
		// the gateway would keep answering 503 for up to two minutes after it is back.
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff: backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2,
				MaxDelay: cfg.MaxReconnectBackoff},
			MinConnectTimeout: cfg.RequestTimeout,
		}),
	}
	if cfg.UpstreamTLS {
		tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: cfg.UpstreamServerName}
		if cfg.UpstreamCAFile != "" {
			pem, err := os.ReadFile(cfg.UpstreamCAFile)
			if err != nil {
				return nil, fmt.Errorf("upstream.ca_file: %v", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("upstream.ca_file: no certificate in %s", cfg.UpstreamCAFile)
			}
			tc.RootCAs = pool
		}
		if cfg.UpstreamCertFile != "" {
			cert, err := tls.LoadX509KeyPair(cfg.UpstreamCertFile, cfg.UpstreamKeyFile)
			if err != nil {
				return nil, fmt.Errorf("upstream.cert_file/key_file: %v", err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		opts = append(opts, grpc.WithTransportCredentials(credentials.NewTLS(tc)))
	} else {
		opts = append(opts, grpc.WithInsecure())
	}
	p := &connPool{}
	for i := 0; i < cfg.UpstreamConnections; i++ {
		// Non-blocking: the gateway starts while orderqueryd is down, answers 503 and says so
		// on /healthz, and connects once it is up.
		cc, err := grpc.Dial(cfg.UpstreamTarget, opts...)
		if err != nil {
			return nil, fmt.Errorf("upstream.target %s: %v", cfg.UpstreamTarget, err)
		}
		p.conns = append(p.conns, cc)
	}
	return p, nil
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("orderquery-gateway", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", os.Getenv("GATEWAY_CONFIG"), "JSON configuration file")
	help := fs.Bool("help", false, "print the configuration keys and exit")
	printOpenAPI := fs.Bool("print-openapi", false, "print the OpenAPI document the internal listener serves and exit")
	fs.Usage = func() { fmt.Fprint(stderr, usage()) }
	if err := fs.Parse(args); err != nil {
		return 64
	}
	if *help {
		fmt.Fprint(stdout, usage())
		return 0
	}
	openapiDoc, err := AdjustOpenAPI(openapiRaw)
	if err != nil {
		fmt.Fprintf(stderr, "orderquery-gateway: %v\n", err)
		return 1
	}
	if *printOpenAPI {
		stdout.Write(openapiDoc)
		fmt.Fprintln(stdout)
		return 0
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "orderquery-gateway: unexpected argument %q (see --help)\n", fs.Arg(0))
		return 64
	}
	cfg, err := LoadConfig(*configPath, os.Getenv)
	if err != nil {
		fmt.Fprintf(stderr, "orderquery-gateway: config: %v\n", err)
		return 2
	}
	if os.Getenv("GOGC") == "" {
		// The live heap is tiny (a few MiB), so the default GOGC=100 collects very often under
		// load; 400 trades a few MiB for a fraction of the GC CPU. GOGC overrides it.
		debug.SetGCPercent(400)
	}
	log := &Logger{w: stderr}
	stopFlush := make(chan struct{})
	go log.FlushEvery(logFlushInterval, stopFlush)
	defer func() { close(stopFlush); log.Flush() }()
	pool, err := dialUpstream(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "orderquery-gateway: config: %v\n", err)
		return 2
	}
	defer func() {
		for _, c := range pool.conns {
			c.Close()
		}
	}()
	gw, err := NewGateway(cfg, pool, openapiDoc, log)
	if err != nil {
		fmt.Fprintf(stderr, "orderquery-gateway: %v\n", err)
		return 1
	}

	type listener struct {
		name    string
		addr    string
		handler http.Handler
		ln      net.Listener
		srv     *http.Server
	}
	ls := []*listener{{name: "public", addr: cfg.Listen}, {name: "internal", addr: cfg.InternalListen}}
	ls[0].handler = gw.Handler(ls[0].name, false)
	ls[1].handler = gw.Handler(ls[1].name, true)
	if cfg.AdminListen != "" {
		gw.metrics = NewMetrics()
		ls = append(ls, &listener{name: "admin", addr: cfg.AdminListen, handler: gw.metrics})
	}
	for _, l := range ls {
		l.ln, err = net.Listen("tcp", l.addr)
		if err != nil {
			fmt.Fprintf(stderr, "orderquery-gateway: cannot listen on %s (%s): %v\n", l.addr, l.name, err)
			return 1
		}
		l.srv = &http.Server{
			Handler:           l.handler,
			ReadHeaderTimeout: cfg.ReadHeaderTimeout,
			ReadTimeout:       cfg.ReadTimeout,
			IdleTimeout:       cfg.IdleTimeout,
			MaxHeaderBytes:    64 << 10,
		}
	}
	errs := make(chan error, len(ls))
	for _, l := range ls {
		go func(l *listener) { errs <- l.srv.Serve(l.ln) }(l)
	}
	admin := "-"
	if len(ls) > 2 {
		admin = ls[2].ln.Addr().String()
	}
	log.Info("start", fmt.Sprintf(" listen=%s internal_listen=%s admin_listen=%s upstream=%s upstream_tls=%t upstream_api_key=%t",
		ls[0].ln.Addr(), ls[1].ln.Addr(), admin, cfg.UpstreamTarget, cfg.UpstreamTLS, cfg.UpstreamAPIKey != ""))
	log.Flush()
	fmt.Fprintf(stdout, "gateway listening on %s\n", ls[0].ln.Addr())
	fmt.Fprintf(stdout, "gateway internal listening on %s\n", ls[1].ln.Addr())
	if len(ls) > 2 {
		fmt.Fprintf(stdout, "gateway metrics on http://%s/metrics\n", ls[2].ln.Addr())
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	code := 0
	select {
	case s := <-sig:
		log.Info("shutdown", " signal="+s.String())
	case err := <-errs:
		if !errors.Is(err, http.ErrServerClosed) {
			log.Error("serve_failed", " err="+strconv.Quote(err.Error()))
			code = 1
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
	defer cancel()
	for _, l := range ls {
		if err := l.srv.Shutdown(ctx); err != nil {
			log.Error("shutdown_incomplete", " listener="+l.name+" err="+strconv.Quote(err.Error()))
		}
	}
	log.Info("stopped", "")
	return code
}
