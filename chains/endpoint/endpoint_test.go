package endpoint_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fundtrace/fundtrace/chains/endpoint"
)

// Secrets used by the tests; none may ever appear in an error, a log record
// or an Observer label.
const (
	secretPassword = "pw-Sup3rS3cret-17"
	secretQueryKey = "qk-9f8e7d6c5b4a3210"
	secretHeader   = "hk-0a1b2c3d4e5f6789"
)

// fastConfig is a Config with small timeouts and backoffs for tests.
func fastConfig(url string) endpoint.Config {
	c := endpoint.DefaultConfig(url)
	c.Timeout = 2 * time.Second
	c.Retries = 3
	c.MinBackoff = time.Millisecond
	c.MaxBackoff = 5 * time.Millisecond
	return c
}

func mustNew(t testing.TB, cfg endpoint.Config, opts endpoint.Options) *endpoint.Endpoint {
	t.Helper()
	e, err := endpoint.New(cfg, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return e
}

// script is an HTTP handler that answers request n (from 1) with steps[n-1],
// and with the last step once the steps are used up.
type script struct {
	mu    sync.Mutex
	steps []http.HandlerFunc
	n     int
	times []time.Time
	auth  []string
	paths []string
}

func (s *script) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.n++
	s.times = append(s.times, time.Now())
	s.auth = append(s.auth, r.Header.Get("Authorization"))
	s.paths = append(s.paths, r.URL.RequestURI())
	step := s.steps[min(s.n, len(s.steps))-1]
	s.mu.Unlock()
	step(w, r)
}

func (s *script) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

func serve(t testing.TB, steps ...http.HandlerFunc) (*httptest.Server, *script) {
	s := &script{steps: steps}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv, s
}

func status(code int, body string, header ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(code)
		_, _ = io.WriteString(w, body)
	}
}

func ok(body string) http.HandlerFunc { return status(http.StatusOK, body) }

func sleep(d time.Duration) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
		}
	}
}

func closeConn(w http.ResponseWriter, _ *http.Request) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		_ = conn.Close()
	}
}

func truncated(w http.ResponseWriter, _ *http.Request) {
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"half\":")
	_ = buf.Flush()
}

// recorder is an Observer keeping every call.
type recorder struct {
	mu    sync.Mutex
	calls []observed
}

type observed struct {
	endpoint, op, kind, err string
}

func (r *recorder) Observe(ep, op string, _ time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	o := observed{endpoint: ep, op: op, kind: endpoint.Kind(err)}
	if err != nil {
		o.err = err.Error()
	}
	r.calls = append(r.calls, o)
}

func (r *recorder) all() []observed {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]observed(nil), r.calls...)
}

