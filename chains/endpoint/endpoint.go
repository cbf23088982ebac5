// Package endpoint is the chain-neutral HTTP plumbing of fundtrace's node
// clients (Bitcoin JSON-RPC and Esplora; Ethereum JSON-RPC later): one
// Endpoint per configured URL, with credentials, a per-attempt timeout,
// retries of transient failures with exponential backoff, jitter and
// Retry-After, a request rate limit, a response size limit, and an Observer
// hook for metrics.
//
// # Secrets
//
// URL userinfo, the URL's query string, header values, passwords and cookie
// contents are secrets. Errors, log records and Observer labels never carry
// them: the endpoint is named by Config.Name (default Redact(URL)),
// transport errors are rebuilt without the request URL, and every error
// text is scrubbed of the secret strings before it leaves Do (a server may
// echo a key back in an error body).
//
// # Errors
//
// Every error returned by Do is an *Error naming the endpoint, the
// operation and the number of attempts. It wraps one of the sentinels
// (ErrUnauthorized, ErrTimeout, ...) or the client's own error, so callers
// use errors.Is; Kind turns an error into a metric label.
package endpoint

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Observer is told about every attempt Do makes: the endpoint's name, the
// operation, how long the request and the response body took, and the
// attempt's error (nil on success), already scrubbed of secrets. Use
// Kind(err) as a metric label. Observe must be safe for concurrent use and
// must not block.
type Observer interface {
	Observe(endpoint, op string, d time.Duration, err error)
}

// Options are the endpoint's collaborators; every field may be nil.
type Options struct {
	// HTTPClient sends the requests. Default: a client of its own whose
	// transport keeps up to 32 idle connections to the host and which does
	// not follow redirects (a redirect would resend credentials and API
	// keys elsewhere; it is reported as ErrBadStatus).
	HTTPClient *http.Client
	// Observer, if set, sees every attempt.
	Observer Observer
	// Logger gets Debug records of failed attempts and retries. Default:
	// discard.
	Logger *slog.Logger
}

// Request is one HTTP request to the endpoint.
type Request struct {
	// Method defaults to GET without a body, POST with one.
	Method string
	// Path is appended to the URL's path ("/block/<hash>/raw"); the URL's
	// query string is kept. It must not contain a query itself.
	Path string
	Body []byte
	// Header is added to the request after Config.Headers.
	Header map[string]string
}

// Response is a complete response: the body has been read in full.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Endpoint sends requests to one configured URL. It is safe for concurrent
// use; create one per URL and share it.
type Endpoint struct {
	name    string
	base    url.URL // no userinfo
	headers map[string]string
	cfg     Config
	limiter *rate.Limiter // nil: unlimited
	client  *http.Client
	obs     Observer
	log     *slog.Logger

	mu       sync.Mutex // guards the credentials and scrub
	user     string
	password string
	scrub    *strings.Replacer
	fixed    []string // secrets other than the password and cookie
}

