package main

// Configuration, in the shape of orderqueryd's: one JSON file (--config FILE or
// GATEWAY_CONFIG), every key overridable by GATEWAY_<KEY> (dots -> _, upper case), validated
// at start; a bad value stops start-up with one line naming the key and its variable.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Config is the gateway's configuration after defaults, file and environment.
type Config struct {
	Listen              string
	InternalListen      string
	AdminListen         string
	UpstreamTarget      string
	UpstreamTLS         bool
	UpstreamCAFile      string
	UpstreamCertFile    string
	UpstreamKeyFile     string
	UpstreamServerName  string
	// The gateway's own API key for orderqueryd (metadata x-api-key), sent only for requests on
	// the internal listener: orderqueryd's internal RPCs (vehicle, trade) need one.
	UpstreamAPIKey     string
	UpstreamAPIKeyFile string
	RequestTimeout      time.Duration
	MaxTimeout          time.Duration
	HealthTimeout       time.Duration
	MaxBodyBytes        int64
	ReadHeaderTimeout   time.Duration
	ReadTimeout         time.Duration
	IdleTimeout         time.Duration
	ShutdownGrace       time.Duration
	AccessLog           bool
	UpstreamConnections int
	MaxReconnectBackoff time.Duration
}

type configKey struct {
	name string
	def  string
	doc  string
	set  func(c *Config, v string) error
}

func envName(key string) string {
	return "GATEWAY_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

func parseAddr(dst *string) func(*Config, string) error {
	return func(_ *Config, v string) error {
		_, port, err := net.SplitHostPort(v)
		if err != nil {
			return fmt.Errorf("must be HOST:PORT (got %q)", v)
		}
		p, err := strconv.Atoi(port)
		if err != nil || p < 0 || p > 65535 {
			return fmt.Errorf("port must be 0-65535 (got %q)", port)
		}
		*dst = v
		return nil
	}
}

func parseMillis(dst *time.Duration, lo, hi int64) func(*Config, string) error {
	return func(_ *Config, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < lo || n > hi {
			return fmt.Errorf("must be between %d and %d (got %s)", lo, hi, v)
		}
		*dst = time.Duration(n) * time.Millisecond
		return nil
	}
}

func parseInt64(dst *int64, lo, hi int64) func(*Config, string) error {
	return func(_ *Config, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < lo || n > hi {
			return fmt.Errorf("must be between %d and %d (got %s)", lo, hi, v)
		}
		*dst = n
		return nil
	}
}

func parseBool(dst *bool) func(*Config, string) error {
	return func(_ *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("must be true or false (got %q)", v)
		}
		*dst = b
		return nil
	}
}

func parseString(dst *string) func(*Config, string) error {
	return func(_ *Config, v string) error { *dst = v; return nil }
}