func TestDoRetriesTransientFailures(t *testing.T) {
	tests := []struct {
		name         string
		steps        []http.HandlerFunc
		wantErr      error // nil: success
		wantAttempts int
		wantKinds    []string
	}{
		{"ok", []http.HandlerFunc{ok("x")}, nil, 1, []string{"ok"}},
		{"500 then ok", []http.HandlerFunc{status(500, "boom"), ok("x")}, nil, 2, []string{"server", "ok"}},
		{"502 503 then ok", []http.HandlerFunc{status(502, ""), status(503, "Work queue depth exceeded"), ok("x")}, nil, 3, []string{"server", "server", "ok"}},
		{"429 then ok", []http.HandlerFunc{status(429, "slow down", "Retry-After", "0"), ok("x")}, nil, 2, []string{"rate_limited", "ok"}},
		{"408 then ok", []http.HandlerFunc{status(408, ""), ok("x")}, nil, 2, []string{"timeout", "ok"}},
		{"closed connection then ok", []http.HandlerFunc{closeConn, ok("x")}, nil, 2, []string{"unreachable", "ok"}},
		{"truncated body then ok", []http.HandlerFunc{truncated, ok("x")}, nil, 2, []string{"unreachable", "ok"}},
		{"500 forever", []http.HandlerFunc{status(500, "")}, endpoint.ErrServer, 4, []string{"server", "server", "server", "server"}},
		{"401 is not retried", []http.HandlerFunc{status(401, "")}, endpoint.ErrUnauthorized, 1, []string{"unauthorized"}},
		{"403 is not retried", []http.HandlerFunc{status(403, "")}, endpoint.ErrUnauthorized, 1, []string{"unauthorized"}},
		{"404 is not retried", []http.HandlerFunc{status(404, "no")}, endpoint.ErrNotFound, 1, []string{"not_found"}},
		{"400 is not retried", []http.HandlerFunc{status(400, "bad")}, endpoint.ErrBadStatus, 1, []string{"other"}},
		{"redirect is not followed", []http.HandlerFunc{status(307, "", "Location", "http://127.0.0.1:1/elsewhere")}, endpoint.ErrBadStatus, 1, []string{"other"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, s := serve(t, tt.steps...)
			rec := &recorder{}
			e := mustNew(t, fastConfig(srv.URL), endpoint.Options{Observer: rec})
			err := e.Do(t.Context(), "get", endpoint.Request{}, nil)
			if tt.wantErr == nil && err != nil {
				t.Fatalf("Do: %v", err)
			}
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Do error = %v, want %v", err, tt.wantErr)
				}
				var ee *endpoint.Error
				if !errors.As(err, &ee) {
					t.Fatalf("Do error %T is not an *endpoint.Error", err)
				}
				if ee.Attempts != tt.wantAttempts || ee.Endpoint != e.Name() || ee.Op != "get" {
					t.Errorf("error fields = %d attempts, endpoint %q, op %q; want %d, %q, %q", ee.Attempts, ee.Endpoint, ee.Op, tt.wantAttempts, e.Name(), "get")
				}
				wantPrefix := "endpoint " + e.Name() + ": get: "
				if !strings.HasPrefix(err.Error(), wantPrefix) {
					t.Errorf("error text %q does not start with %q", err, wantPrefix)
				}
			}
			if got := s.count(); got != tt.wantAttempts {
				t.Errorf("server saw %d requests, want %d", got, tt.wantAttempts)
			}
			var kinds []string
			for _, o := range rec.all() {
				kinds = append(kinds, o.kind)
			}
			if fmt.Sprint(kinds) != fmt.Sprint(tt.wantKinds) {
				t.Errorf("observed kinds %v, want %v", kinds, tt.wantKinds)
			}
		})
	}
}