// New checks cfg, fills its defaults and returns an Endpoint. It reads
// cfg.CookieFile if set. Errors wrap ErrInvalidConfig, or name the cookie
// file that could not be read.
func New(cfg Config, opts Options) (*Endpoint, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	u, err := parseURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	e := &Endpoint{
		name:    cfg.Name,
		headers: cfg.Headers,
		cfg:     cfg,
		client:  opts.HTTPClient,
		obs:     opts.Observer,
		log:     opts.Logger,
	}
	if e.name == "" {
		e.name = Redact(cfg.URL)
	}
	if u.User != nil {
		e.user = u.User.Username()
		e.password, _ = u.User.Password()
	}
	if cfg.User != "" || cfg.Password != "" {
		e.user, e.password = cfg.User, cfg.Password
	}
	e.fixed = secretsOf(u, cfg.Headers)
	u.User = nil
	u.Fragment, u.RawFragment = "", ""
	e.base = *u
	if cfg.CookieFile != "" {
		if _, err := e.readCookie(); err != nil {
			return nil, err
		}
	}
	e.rebuildScrub()
	if cfg.Rate > 0 {
		e.limiter = rate.NewLimiter(rate.Limit(cfg.Rate), cfg.Burst)
	}
	if e.client == nil {
		e.client = defaultClient()
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	return e, nil
}

func defaultClient() *http.Client {
	var tr *http.Transport
	if dt, ok := http.DefaultTransport.(*http.Transport); ok {
		tr = dt.Clone()
	} else {
		tr = &http.Transport{Proxy: http.ProxyFromEnvironment}
	}
	tr.MaxIdleConnsPerHost = 32
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// secretsOf lists the secret strings that are known at New: the URL's
// password, query values, the raw query and key-like path segments, and
// header values.
func secretsOf(u *url.URL, headers map[string]string) []string {
	var s []string
	if u.User != nil {
		if p, ok := u.User.Password(); ok {
			s = append(s, p)
		} else {
			s = append(s, u.User.Username()) // a key given as the user name alone
		}
	}
	if u.RawQuery != "" {
		s = append(s, u.RawQuery)
		for _, vs := range u.Query() {
			s = append(s, vs...)
		}
	}
	for seg := range strings.SplitSeq(u.EscapedPath(), "/") {
		if secretSegment(seg) {
			s = append(s, seg)
		}
	}
	for _, v := range headers {
		s = append(s, v)
		// "Bearer <token>", "Basic <b64>": the token alone too.
		if _, tok, ok := strings.Cut(v, " "); ok {
			s = append(s, tok)
		}
	}
	return s
}

// minSecretLen is the shortest secret scrubbed from texts: replacing a
// two-letter password everywhere would garble every message, and such a
// secret protects nothing anyway. Secrets are still never formatted by this
// package, whatever their length.
const minSecretLen = 4

// rebuildScrub rebuilds the replacer of secrets; e.mu must be held or e
// not yet shared.
func (e *Endpoint) rebuildScrub() {
	all := slices.Clone(e.fixed)
	if e.password != "" {
		all = append(all, e.password)
	}
	if e.user != "" || e.password != "" {
		all = append(all, base64.StdEncoding.EncodeToString([]byte(e.user+":"+e.password)))
	}
	var forms []string
	for _, s := range all {
		forms = append(forms, s, url.QueryEscape(s), url.PathEscape(s))
	}
	slices.SortFunc(forms, func(a, b string) int { return len(b) - len(a) })
	forms = slices.Compact(forms)
	var pairs []string
	for _, s := range forms {
		if len(s) >= minSecretLen {
			pairs = append(pairs, s, "[REDACTED]")
		}
	}
	e.scrub = strings.NewReplacer(pairs...)
}

// readCookie reads the cookie file into the credentials and reports whether
// they changed. e.mu must be held or e not yet shared.
func (e *Endpoint) readCookie() (changed bool, err error) {
	b, err := os.ReadFile(e.cfg.CookieFile)
	if err != nil {
		// The path is not secret; the os error names it and the operation.
		return false, fmt.Errorf("endpoint %s: read cookie file: %w", e.name, err)
	}
	user, pass, ok := strings.Cut(strings.TrimSpace(string(b)), ":")
	if !ok || user == "" || pass == "" {
		return false, fmt.Errorf("%w: cookie file %s does not hold user:password", ErrInvalidConfig, e.cfg.CookieFile)
	}
	changed = user != e.user || pass != e.password
	e.user, e.password = user, pass
	return changed, nil
}

// Name returns the endpoint's label: Config.Name or the redacted URL.
func (e *Endpoint) Name() string { return e.name }

// CloseIdleConnections closes the idle connections of the endpoint's HTTP
// client, e.g. when the endpoint is no longer used. The endpoint stays
// usable.
func (e *Endpoint) CloseIdleConnections() { e.client.CloseIdleConnections() }

// MaxBody returns the response size limit, so that clients can size their
// batches.
func (e *Endpoint) MaxBody() int64 { return e.cfg.MaxBody }

// Scrub returns err with every known secret in its text replaced by
// "[REDACTED]", still unwrapping to err. Clients use it for errors they
// return without going through Do (per-call errors of a batch). Do scrubs
// its own errors.
func (e *Endpoint) Scrub(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	e.mu.Lock()
	clean := e.scrub.Replace(msg)
	e.mu.Unlock()
	if clean == msg {
		return err
	}
	return &redactedError{msg: clean, err: err}
}

// Do sends req and passes the complete response to handle, retrying
// transient failures with backoff until Config.Retries extra attempts are
// spent or ctx ends. op names the operation in errors, logs and the
// Observer (use a small fixed set, e.g. RPC method names).
//
// handle sees every complete response, whatever its status, and returns nil
// (done), an error marked with Transient (retry) or any other error
// (permanent: returned at once). A nil handle means CheckStatus. Transport
// failures (timeouts, refused or reset connections, truncated bodies) are
// transient and do not reach handle; a body over Config.MaxBody is
// ErrTooLarge. An ErrUnauthorized from handle makes the endpoint re-read
// its cookie file once, retrying at once if the cookie changed.
//
// A Retry-After header on a failed response sets the wait before the next
// attempt (at most 60s). Do gives up early when the wait would outlast
// ctx's deadline. The returned error is always an *Error.
func (e *Endpoint) Do(ctx context.Context, op string, req Request, handle func(Response) error) error {
	if handle == nil {
		handle = CheckStatus
	}
	cookieReread := false
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return e.fail(op, attempt-1, err)
		}
		if e.limiter != nil {
			if err := e.wait(ctx); err != nil {
				return e.fail(op, attempt-1, err)
			}
		}
		start := time.Now()
		resp, err := e.attempt(ctx, req)
		took := time.Since(start)
		if err == nil {
			err = handle(resp)
		}
		if err != nil {
			err = e.Scrub(err)
		}
		if e.obs != nil {
			e.obs.Observe(e.name, op, took, err)
		}
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return e.fail(op, attempt, contextError(ctx, err))
		}
		if errors.Is(err, ErrUnauthorized) && e.cfg.CookieFile != "" && !cookieReread {
			cookieReread = true
			if changed, cerr := e.rereadCookie(); cerr != nil {
				return e.fail(op, attempt, fmt.Errorf("%w (re-reading the cookie file failed: %w)", err, cerr))
			} else if changed {
				e.log.LogAttrs(ctx, slog.LevelInfo, "endpoint cookie changed, retrying",
					slog.String("endpoint", e.name), slog.String("op", op))
				continue
			}
		}
		if !IsTransient(err) || attempt > e.cfg.Retries {
			return e.fail(op, attempt, err)
		}
		wait := e.backoff(attempt)
		if ra, ok := retryAfter(resp.Header, time.Now()); ok {
			wait = max(wait, ra)
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return e.fail(op, attempt, fmt.Errorf("%w (not retried: the next attempt in %v would pass the deadline)", err, wait.Round(time.Millisecond)))
		}
		e.log.LogAttrs(ctx, slog.LevelDebug, "endpoint attempt failed, retrying",
			slog.String("endpoint", e.name), slog.String("op", op), slog.Int("attempt", attempt),
			slog.String("kind", Kind(err)), slog.Duration("retry_in", wait), slog.String("err", err.Error()))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return e.fail(op, attempt, contextError(ctx, err))
		case <-t.C:
		}
	}
}