// keys lists every setting with its default; setters write into c.
func keys(c *Config) []configKey {
	var conns int64
	return []configKey{
		{"listen", "0.0.0.0:8080", "public listener: seed 000's route and /healthz only", parseAddr(&c.Listen)},
		{"internal_listen", "127.0.0.1:8081", "internal listener: every route, /healthz, /openapi.json", parseAddr(&c.InternalListen)},
		{"admin.listen", "", "admin listener: GET /metrics (Prometheus text format); empty = off", func(_ *Config, v string) error {
			if v == "" {
				c.AdminListen = ""
				return nil
			}
			return parseAddr(&c.AdminListen)(c, v)
		}},
		{"upstream.target", "127.0.0.1:50051", "orderqueryd's gRPC address (HOST:PORT or a gRPC target such as dns:///name:port)",
			func(_ *Config, v string) error {
				if strings.TrimSpace(v) == "" {
					return fmt.Errorf("must not be empty")
				}
				c.UpstreamTarget = v
				return nil
			}},
		{"upstream.tls", "false", "TLS to orderqueryd", parseBool(&c.UpstreamTLS)},
		{"upstream.ca_file", "", "CA bundle that signed orderqueryd's certificate (TLS; empty = system roots)", parseString(&c.UpstreamCAFile)},
		{"upstream.cert_file", "", "client certificate for mTLS (with upstream.key_file)", parseString(&c.UpstreamCertFile)},
		{"upstream.key_file", "", "client key for mTLS", parseString(&c.UpstreamKeyFile)},
		{"upstream.server_name", "", "TLS server name to verify (empty = the target's host)", parseString(&c.UpstreamServerName)},
		{"upstream.api_key", "", "the gateway's API key at orderqueryd (secret; sent as x-api-key for internal-listener requests only)", parseString(&c.UpstreamAPIKey)},
		{"upstream.api_key_file", "", "file holding that API key (a Kubernetes Secret, say)", parseString(&c.UpstreamAPIKeyFile)},
		{"upstream.connections", "1", "HTTP/2 connections to orderqueryd, used round robin", func(_ *Config, v string) error {
			if err := parseInt64(&conns, 1, 64)(c, v); err != nil {
				return err
			}
			c.UpstreamConnections = int(conns)
			return nil
		}},
		{"upstream.max_reconnect_backoff_ms", "2000", "longest wait between reconnection attempts while orderqueryd is down", parseMillis(&c.MaxReconnectBackoff, 100, 120000)},
		{"request_timeout_ms", "5000", "deadline of each call to orderqueryd", parseMillis(&c.RequestTimeout, 1, 600000)},
		{"max_timeout_ms", "30000", "internal listener: the most a caller's grpc-timeout header may ask for", parseMillis(&c.MaxTimeout, 1, 600000)},
		{"health_timeout_ms", "1000", "deadline of the health check behind /healthz", parseMillis(&c.HealthTimeout, 1, 60000)},
		{"max_body_bytes", "65536", "largest request body accepted (larger: 413)", parseInt64(&c.MaxBodyBytes, 1, 64<<20)},
		{"read_header_timeout_ms", "5000", "time a client has to send the request headers", parseMillis(&c.ReadHeaderTimeout, 1, 600000)},
		{"read_timeout_ms", "10000", "time a client has to send the whole request, body included", parseMillis(&c.ReadTimeout, 1, 600000)},
		{"idle_timeout_ms", "60000", "keep-alive connections idle longer are closed", parseMillis(&c.IdleTimeout, 1, 3600000)},
		{"shutdown_grace_ms", "5000", "SIGTERM: time in-flight requests get to finish", parseMillis(&c.ShutdownGrace, 0, 600000)},
		{"access_log", "true", "one line per request on stderr", parseBool(&c.AccessLog)},
	}
}

// usage is --help's text.
func usage() string {
	var b strings.Builder
	b.WriteString(`orderquery-gateway: REST/JSON in the seeds' own shapes, transcoded to orderqueryd's gRPC API.

usage: orderquery-gateway [--config FILE] [--help]

Configuration: one JSON file (--config FILE or GATEWAY_CONFIG; nested objects or dotted keys),
each key overridable by its environment variable. A bad value stops start-up (exit 2).
When ready it prints "gateway listening on HOST:PORT" and "gateway internal listening on
HOST:PORT" on stdout, and with admin.listen set "gateway metrics on http://HOST:PORT/metrics".
SIGTERM/SIGINT: stop accepting, finish in-flight requests, exit 0.

keys:
`)
	var c Config
	for _, k := range keys(&c) {
		fmt.Fprintf(&b, "  %s (%s, default %q)\n      %s\n", k.name, envName(k.name), k.def, k.doc)
	}
	return b.String()
}

// flatten turns {"upstream": {"target": "x"}} into {"upstream.target": "x"}; numbers and
// booleans become their text, which the key's parser then reads like an environment value.
func flatten(prefix string, in map[string]interface{}, out map[string]string) error {
	for k, v := range in {
		name := k
		if prefix != "" {
			name = prefix + "." + k
		}
		switch x := v.(type) {
		case map[string]interface{}:
			if err := flatten(name, x, out); err != nil {
				return err
			}
		case string:
			out[name] = x
		case json.Number:
			out[name] = x.String()
		case bool:
			out[name] = strconv.FormatBool(x)
		default:
			return fmt.Errorf("%s: must be a string, number or boolean", name)
		}
	}
	return nil
}