func TestDoHandleDecides(t *testing.T) {
	srv, s := serve(t, ok("warming up"), ok("ready"))
	e := mustNew(t, fastConfig(srv.URL), endpoint.Options{})
	var bodies []string
	err := e.Do(t.Context(), "op", endpoint.Request{}, func(r endpoint.Response) error {
		bodies = append(bodies, string(r.Body))
		if string(r.Body) == "warming up" {
			return endpoint.Transient(errors.New("not yet"))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	if got := strings.Join(bodies, ","); got != "warming up,ready" {
		t.Errorf("handle saw %q, want %q", got, "warming up,ready")
	}
	permanent := errors.New("permanent problem")
	err = e.Do(t.Context(), "op", endpoint.Request{}, func(endpoint.Response) error { return permanent })
	if !errors.Is(err, permanent) {
		t.Errorf("Do = %v, want it to wrap %v", err, permanent)
	}
	if got := s.count(); got != 3 {
		t.Errorf("server saw %d requests, want 3 (the permanent error is not retried)", got)
	}
}

func TestDoTimeout(t *testing.T) {
	srv, s := serve(t, sleep(2*time.Second))
	cfg := fastConfig(srv.URL)
	cfg.Timeout = 50 * time.Millisecond
	cfg.Retries = 2
	e := mustNew(t, cfg, endpoint.Options{})
	start := time.Now()
	err := e.Do(t.Context(), "slow", endpoint.Request{}, nil)
	if !errors.Is(err, endpoint.ErrTimeout) || endpoint.Kind(err) != "timeout" {
		t.Fatalf("Do = %v (kind %s), want ErrTimeout", err, endpoint.Kind(err))
	}
	if got := s.count(); got != 3 {
		t.Errorf("server saw %d requests, want 3", got)
	}
	if took := time.Since(start); took > 1500*time.Millisecond {
		t.Errorf("Do took %v; each attempt should stop after 50ms", took)
	}
}

func TestDoContext(t *testing.T) {
	t.Run("canceled during backoff", func(t *testing.T) {
		srv, _ := serve(t, status(503, "", "Retry-After", "30"))
		e := mustNew(t, fastConfig(srv.URL), endpoint.Options{})
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(50*time.Millisecond, cancel)
		start := time.Now()
		err := e.Do(ctx, "op", endpoint.Request{}, nil)
		if !errors.Is(err, context.Canceled) || !errors.Is(err, endpoint.ErrServer) || endpoint.Kind(err) != "canceled" {
			t.Fatalf("Do = %v (kind %s), want context.Canceled keeping the last ErrServer", err, endpoint.Kind(err))
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("Do took %v after cancel", took)
		}
	})
	t.Run("retry after the deadline is not waited for", func(t *testing.T) {
		srv, s := serve(t, status(429, "", "Retry-After", "30"))
		e := mustNew(t, fastConfig(srv.URL), endpoint.Options{})
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		start := time.Now()
		err := e.Do(ctx, "op", endpoint.Request{}, nil)
		if !errors.Is(err, endpoint.ErrRateLimited) || !strings.Contains(err.Error(), "deadline") {
			t.Fatalf("Do = %v, want ErrRateLimited saying the deadline", err)
		}
		if took := time.Since(start); took > 500*time.Millisecond {
			t.Errorf("Do took %v, want an immediate return", took)
		}
		if got := s.count(); got != 1 {
			t.Errorf("server saw %d requests, want 1", got)
		}
	})
	t.Run("canceled before the request", func(t *testing.T) {
		srv, s := serve(t, ok(""))
		e := mustNew(t, fastConfig(srv.URL), endpoint.Options{})
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		err := e.Do(ctx, "op", endpoint.Request{}, nil)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Do = %v, want context.Canceled", err)
		}
		if got := s.count(); got != 0 {
			t.Errorf("server saw %d requests, want 0", got)
		}
	})
}

func TestDoRetryAfter(t *testing.T) {
	srv, s := serve(t, status(429, "", "Retry-After", "1"), ok(""))
	e := mustNew(t, fastConfig(srv.URL), endpoint.Options{})
	if err := e.Do(t.Context(), "op", endpoint.Request{}, nil); err != nil {
		t.Fatalf("Do: %v", err)
	}
	s.mu.Lock()
	gap := s.times[1].Sub(s.times[0])
	s.mu.Unlock()
	if gap < 900*time.Millisecond {
		t.Errorf("second attempt came %v after the first, want >= 1s (Retry-After: 1)", gap)
	}
}

func TestDoRateLimit(t *testing.T) {
	srv, s := serve(t, ok(""))
	cfg := fastConfig(srv.URL)
	cfg.Rate, cfg.Burst = 20, 1
	e := mustNew(t, cfg, endpoint.Options{})
	const n = 6
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if err := e.Do(t.Context(), "op", endpoint.Request{}, nil); err != nil {
				t.Errorf("Do: %v", err)
			}
		})
	}
	wg.Wait()
	s.mu.Lock()
	times := append([]time.Time(nil), s.times...)
	s.mu.Unlock()
	if len(times) != n {
		t.Fatalf("server saw %d requests, want %d", len(times), n)
	}
	first, last := times[0], times[0]
	for _, ts := range times {
		if ts.Before(first) {
			first = ts
		}
		if ts.After(last) {
			last = ts
		}
	}
	// 20 per second with a burst of 1: one request every 50ms, so the six
	// arrive over at least 250ms (less a little arrival jitter).
	if span := last.Sub(first); span < 200*time.Millisecond {
		t.Errorf("%d requests arrived within %v, want >= ~250ms at 20/s", n, span)
	}
}