// fail wraps err into the *Error returned by Do.
func (e *Endpoint) fail(op string, attempts int, err error) error {
	return &Error{Endpoint: e.name, Op: op, Attempts: attempts, Err: e.Scrub(err)}
}

// contextError is ctx's error, with the last attempt's error kept.
func contextError(ctx context.Context, last error) error {
	cerr := ctx.Err()
	if errors.Is(last, cerr) {
		return last
	}
	return fmt.Errorf("%w (last attempt: %w)", cerr, last)
}

// wait waits for the rate limiter.
func (e *Endpoint) wait(ctx context.Context) error {
	if err := e.limiter.Wait(ctx); err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		// The limiter refuses waits that would pass ctx's deadline.
		return fmt.Errorf("rate limit: the next request slot is after the deadline: %w", context.DeadlineExceeded)
	}
	return nil
}

func (e *Endpoint) rereadCookie() (bool, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	changed, err := e.readCookie()
	if changed {
		e.rebuildScrub()
	}
	return changed, err
}

// backoff is the wait before retry n (n >= 1): MinBackoff doubled n-1
// times, capped at MaxBackoff, jittered uniformly within [d/2, d].
func (e *Endpoint) backoff(n int) time.Duration {
	d := e.cfg.MaxBackoff
	if n-1 < 62 {
		if b := e.cfg.MinBackoff << (n - 1); b > 0 && b>>(n-1) == e.cfg.MinBackoff && b < d {
			d = b
		}
	}
	if d <= 1 {
		return d
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

// retryAfter parses a Retry-After header (seconds or an HTTP date), capped
// at MaxRetryAfter.
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		d = time.Duration(min(secs, int64(MaxRetryAfter/time.Second))) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = max(t.Sub(now), 0)
	} else {
		return 0, false
	}
	return min(d, MaxRetryAfter), true
}

