package main

// The HTTP side: two listeners over one set of transcoding muxes. Routing happens here, before
// grpc-gateway's mux, so that the public listener serves exactly seed 000's route and /healthz
// and nothing else, whatever the protos annotate.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	oq "orderquery/gen/go/orderquery/v1"
)

// Gateway holds what both listeners share.
type Gateway struct {
	cfg       *Config
	upstream  grpc.ClientConnInterface
	health    healthpb.HealthClient
	contracts []*Contract
	muxes     map[*Contract]*runtime.ServeMux
	openapi   []byte
	log       *Logger
	metrics   *Metrics // nil while admin.listen is empty
}

type ctxKey struct{}

// reqInfo travels in the request's context from the router to the error handlers, the
// upstream interceptor and the access log.
type reqInfo struct {
	contract *Contract
	called   int32 // set by the interceptor once the call to orderqueryd starts
	grpcCode string
	errMsg   string
	apiKey   string // the gateway's own key, set for internal-listener requests only
}

// apiKeyMetadata is how orderqueryd takes a caller's API key.
const apiKeyMetadata = "x-api-key"

// identified is the upstream as the muxes see it: every call carries the gateway's own API key
// when it serves the internal listener, and never a key of anybody else's.
type identified struct{ grpc.ClientConnInterface }

func withIdentity(ctx context.Context) context.Context {
	md, _ := metadata.FromOutgoingContext(ctx)
	md = md.Copy()
	delete(md, apiKeyMetadata)
	if ri := infoFrom(ctx); ri != nil && ri.apiKey != "" {
		md[apiKeyMetadata] = []string{ri.apiKey}
	}
	return metadata.NewOutgoingContext(ctx, md)
}

func (c identified) Invoke(ctx context.Context, method string, args, reply interface{}, opts ...grpc.CallOption) error {
	return c.ClientConnInterface.Invoke(withIdentity(ctx), method, args, reply, opts...)
}

func (c identified) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	return c.ClientConnInterface.NewStream(withIdentity(ctx), desc, method, opts...)
}

func infoFrom(ctx context.Context) *reqInfo {
	if ri, ok := ctx.Value(ctxKey{}).(*reqInfo); ok {
		return ri
	}
	return nil
}

// MarkCalled is a unary client interceptor: it tells the error handler that a failure came
// from (or on the way to) orderqueryd rather than from reading the request.
func MarkCalled(ctx context.Context, method string, req, reply interface{}, cc *grpc.ClientConn,
	invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if ri := infoFrom(ctx); ri != nil {
		atomic.StoreInt32(&ri.called, 1)
	}
	return invoker(ctx, method, req, reply, cc, opts...)
}

// NewGateway builds the muxes for every contract on one upstream connection (pool).
func NewGateway(cfg *Config, upstream grpc.ClientConnInterface, openapi []byte, log *Logger) (*Gateway, error) {
	g := &Gateway{cfg: cfg, upstream: upstream, health: healthpb.NewHealthClient(upstream),
		contracts: Contracts(), muxes: map[*Contract]*runtime.ServeMux{}, openapi: openapi, log: log}
	// grpc-gateway v1 keeps its error handlers in package variables; the contract of the
	// request (in its context) picks the shape.
	runtime.HTTPError = g.httpError
	runtime.OtherErrorHandler = g.otherError
	for _, c := range g.contracts {
		m := NewMarshaler(c.Style)
		opts := []runtime.ServeMuxOption{
			runtime.WithMarshalerOption(runtime.MIMEWildcard, m),
			runtime.WithMarshalerOption("application/x-www-form-urlencoded", formMarshaler(m)),
			runtime.WithIncomingHeaderMatcher(headerToMetadata),
			runtime.WithOutgoingHeaderMatcher(func(string) (string, bool) { return "", false }),
			runtime.WithMetadata(tokenFromQuery),
		}
		mux := runtime.NewServeMux(opts...)
		ctx := context.Background()
		var err error
		if c.Name == "seed001" {
			err = oq.RegisterTradeOrderServiceHandlerClient(ctx, mux, oq.NewTradeOrderServiceClient(identified{upstream}))
		} else {
			err = oq.RegisterOrderQueryServiceHandlerClient(ctx, mux, oq.NewOrderQueryServiceClient(identified{upstream}))
		}
		if err != nil {
			return nil, err
		}
		g.muxes[c] = mux
	}
	return g, nil
}