// LoadConfig applies defaults, then the file (if any), then the environment, and validates.
func LoadConfig(path string, getenv func(string) string) (*Config, error) {
	c := &Config{}
	ks := keys(c)
	known := map[string]configKey{}
	for _, k := range ks {
		known[k.name] = k
		if err := k.set(c, k.def); err != nil {
			return nil, fmt.Errorf("default of %s: %v", k.name, err)
		}
	}
	if path != "" {
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("cannot read %s: %v", path, err)
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var obj map[string]interface{}
		if err := dec.Decode(&obj); err != nil {
			return nil, fmt.Errorf("%s: not a JSON object: %v", path, err)
		}
		flat := map[string]string{}
		if err := flatten("", obj, flat); err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		names := make([]string, 0, len(flat))
		for n := range flat {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			k, ok := known[n]
			if !ok {
				return nil, fmt.Errorf("%s: unknown key %s", path, n)
			}
			if err := k.set(c, flat[n]); err != nil {
				return nil, fmt.Errorf("%s (%s): %v", n, envName(n), err)
			}
		}
	}
	for _, k := range ks {
		if v := getenv(envName(k.name)); v != "" {
			if err := k.set(c, v); err != nil {
				return nil, fmt.Errorf("%s (%s): %v", k.name, envName(k.name), err)
			}
		}
	}
	return c, c.validate()
}

func (c *Config) validate() error {
	fail := func(key, format string, a ...interface{}) error {
		return fmt.Errorf("%s (%s): %s", key, envName(key), fmt.Sprintf(format, a...))
	}
	if c.Listen == c.InternalListen && !strings.HasSuffix(c.Listen, ":0") {
		return fail("internal_listen", "must differ from listen (both %s)", c.Listen)
	}
	if c.AdminListen != "" && !strings.HasSuffix(c.AdminListen, ":0") {
		for _, k := range []struct{ name, v string }{{"listen", c.Listen}, {"internal_listen", c.InternalListen}} {
			if c.AdminListen == k.v {
				return fail("admin.listen", "must differ from %s (both %s)", k.name, k.v)
			}
		}
	}
	if !c.UpstreamTLS {
		for _, k := range []struct{ name, v string }{
			{"upstream.ca_file", c.UpstreamCAFile}, {"upstream.cert_file", c.UpstreamCertFile},
			{"upstream.key_file", c.UpstreamKeyFile}} {
			if k.v != "" {
				return fail(k.name, "needs upstream.tls true")
			}
		}
	}
	if (c.UpstreamCertFile == "") != (c.UpstreamKeyFile == "") {
		return fail("upstream.cert_file", "upstream.cert_file and upstream.key_file go together")
	}
	for _, k := range []struct{ name, v string }{
		{"upstream.ca_file", c.UpstreamCAFile}, {"upstream.cert_file", c.UpstreamCertFile},
		{"upstream.key_file", c.UpstreamKeyFile}} {
		if k.v == "" {
			continue
		}
		if _, err := os.Stat(k.v); err != nil {
			return fail(k.name, "cannot read %s", k.v)
		}
	}
	if c.UpstreamAPIKeyFile != "" {
		if c.UpstreamAPIKey != "" {
			return fail("upstream.api_key_file", "give upstream.api_key or upstream.api_key_file, not both")
		}
		raw, err := os.ReadFile(c.UpstreamAPIKeyFile)
		if err != nil {
			return fail("upstream.api_key_file", "cannot read %s", c.UpstreamAPIKeyFile)
		}
		c.UpstreamAPIKey = strings.TrimSpace(string(raw))
		if c.UpstreamAPIKey == "" {
			return fail("upstream.api_key_file", "%s is empty", c.UpstreamAPIKeyFile)
		}
	}
	if c.MaxTimeout < c.RequestTimeout {
		return fail("max_timeout_ms", "must be at least request_timeout_ms (%d)", c.RequestTimeout.Milliseconds())
	}
	return nil
}