// attempt sends req once and reads the whole response.
func (e *Endpoint) attempt(ctx context.Context, req Request) (Response, error) {
	actx, cancel := context.WithTimeout(ctx, e.cfg.Timeout)
	defer cancel()

	u := e.base
	if req.Path != "" {
		u.Path = strings.TrimSuffix(u.Path, "/") + req.Path
	}
	if u.Path == "" {
		u.Path = "/"
	}
	u.RawPath = ""
	method := req.Method
	if method == "" {
		method = http.MethodGet
		if req.Body != nil {
			method = http.MethodPost
		}
	}
	var body io.Reader
	if req.Body != nil {
		body = bytes.NewReader(req.Body)
	}
	hreq, err := http.NewRequestWithContext(actx, method, u.String(), body)
	if err != nil {
		// The error would quote the URL: describe it instead.
		return Response{}, fmt.Errorf("endpoint: cannot build a %q request for path %q", method, req.Path)
	}
	hreq.Header.Set("User-Agent", "fundtrace")
	for k, v := range e.headers {
		hreq.Header.Set(k, v)
	}
	for k, v := range req.Header {
		hreq.Header.Set(k, v)
	}
	e.mu.Lock()
	if e.user != "" || e.password != "" {
		hreq.SetBasicAuth(e.user, e.password)
	}
	e.mu.Unlock()

	hresp, err := e.client.Do(hreq)
	if err != nil {
		return Response{}, e.transportError(ctx, actx, err, "send request")
	}
	defer hresp.Body.Close()
	resp := Response{Status: hresp.StatusCode, Header: hresp.Header}
	if hresp.ContentLength > e.cfg.MaxBody {
		return resp, fmt.Errorf("%w: %d bytes announced, limit %d", ErrTooLarge, hresp.ContentLength, e.cfg.MaxBody)
	}
	var buf bytes.Buffer
	if hresp.ContentLength > 0 {
		buf.Grow(int(hresp.ContentLength))
	}
	n, err := buf.ReadFrom(io.LimitReader(hresp.Body, e.cfg.MaxBody+1))
	if err != nil {
		return resp, e.transportError(ctx, actx, err, "read response")
	}
	if n > e.cfg.MaxBody {
		return resp, fmt.Errorf("%w: more than the limit of %d bytes", ErrTooLarge, e.cfg.MaxBody)
	}
	resp.Body = buf.Bytes()
	return resp, nil
}

// transportError turns an error of the HTTP client into a transient error
// wrapping ErrTimeout or ErrUnreachable (or ctx's error), rebuilt so that
// no URL, and so no userinfo or query string, appears in it.
func (e *Endpoint) transportError(ctx, actx context.Context, err error, what string) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if actx.Err() != nil {
		return Transient(fmt.Errorf("%w: %s: no complete response within %v", ErrTimeout, what, e.cfg.Timeout))
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // url.Error's text is "Op \"URL\": cause"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return Transient(fmt.Errorf("%w: %s: %s", ErrTimeout, what, err.Error()))
	}
	msg := err.Error()
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		msg = "connection closed before the response was complete (" + msg + ")"
	}
	return Transient(fmt.Errorf("%w: %s: %s", ErrUnreachable, what, msg))
}