func TestDoMaxBody(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"announced", ok(strings.Repeat("x", 2000))},
		{"chunked", func(w http.ResponseWriter, _ *http.Request) {
			for range 20 {
				_, _ = io.WriteString(w, strings.Repeat("y", 100))
				http.NewResponseController(w).Flush()
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, s := serve(t, tt.handler)
			cfg := fastConfig(srv.URL)
			cfg.MaxBody = 1000
			e := mustNew(t, cfg, endpoint.Options{})
			err := e.Do(t.Context(), "big", endpoint.Request{}, nil)
			if !errors.Is(err, endpoint.ErrTooLarge) {
				t.Fatalf("Do = %v, want ErrTooLarge", err)
			}
			if got := s.count(); got != 1 {
				t.Errorf("server saw %d requests, want 1", got)
			}
		})
	}
}

func TestDoUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := fastConfig("http://user:" + secretPassword + "@" + addr + "/rpc?key=" + secretQueryKey)
	cfg.Retries = 2
	e := mustNew(t, cfg, endpoint.Options{})
	err = e.Do(t.Context(), "getblockhash", endpoint.Request{}, nil)
	if !errors.Is(err, endpoint.ErrUnreachable) || !endpoint.IsTransient(err) {
		t.Fatalf("Do = %v, want a transient ErrUnreachable", err)
	}
	want := "endpoint http://" + addr + "/rpc: getblockhash: after 3 attempts: endpoint: unreachable"
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error = %q, want it to start with %q", err, want)
	}
	assertNoSecrets(t, "error", err.Error())
}

func TestDoRequest(t *testing.T) {
	srv, s := serve(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %s %s %s", r.Method, r.URL.RequestURI(), r.Header.Get("X-Api-Key"), r.Header.Get("X-Extra"), body)
	})
	cfg := fastConfig(srv.URL + "/api/?key=" + secretQueryKey)
	cfg.Headers = map[string]string{"X-Api-Key": secretHeader}
	cfg.User, cfg.Password = "alice", secretPassword
	e := mustNew(t, cfg, endpoint.Options{})
	tests := []struct {
		name string
		req  endpoint.Request
		want string
	}{
		{"get", endpoint.Request{Path: "/blocks/tip/hash"}, "GET /api/blocks/tip/hash?key=" + secretQueryKey + " " + secretHeader + "  "},
		{"post", endpoint.Request{Body: []byte(`{"a":1}`), Header: map[string]string{"X-Extra": "1"}}, "POST /api/?key=" + secretQueryKey + " " + secretHeader + " 1 {\"a\":1}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got string
			err := e.Do(t.Context(), "op", tt.req, func(r endpoint.Response) error {
				got = string(r.Body)
				return endpoint.CheckStatus(r)
			})
			if err != nil {
				t.Fatalf("Do: %v", err)
			}
			if got != tt.want {
				t.Errorf("server saw %q, want %q", got, tt.want)
			}
		})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.auth {
		u, p, _ := (&http.Request{Header: http.Header{"Authorization": {a}}}).BasicAuth()
		if u != "alice" || p != secretPassword {
			t.Errorf("basic auth = %q:%q, want alice and the password", u, p)
		}
	}
	if got, want := e.Name(), srv.URL+"/api/"; got != want {
		t.Errorf("Name() = %q, want %q", got, want)
	}
}

