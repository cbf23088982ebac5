package endpoint_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/rpc"

	"github.com/fundtrace/fundtrace/chains/endpoint"
)

// dialRPC returns a go-ethereum rpc.Client whose requests go through e.
func dialRPC(t testing.TB, e *endpoint.Endpoint) *rpc.Client {
	t.Helper()
	c, err := rpc.DialOptions(t.Context(), endpoint.TransportURL, rpc.WithHTTPClient(e.HTTPClient()))
	if err != nil {
		t.Fatalf("rpc.DialOptions: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

const chainIDReply = `{"jsonrpc":"2.0","id":1,"result":"0x539"}`

// bodies records the request bodies a server saw.
type bodies struct {
	mu  sync.Mutex
	all []string
}

func (b *bodies) wrap(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		b.mu.Lock()
		b.all = append(b.all, string(body))
		b.mu.Unlock()
		h(w, r)
	}
}

func TestHTTPClientStatuses(t *testing.T) {
	jsonErr := func(code int, msg string) string {
		return fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"error":{"code":%d,"message":%q}}`, code, msg)
	}
	tests := []struct {
		name     string
		steps    []http.HandlerFunc
		attempts int
		// want: the error is nil, or wraps wantIs, or is an rpc error with
		// wantCode, or an rpc.HTTPError with wantHTTP.
		wantIs   error
		wantCode int
		wantHTTP int
		kind     string // the Observer's kind of the last attempt
	}{
		{"ok", []http.HandlerFunc{ok(chainIDReply)}, 1, nil, 0, 0, "ok"},
		{"json-rpc error, HTTP 200", []http.HandlerFunc{ok(jsonErr(-32601, "the method x does not exist/is not available"))}, 1, nil, -32601, 0, "ok"},
		{"503 then ok", []http.HandlerFunc{status(503, "busy"), ok(chainIDReply)}, 2, nil, 0, 0, "ok"},
		{"429 retry-after then ok", []http.HandlerFunc{status(429, "slow down", "Retry-After", "0"), ok(chainIDReply)}, 2, nil, 0, 0, "ok"},
		{"408 then ok", []http.HandlerFunc{status(408, ""), ok(chainIDReply)}, 2, nil, 0, 0, "ok"},
		{"truncated then ok", []http.HandlerFunc{truncated, ok(chainIDReply)}, 2, nil, 0, 0, "ok"},
		{"closed connection then ok", []http.HandlerFunc{closeConn, ok(chainIDReply)}, 2, nil, 0, 0, "ok"},
		{"timeout then ok", []http.HandlerFunc{sleep(time.Second), ok(chainIDReply)}, 2, nil, 0, 0, "ok"},
		{"5xx until the retries are spent", []http.HandlerFunc{status(502, "bad gateway")}, 4, endpoint.ErrServer, 0, 0, "server"},
		{"429 with a json-rpc body is retried", []http.HandlerFunc{status(429, jsonErr(-32005, "limit exceeded"), "Retry-After", "0"), ok(chainIDReply)}, 2, nil, 0, 0, "ok"},
		{"401", []http.HandlerFunc{status(401, "invalid project id")}, 1, endpoint.ErrUnauthorized, 0, 0, "unauthorized"},
		{"403", []http.HandlerFunc{status(403, "forbidden")}, 1, endpoint.ErrUnauthorized, 0, 0, "unauthorized"},
		{"garbage with 200", []http.HandlerFunc{ok("<html>oops</html>")}, 1, endpoint.ErrMalformed, 0, 0, "malformed"},
		{"empty 200", []http.HandlerFunc{ok("")}, 1, endpoint.ErrMalformed, 0, 0, "malformed"},
		{"405 plain text", []http.HandlerFunc{status(405, "method not allowed")}, 1, endpoint.ErrBadStatus, 0, 0, "other"},
		{"404 plain text", []http.HandlerFunc{status(404, "no route")}, 1, endpoint.ErrNotFound, 0, 0, "not_found"},
		{"501 plain text is not retried", []http.HandlerFunc{status(501, "not implemented")}, 1, endpoint.ErrBadStatus, 0, 0, "other"},
		{"400 with a json-rpc error reaches rpc.Client", []http.HandlerFunc{status(400, jsonErr(-32600, "Unsupported method: trace_block"))}, 1, nil, 0, 400, "ok"},
		{"500 with method not found is not retried", []http.HandlerFunc{status(500, jsonErr(-32601, "Method not found"))}, 1, nil, 0, 500, "ok"},
		{"500 with another json-rpc error is retried", []http.HandlerFunc{status(500, jsonErr(-32603, "internal error")), ok(chainIDReply)}, 2, nil, 0, 0, "ok"},
		{"redirect", []http.HandlerFunc{status(302, "", "Location", "http://elsewhere.invalid/")}, 1, endpoint.ErrBadStatus, 0, 0, "other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var seen bodies
			steps := make([]http.HandlerFunc, len(tt.steps))
			for i, s := range tt.steps {
				steps[i] = seen.wrap(s)
			}
			srv, sc := serve(t, steps...)
			cfg := fastConfig(srv.URL)
			cfg.Timeout = 200 * time.Millisecond
			rec := &recorder{}
			e := mustNew(t, cfg, endpoint.Options{Observer: rec})
			c := dialRPC(t, e)
			var id string
			err := c.CallContext(endpoint.WithOp(t.Context(), "eth_chainId"), &id, "eth_chainId")
			t.Logf("err: %v", err)
			if got := sc.count(); got != tt.attempts {
				t.Errorf("%d attempts, want %d", got, tt.attempts)
			}
			switch {
			case tt.wantIs != nil:
				if !errors.Is(err, tt.wantIs) {
					t.Errorf("error %v, want one wrapping %v", err, tt.wantIs)
				}
				var epErr *endpoint.Error
				if !errors.As(err, &epErr) || epErr.Op != "eth_chainId" {
					t.Errorf("error %v: no *endpoint.Error with op eth_chainId", err)
				}
			case tt.wantCode != 0:
				var re rpc.Error
				if !errors.As(err, &re) || re.ErrorCode() != tt.wantCode {
					t.Errorf("error %v, want an rpc.Error with code %d", err, tt.wantCode)
				}
			case tt.wantHTTP != 0:
				var he rpc.HTTPError
				if !errors.As(err, &he) || he.StatusCode != tt.wantHTTP || !bytes.Contains(he.Body, []byte(`"error"`)) {
					t.Errorf("error %v, want an rpc.HTTPError %d with the JSON-RPC body", err, tt.wantHTTP)
				}
			default:
				if err != nil || id != "0x539" {
					t.Errorf("eth_chainId = %q, %v; want 0x539", id, err)
				}
			}
			calls := rec.all()
			if len(calls) != tt.attempts {
				t.Fatalf("Observer saw %d attempts, want %d", len(calls), tt.attempts)
			}
			for _, o := range calls {
				if o.op != "eth_chainId" {
					t.Errorf("Observer op %q, want eth_chainId", o.op)
				}
			}
			if got := calls[len(calls)-1].kind; got != tt.kind {
				t.Errorf("last attempt's kind %q, want %q", got, tt.kind)
			}
			// Every attempt sent the same request body.
			for i, b := range seen.all {
				if b != seen.all[0] || !strings.Contains(b, `"eth_chainId"`) {
					t.Errorf("attempt %d sent %q, first sent %q", i+1, b, seen.all[0])
				}
			}
		})
	}
}

func TestHTTPClientStatusError(t *testing.T) {
	srv, _ := serve(t, status(403, `{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"debug_traceBlockByNumber is not available on the free tier"}}`))
	e := mustNew(t, fastConfig(srv.URL), endpoint.Options{})
	err := dialRPC(t, e).CallContext(t.Context(), nil, "debug_traceBlockByNumber", "0x1")
	var se *endpoint.StatusError
	if !errors.As(err, &se) || se.StatusCode != 403 || !bytes.Contains(se.Body, []byte("free tier")) {
		t.Fatalf("error %v: want a *StatusError 403 with the body", err)
	}
	if endpoint.StatusCode(err) != 403 {
		t.Errorf("StatusCode = %d, want 403", endpoint.StatusCode(err))
	}
	if !errors.Is(err, endpoint.ErrUnauthorized) {
		t.Errorf("error %v does not wrap ErrUnauthorized", err)
	}
}

func TestHTTPClientRequest(t *testing.T) {
	var mu sync.Mutex
	var got *http.Request
	var gotBody string
	srv, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got, gotBody = r.Clone(context.Background()), string(b)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `[{"jsonrpc":"2.0","id":1,"result":"0x1"},{"jsonrpc":"2.0","id":2,"result":"0x2"}]`)
	})
	cfg := fastConfig(strings.Replace(srv.URL, "http://", "http://bob:"+secretPassword+"@", 1) + "/v3/?apikey=" + secretQueryKey)
	cfg.Headers = map[string]string{"X-Api-Key": secretHeader}
	rec := &recorder{}
	e := mustNew(t, cfg, endpoint.Options{Observer: rec})
	c := dialRPC(t, e)
	var a, b string
	batch := []rpc.BatchElem{
		{Method: "eth_blockNumber", Result: &a},
		{Method: "eth_chainId", Result: &b},
	}
	if err := c.BatchCallContext(t.Context(), batch); err != nil {
		t.Fatal(err)
	}
	if a != "0x1" || b != "0x2" || batch[0].Error != nil || batch[1].Error != nil {
		t.Errorf("results %q %q, errors %v %v", a, b, batch[0].Error, batch[1].Error)
	}
	mu.Lock()
	defer mu.Unlock()
	if got.Method != http.MethodPost || got.URL.Path != "/v3/" || got.URL.Query().Get("apikey") != secretQueryKey {
		t.Errorf("request %s %s, want POST to the endpoint's URL", got.Method, got.URL)
	}
	if u, p, ok := got.BasicAuth(); !ok || u != "bob" || p != secretPassword {
		t.Errorf("basic auth %q %q %v", u, p, ok)
	}
	if got.Header.Get("X-Api-Key") != secretHeader || got.Header.Get("Content-Type") != "application/json" {
		t.Errorf("headers %v", got.Header)
	}
	if !strings.HasPrefix(gotBody, "[") || !strings.Contains(gotBody, "eth_chainId") {
		t.Errorf("body %q, want the batch", gotBody)
	}
	if calls := rec.all(); len(calls) != 1 || calls[0].op != endpoint.DefaultOp {
		t.Errorf("Observer saw %+v, want one attempt labelled %q", calls, endpoint.DefaultOp)
	}
}

func TestHTTPClientMaxBody(t *testing.T) {
	srv, sc := serve(t, ok(`{"jsonrpc":"2.0","id":1,"result":"`+strings.Repeat("a", 2000)+`"}`))
	cfg := fastConfig(srv.URL)
	cfg.MaxBody = 1000
	e := mustNew(t, cfg, endpoint.Options{})
	err := dialRPC(t, e).CallContext(t.Context(), nil, "eth_getBlockByNumber", "0x1", true)
	if !errors.Is(err, endpoint.ErrTooLarge) || sc.count() != 1 {
		t.Fatalf("error %v after %d attempts, want ErrTooLarge after 1", err, sc.count())
	}
}

// TestHTTPClientSecrets checks that no secret of the URL (userinfo, query,
// a key in the path) appears in what rpc.Client returns or the logs show,
// even when the server echoes them.
func TestHTTPClientSecrets(t *testing.T) {
	const pathKey = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
	echo := func(code int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(code)
			fmt.Fprintf(w, `{"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"bad %s %s %s"}}`, r.URL.RequestURI(), r.Header.Get("Authorization"), r.Header.Get("X-Api-Key"))
		}
	}
	for _, code := range []int{200, 400, 401, 500} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			srv, _ := serve(t, echo(code))
			raw := strings.Replace(srv.URL, "http://", "http://bob:"+secretPassword+"@", 1) + "/v3/" + pathKey + "?apikey=" + secretQueryKey
			cfg := fastConfig(raw)
			cfg.Headers = map[string]string{"X-Api-Key": secretHeader}
			var logs bytes.Buffer
			log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			e := mustNew(t, cfg, endpoint.Options{Logger: log})
			err := dialRPC(t, e).CallContext(t.Context(), nil, "eth_chainId")
			if err == nil {
				t.Fatal("no error")
			}
			// rpc.Client's own errors carry the server's text: what a
			// client returns must go through Scrub.
			msg := e.Scrub(err).Error()
			t.Logf("scrubbed: %s", msg)
			for _, s := range []string{msg, logs.String()} {
				assertNoSecrets(t, "error", s)
				if strings.Contains(s, pathKey) {
					t.Errorf("path key in %q", s)
				}
			}
			var se *endpoint.StatusError
			if errors.As(err, &se) && (bytes.Contains(se.Body, []byte(secretPassword)) || bytes.Contains(se.Body, []byte(pathKey))) {
				t.Errorf("StatusError.Body holds a secret: %s", se.Body)
			}
		})
	}
}

func TestOpFrom(t *testing.T) {
	if got := endpoint.OpFrom(context.Background()); got != endpoint.DefaultOp {
		t.Errorf("OpFrom(background) = %q", got)
	}
	if got := endpoint.OpFrom(endpoint.WithOp(context.Background(), "batch:eth_call")); got != "batch:eth_call" {
		t.Errorf("OpFrom = %q", got)
	}
}