// headerToMetadata passes seed 000's two headers and no other header: no cookie, no
// Authorization, nothing a caller might expect to stay at the edge. (grpc-gateway itself adds
// x-forwarded-for and x-forwarded-host.)
func headerToMetadata(key string) (string, bool) {
	switch strings.ToLower(key) {
	case "appid":
		return "appid", true
	case "token":
		return "token", true
	}
	return "", false
}

// tokenFromQuery: seed 000 lets the token come as a parameter ("header或参数中传递"); a header
// wins. A token in the JSON or form body is the request's own token field, which orderqueryd
// prefers to the metadata.
func tokenFromQuery(_ context.Context, r *http.Request) metadata.MD {
	if r.Header.Get("token") != "" {
		return nil
	}
	if t := r.URL.Query().Get("token"); t != "" {
		return metadata.Pairs("token", t)
	}
	return nil
}

// Handler returns the listener's handler; internal listeners serve every route.
func (g *Gateway) Handler(listener string, internal bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rw := &recordingWriter{ResponseWriter: w}
		ri := &reqInfo{}
		if internal {
			ri.apiKey = g.cfg.UpstreamAPIKey
		}
		route := "-"
		defer func() {
			d := time.Since(start)
			if g.metrics != nil {
				g.metrics.Observe(listener, route, rw.status(), d)
			}
			if g.cfg.AccessLog {
				g.log.Access(listener, r.Method, route, rw.status(), ri.grpcCode, d, rw.bytes, ri.errMsg)
			}
		}()
		path := r.URL.Path
		switch {
		case path == "/healthz":
			route = path
			g.serveHealth(rw, r)
			return
		case internal && (path == "/openapi.json" || path == "/swagger.json"):
			route = path
			rw.Header().Set("Content-Type", "application/json")
			rw.Write(g.openapi)
			return
		}
		var c *Contract
		for _, cand := range g.contracts {
			if (internal || cand.Public) && cand.Match(path) {
				c = cand
				break
			}
		}
		if c == nil {
			// Internal routes on the public listener look exactly like unknown ones.
			g.writeFailure(rw, nil, gatewayFailures[errNoRoute], "no route", ri)
			return
		}
		route = c.Route
		ri.contract = c
		if !c.Allows(r.Method) {
			allow := strings.Join(c.Methods, ", ")
			rw.Header().Set("Allow", allow)
			g.writeFailure(rw, c, gatewayFailures[errMethod], "use "+allow, ri)
			return
		}
		// grpc-gateway forwards Authorization unconditionally; WeChat-style callers sign their
		// requests there, and orderqueryd has no use for it.
		r.Header.Del("Authorization")
		if !g.readBody(rw, r, c, ri) {
			return
		}
		timeout := g.cfg.RequestTimeout
		if tm := r.Header.Get("Grpc-Timeout"); tm != "" {
			r.Header.Del("Grpc-Timeout")
			if internal {
				d, err := parseGrpcTimeout(tm)
				if err != nil {
					g.writeFailure(rw, c, gatewayFailures[errBadGrpcTimout], err.Error(), ri)
					return
				}
				if d > g.cfg.MaxTimeout {
					d = g.cfg.MaxTimeout
				}
				timeout = d
			}
		}
		ctx, cancel := context.WithTimeout(context.WithValue(r.Context(), ctxKey{}, ri), timeout)
		defer cancel()
		g.muxes[c].ServeHTTP(rw, r.WithContext(ctx))
		if ri.grpcCode == "" && atomic.LoadInt32(&ri.called) == 1 {
			ri.grpcCode = codes.OK.String()
		}
	})
}

// readBody enforces the size limit (413) and normalises the media type so that grpc-gateway,
// which matches Content-Type exactly, finds the JSON or form decoder.
func (g *Gateway) readBody(w http.ResponseWriter, r *http.Request, c *Contract, ri *reqInfo) bool {
	max := g.cfg.MaxBodyBytes
	if r.ContentLength > max {
		g.writeFailure(w, c, gatewayFailures[errBodyTooLarge],
			fmt.Sprintf("body of %d bytes, at most %d", r.ContentLength, max), ri)
		return false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, max+1))
	if err != nil {
		g.writeFailure(w, c, gatewayFailures[errBadBody], "cannot read the request body", ri)
		return false
	}
	if int64(len(body)) > max {
		g.writeFailure(w, c, gatewayFailures[errBodyTooLarge], fmt.Sprintf("body over %d bytes", max), ri)
		return false
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err == nil {
			r.Header.Set("Content-Type", mt)
		}
	}
	return true
}