func TestCookieFile(t *testing.T) {
	dir := t.TempDir()
	cookie := filepath.Join(dir, ".cookie")
	write := func(v string) {
		if err := os.WriteFile(cookie, []byte("__cookie__:"+v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var current atomic.Value
	current.Store("c1-aaaaaaaaaaaa")
	write("c1-aaaaaaaaaaaa")
	srv, s := serve(t, func(w http.ResponseWriter, r *http.Request) {
		u, p, _ := r.BasicAuth()
		if u != "__cookie__" || p != current.Load().(string) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = io.WriteString(w, "ok")
	})
	cfg := fastConfig(srv.URL)
	cfg.CookieFile = cookie
	e := mustNew(t, cfg, endpoint.Options{})

	if err := e.Do(t.Context(), "op", endpoint.Request{}, nil); err != nil {
		t.Fatalf("Do with the first cookie: %v", err)
	}
	// The node restarts with a new cookie: one 401, a re-read, a success.
	current.Store("c2-bbbbbbbbbbbb")
	write("c2-bbbbbbbbbbbb")
	if err := e.Do(t.Context(), "op", endpoint.Request{}, nil); err != nil {
		t.Fatalf("Do after the cookie changed: %v", err)
	}
	if got := s.count(); got != 3 {
		t.Errorf("server saw %d requests, want 3", got)
	}
	// The cookie on disk is stale: one attempt, a re-read finding nothing
	// new, ErrUnauthorized.
	current.Store("c3-cccccccccccc")
	err := e.Do(t.Context(), "op", endpoint.Request{}, nil)
	if !errors.Is(err, endpoint.ErrUnauthorized) {
		t.Fatalf("Do with a stale cookie = %v, want ErrUnauthorized", err)
	}
	if got := s.count(); got != 4 {
		t.Errorf("server saw %d requests, want 4", got)
	}
	if strings.Contains(err.Error(), "c2-bbbbbbbbbbbb") {
		t.Errorf("error %q shows the cookie", err)
	}
}

// TestSecretsNeverLeak runs failures against an endpoint with a password, a
// query-string key and a header key, with a server that echoes them back,
// and checks errors, logs and Observer labels.
func TestSecretsNeverLeak(t *testing.T) {
	echo := func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, "bad request %s auth=%s key=%s", r.URL.RequestURI(), r.Header.Get("Authorization"), r.Header.Get("X-Api-Key"))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	tests := []struct {
		name    string
		handler http.HandlerFunc
		url     func(srv string) string
		timeout time.Duration
	}{
		{"echoing server", echo, nil, 0},
		{"server error", status(500, "internal "+secretHeader), nil, 0},
		{"timeout", sleep(time.Second), nil, 20 * time.Millisecond},
		{"closed connection", closeConn, nil, 0},
		{"truncated", truncated, nil, 0},
		{"unauthorized", status(401, ""), nil, 0},
		{"unreachable", ok(""), func(string) string { return "http://" + dead }, 0},
		{"bad host", ok(""), func(string) string { return "http://no-such-host.invalid" }, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := serve(t, tt.handler)
			base := srv.URL
			if tt.url != nil {
				base = tt.url(base)
			}
			raw := strings.Replace(base, "http://", "http://bob:"+secretPassword+"@", 1) + "/?apikey=" + secretQueryKey
			cfg := fastConfig(raw)
			cfg.Retries = 1
			cfg.Headers = map[string]string{"X-Api-Key": secretHeader}
			if tt.timeout > 0 {
				cfg.Timeout = tt.timeout
			}
			var logs bytes.Buffer
			rec := &recorder{}
			log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			e := mustNew(t, cfg, endpoint.Options{Observer: rec, Logger: log})
			err := e.Do(t.Context(), "getblock", endpoint.Request{Path: "/x"}, nil)
			if err == nil {
				t.Fatal("Do succeeded, want an error")
			}
			t.Logf("error: %v", err)
			assertNoSecrets(t, "error", err.Error())
			assertNoSecrets(t, "error %+v", fmt.Sprintf("%+v", err))
			assertNoSecrets(t, "log", logs.String())
			assertNoSecrets(t, "name", e.Name())
			calls := rec.all()
			if len(calls) == 0 {
				t.Fatal("Observer saw no attempt")
			}
			for _, o := range calls {
				assertNoSecrets(t, "observer", o.endpoint+" "+o.op+" "+o.err)
			}
			if !strings.Contains(err.Error(), "endpoint http://") {
				t.Errorf("error %q does not name the endpoint", err)
			}
		})
	}
}

func TestKeyAsUserName(t *testing.T) {
	srv, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		u, _, _ := r.BasicAuth()
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, "key %s (%s) is not valid", u, r.Header.Get("Authorization"))
	})
	e := mustNew(t, fastConfig(strings.Replace(srv.URL, "http://", "http://"+secretQueryKey+"@", 1)), endpoint.Options{})
	err := e.Do(t.Context(), "op", endpoint.Request{}, nil)
	if !errors.Is(err, endpoint.ErrUnauthorized) {
		t.Fatalf("Do = %v, want ErrUnauthorized", err)
	}
	assertNoSecrets(t, "error", err.Error())
	if !strings.Contains(err.Error(), "[REDACTED]") {
		t.Errorf("error %q does not show where the key was removed", err)
	}
}