// parseGrpcTimeout reads gRPC's wire format: up to 8 digits and a unit (H M S m u n).
func parseGrpcTimeout(s string) (time.Duration, error) {
	bad := fmt.Errorf("grpc-timeout %q: want up to 8 digits and one of H M S m u n", s)
	if len(s) < 2 || len(s) > 9 {
		return 0, bad
	}
	n, err := strconv.ParseInt(s[:len(s)-1], 10, 64)
	if err != nil || n < 0 {
		return 0, bad
	}
	units := map[byte]time.Duration{'H': time.Hour, 'M': time.Minute, 'S': time.Second,
		'm': time.Millisecond, 'u': time.Microsecond, 'n': time.Nanosecond}
	u, ok := units[s[len(s)-1]]
	if !ok {
		return 0, bad
	}
	return time.Duration(n) * u, nil
}

// httpError is grpc-gateway's HTTPError: a failed call, or a request it could not transcode.
func (g *Gateway) httpError(ctx context.Context, _ *runtime.ServeMux, _ runtime.Marshaler,
	w http.ResponseWriter, r *http.Request, err error) {
	ri := infoFrom(r.Context())
	if ri == nil {
		ri = &reqInfo{}
	}
	st, ok := status.FromError(err)
	if !ok {
		st = status.New(codes.Unknown, err.Error())
	}
	f, known := statusFailures[st.Code()]
	if !known {
		f = statusFailures[codes.Unknown]
	}
	if atomic.LoadInt32(&ri.called) == 0 && st.Code() == codes.InvalidArgument {
		f = gatewayFailures[errBadBody] // the body or query did not fit the request message
	}
	ri.grpcCode = st.Code().String()
	g.writeFailure(w, ri.contract, f, st.Message(), ri)
}

// otherError is grpc-gateway's OtherErrorHandler (its mux's own 404/405/400).
func (g *Gateway) otherError(w http.ResponseWriter, r *http.Request, msg string, code int) {
	ri := infoFrom(r.Context())
	if ri == nil {
		ri = &reqInfo{}
	}
	f := gatewayFailures[errBadBody]
	switch code {
	case http.StatusNotFound:
		f = gatewayFailures[errNoRoute]
	case http.StatusMethodNotAllowed:
		f = gatewayFailures[errMethod]
	}
	g.writeFailure(w, ri.contract, f, msg, ri)
}

// writeFailure answers in the contract's failure shape: seed 002 as WeChat Pay v3 does
// ({"code":"PARAM_ERROR","message":"..."}), everything else in seed 000's envelope
// ({"code": 4010, "msg": "...", "data": null}).
func (g *Gateway) writeFailure(w http.ResponseWriter, c *Contract, f failure, detail string, ri *reqInfo) {
	if ri.errMsg == "" {
		ri.errMsg = detail
	}
	var buf bytes.Buffer
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if c != nil && c.wechat {
		msg := f.Msg
		if m, ok := wechatMessages[f.WechatCode]; ok {
			msg = m
		}
		if f.Detail && detail != "" {
			msg = detail // WeChat's own message (e.g. 服务商和子商户没有绑定关系) as orderqueryd passed it
		}
		buf.WriteString(`{"code":`)
		writeString(&buf, f.WechatCode)
		buf.WriteString(`,"message":`)
		writeString(&buf, msg)
		buf.WriteString("}")
		w.WriteHeader(wechatStatus(f))
		w.Write(buf.Bytes())
		return
	}
	msg := f.Msg
	if f.Detail && detail != "" {
		msg += ": " + detail
	}
	fmt.Fprintf(&buf, `{"code":%d,"msg":`, f.Code)
	writeString(&buf, msg)
	buf.WriteString(`,"data":null}`)
	w.WriteHeader(f.HTTP)
	w.Write(buf.Bytes())
}

// serveHealth reflects orderqueryd's grpc.health.v1 answer: 200 while it says SERVING, 503
// (with the reason) while it says anything else or cannot be reached.
func (g *Gateway) serveHealth(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.HealthTimeout)
	defer cancel()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	resp, err := g.health.Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, `{"status":"NOT_SERVING","upstream":%q}`, status.Code(err).String())
		return
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, `{"status":"NOT_SERVING","upstream":%q}`, resp.GetStatus().String())
		return
	}
	io.WriteString(w, `{"status":"SERVING","upstream":"SERVING"}`)
}

// recordingWriter remembers the status and size for the access log.
type recordingWriter struct {
	http.ResponseWriter
	code  int
	bytes int64
}

func (w *recordingWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recordingWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *recordingWriter) status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}