func assertNoSecrets(t testing.TB, where, s string) {
	t.Helper()
	for _, secret := range []string{secretPassword, secretQueryKey, secretHeader, "apikey=", "bob:"} {
		if strings.Contains(s, secret) {
			t.Errorf("%s shows secret %q: %s", where, secret, s)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*endpoint.Config)
		field  string // "" = valid
	}{
		{"default", func(*endpoint.Config) {}, ""},
		{"zero fields", func(c *endpoint.Config) { *c = endpoint.Config{URL: c.URL} }, ""},
		{"no retries", func(c *endpoint.Config) { c.Retries = -1 }, ""},
		{"empty URL", func(c *endpoint.Config) { c.URL = "" }, "URL"},
		{"bad scheme", func(c *endpoint.Config) { c.URL = "ftp://u:" + secretPassword + "@host/" }, "URL"},
		{"unparsable", func(c *endpoint.Config) { c.URL = "http://u:" + secretPassword + "@host:port%zz/" }, "URL"},
		{"no host", func(c *endpoint.Config) { c.URL = "http:///path?k=" + secretQueryKey }, "URL"},
		{"fragment", func(c *endpoint.Config) { c.URL = "http://host/#" + secretQueryKey }, "URL"},
		{"header name", func(c *endpoint.Config) { c.Headers = map[string]string{"X Key": secretHeader} }, "Headers"},
		{"header value", func(c *endpoint.Config) { c.Headers = map[string]string{"X-Key": secretHeader + "\r\nEvil: 1"} }, "Headers"},
		{"cookie and password", func(c *endpoint.Config) { c.CookieFile, c.Password = "/x/.cookie", secretPassword }, "CookieFile"},
		{"cookie and userinfo", func(c *endpoint.Config) {
			c.CookieFile, c.URL = "/x/.cookie", "http://u:"+secretPassword+"@h/"
		}, "CookieFile"},
		{"user with colon", func(c *endpoint.Config) { c.User = "a:b" }, "User"},
		{"negative rate", func(c *endpoint.Config) { c.Rate = -1 }, "Rate"},
		{"negative burst", func(c *endpoint.Config) { c.Burst = -1 }, "Burst"},
		{"negative timeout", func(c *endpoint.Config) { c.Timeout = -time.Second }, "Timeout"},
		{"backoffs reversed", func(c *endpoint.Config) { c.MinBackoff, c.MaxBackoff = time.Second, time.Millisecond }, "MaxBackoff"},
		{"negative max body", func(c *endpoint.Config) { c.MaxBody = -1 }, "MaxBody"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := endpoint.DefaultConfig("http://127.0.0.1:8332/")
			tt.modify(&cfg)
			err := cfg.Validate()
			_, newErr := endpoint.New(cfg, endpoint.Options{})
			if tt.field == "" {
				if err != nil || newErr != nil {
					t.Fatalf("Validate = %v, New = %v, want nil", err, newErr)
				}
				return
			}
			if !errors.Is(err, endpoint.ErrInvalidConfig) || !errors.Is(newErr, endpoint.ErrInvalidConfig) {
				t.Fatalf("Validate = %v, New = %v, want ErrInvalidConfig", err, newErr)
			}
			if !strings.Contains(err.Error(), tt.field) {
				t.Errorf("Validate = %q, want it to name %s", err, tt.field)
			}
			assertNoSecrets(t, "Validate error", err.Error())
		})
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http://127.0.0.1:8332", "http://127.0.0.1:8332"},
		{"http://user:pass@127.0.0.1:8332/", "http://127.0.0.1:8332/"},
		{"https://blockstream.info/api?key=secret#frag", "https://blockstream.info/api"},
		{"https://btc.example.com/v3/0123456789abcdef0123456789abcdef", "https://btc.example.com/v3/REDACTED"},
		{"https://node.example.com/wallet/savings", "https://node.example.com/wallet/savings"},
		{"http://u:p@host:bad%zz/", "invalid-url"},
		{"not a url", "invalid-url"},
	}
	for _, tt := range tests {
		if got := endpoint.Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCheckStatus(t *testing.T) {
	long := strings.Repeat("é", 300)
	tests := []struct {
		name      string
		status    int
		body      string
		want      error
		transient bool
		text      string
	}{
		{"200", 200, "", nil, false, ""},
		{"204", 204, "", nil, false, ""},
		{"401", 401, "", endpoint.ErrUnauthorized, false, "HTTP 401 Unauthorized"},
		{"403", 403, "", endpoint.ErrUnauthorized, false, "HTTP 403 Forbidden"},
		{"404", 404, "Block not found", endpoint.ErrNotFound, false, `HTTP 404 Not Found: "Block not found"`},
		{"429", 429, "", endpoint.ErrRateLimited, true, "HTTP 429"},
		{"500", 500, "oops\x00\n\tmore", endpoint.ErrServer, true, `HTTP 500 Internal Server Error: "oops more"`},
		{"503", 503, "", endpoint.ErrServer, true, "HTTP 503"},
		{"418", 418, "", endpoint.ErrBadStatus, false, "HTTP 418"},
		{"long body", 500, long, endpoint.ErrServer, true, "..."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := endpoint.CheckStatus(endpoint.Response{Status: tt.status, Body: []byte(tt.body)})
			if tt.want == nil {
				if err != nil {
					t.Fatalf("CheckStatus = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tt.want) || endpoint.IsTransient(err) != tt.transient {
				t.Fatalf("CheckStatus = %v (transient %v), want %v (transient %v)", err, endpoint.IsTransient(err), tt.want, tt.transient)
			}
			if !strings.Contains(err.Error(), tt.text) {
				t.Errorf("CheckStatus = %q, want it to contain %q", err, tt.text)
			}
			if len(err.Error()) > 300 {
				t.Errorf("CheckStatus text has %d bytes, want the body cut", len(err.Error()))
			}
		})
	}
}

func TestKind(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{nil, "ok"},
		{context.Canceled, "canceled"},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), "timeout"},
		{endpoint.ErrTimeout, "timeout"},
		{endpoint.Transient(endpoint.ErrRateLimited), "rate_limited"},
		{endpoint.ErrServer, "server"},
		{endpoint.ErrUnauthorized, "unauthorized"},
		{endpoint.ErrUnreachable, "unreachable"},
		{endpoint.ErrMalformed, "malformed"},
		{endpoint.ErrTooLarge, "malformed"},
		{endpoint.ErrNotFound, "not_found"},
		{errors.New("x"), "other"},
		{&endpoint.Error{Endpoint: "e", Op: "o", Attempts: 2, Err: endpoint.ErrServer}, "server"},
	}
	for _, tt := range tests {
		if got := endpoint.Kind(tt.err); got != tt.want {
			t.Errorf("Kind(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestTransient(t *testing.T) {
	if endpoint.Transient(nil) != nil {
		t.Error("Transient(nil) != nil")
	}
	base := errors.New("base")
	tr := endpoint.Transient(base)
	if !endpoint.IsTransient(tr) || !errors.Is(tr, base) || tr.Error() != "base" {
		t.Errorf("Transient(base) = %v: transient %v, is base %v", tr, endpoint.IsTransient(tr), errors.Is(tr, base))
	}
	if !endpoint.IsTransient(fmt.Errorf("wrapped: %w", tr)) {
		t.Error("a wrapped transient error is not transient")
	}
	if endpoint.IsTransient(base) {
		t.Error("base is transient")
	}
	// After Do's retries ran out, *Error says whether waiting may help.
	for _, tt := range []struct {
		cause error
		want  bool
	}{
		{endpoint.Transient(endpoint.ErrServer), true},
		{endpoint.ErrTimeout, true},
		{endpoint.ErrUnreachable, true},
		{endpoint.ErrRateLimited, true},
		{endpoint.ErrUnauthorized, false},
		{endpoint.ErrMalformed, false},
		{endpoint.ErrNotFound, false},
	} {
		e := &endpoint.Error{Endpoint: "n", Op: "op", Attempts: 6, Err: tt.cause}
		if got := e.Transient(); got != tt.want {
			t.Errorf("(&Error{Err: %v}).Transient() = %v, want %v", tt.cause, got, tt.want)
		}
	}
}

func TestSnippet(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"  hello \r\n world  ", "hello world"},
		{"a\x00b\x7fc", "abc"},
		{"\xff\xfeok", "ok"},
		{strings.Repeat("a", 200), strings.Repeat("a", 200)},
		{strings.Repeat("a", 201), strings.Repeat("a", 197) + "..."},
	}
	for _, tt := range tests {
		if got := endpoint.Snippet([]byte(tt.in)); got != tt.want {
			t.Errorf("Snippet(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := endpoint.Snippet([]byte(strings.Repeat("é", 300))); len(got) > 200 || !strings.HasSuffix(got, "...") {
		t.Errorf("Snippet of 300 é = %q (%d bytes), want <= 200 bytes ending in ...", got, len(got))
	}
}

func TestErrorText(t *testing.T) {
	tests := []struct {
		err  *endpoint.Error
		want string
	}{
		{&endpoint.Error{Endpoint: "http://h:1", Op: "getblock", Attempts: 1, Err: endpoint.ErrServer}, "endpoint http://h:1: getblock: endpoint: server error"},
		{&endpoint.Error{Endpoint: "http://h:1", Op: "getblock", Attempts: 3, Err: endpoint.ErrServer}, "endpoint http://h:1: getblock: after 3 attempts: endpoint: server error"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

// TestNoGoroutineLeak runs successes, retries, timeouts and cancellations,
// then checks that every goroutine they started has ended.
func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		srv := httptest.NewServer(&script{steps: []http.HandlerFunc{ok("a"), status(503, ""), sleep(time.Second), closeConn, truncated, ok("b")}})
		defer srv.Close()
		cfg := fastConfig(srv.URL)
		cfg.Timeout = 30 * time.Millisecond
		cfg.Rate = 1000
		e := mustNew(t, cfg, endpoint.Options{})
		defer e.CloseIdleConnections()
		for range 8 {
			_ = e.Do(t.Context(), "op", endpoint.Request{}, nil)
		}
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(5*time.Millisecond, cancel)
		_ = e.Do(ctx, "op", endpoint.Request{}, func(endpoint.Response) error { return endpoint.Transient(errors.New("again")) })
	}()
	deadline := time.Now().Add(3 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines after, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}
