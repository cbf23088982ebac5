package endpoint

import (
	"fmt"
	"math"
	"net/url"
	"strings"
	"time"
)

// Defaults of a Config; a zero field takes its default in New.
const (
	DefaultTimeout    = 30 * time.Second
	DefaultRetries    = 5
	DefaultMinBackoff = 200 * time.Millisecond
	DefaultMaxBackoff = 10 * time.Second
	DefaultMaxBody    = 512 << 20
	// MaxRetryAfter caps how long a Retry-After header can make Do wait.
	MaxRetryAfter = 60 * time.Second
)

// Config describes one HTTP endpoint of a node or an API. Credentials may be
// given in the URL's userinfo, in User and Password, in a Bitcoin Core
// cookie file, in Headers (API keys) or in the URL's query string (API keys
// of hosted providers); none of them ever appears in an error, a log record
// or an Observer label.
type Config struct {
	// URL is http(s)://[user:pass@]host[:port][/path][?query]. Userinfo
	// becomes basic auth and is stripped from the URL; the query is sent with
	// every request.
	URL string
	// Name labels the endpoint in logs, metrics and errors. Default:
	// Redact(URL).
	Name string
	// Headers are sent with every request, e.g. an API key. Their values are
	// secret.
	Headers map[string]string
	// User and Password are basic-auth credentials; they override the URL's
	// userinfo.
	User, Password string
	// CookieFile is a Bitcoin Core .cookie file ("__cookie__:<hex>"). It is
	// read by New and re-read once when the node answers 401, since the
	// node writes a new cookie each time it starts. It cannot be combined
	// with User, Password or userinfo.
	CookieFile string
	// Rate limits requests per second (attempts, retries included); 0 means
	// unlimited.
	Rate float64
	// Burst is the number of requests that may be sent at once before Rate
	// applies. Default: max(1, ceil(Rate)).
	Burst int
	// Timeout bounds each attempt, response body included. Default 30s.
	Timeout time.Duration
	// Retries is the number of extra attempts after a transient failure.
	// Zero means the default, 5; a negative value means no retry.
	Retries int
	// MinBackoff and MaxBackoff bound the wait between attempts, which
	// doubles from MinBackoff up to MaxBackoff, with jitter. A Retry-After
	// header from the server is honoured up to MaxRetryAfter. Defaults 200ms
	// and 10s.
	MinBackoff, MaxBackoff time.Duration
	// MaxBody limits the size of a response body. Default 512 MiB.
	MaxBody int64
}

// DefaultConfig returns a Config for url with every default filled in.
func DefaultConfig(url string) Config {
	return Config{
		URL:        url,
		Timeout:    DefaultTimeout,
		Retries:    DefaultRetries,
		MinBackoff: DefaultMinBackoff,
		MaxBackoff: DefaultMaxBackoff,
		MaxBody:    DefaultMaxBody,
	}
}

// withDefaults fills zero fields.
func (c Config) withDefaults() Config {
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	switch {
	case c.Retries == 0:
		c.Retries = DefaultRetries
	case c.Retries < 0:
		c.Retries = 0
	}
	if c.MinBackoff == 0 {
		c.MinBackoff = DefaultMinBackoff
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = max(DefaultMaxBackoff, c.MinBackoff)
	}
	if c.MaxBody == 0 {
		c.MaxBody = DefaultMaxBody
	}
	if c.Burst == 0 && c.Rate > 0 {
		c.Burst = int(min(math.Ceil(c.Rate), math.MaxInt32))
	}
	return c
}

// Validate reports the first invalid field as an error wrapping
// ErrInvalidConfig that names the field. It never echoes a secret: a bad
// URL is described, not quoted.
func (c Config) Validate() error {
	if _, err := parseURL(c.URL); err != nil {
		return err
	}
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: %s %s", ErrInvalidConfig, field, fmt.Sprintf(format, args...))
	}
	for k, v := range c.Headers {
		if !validHeaderName(k) {
			return bad("Headers", "has an invalid header name %q", k)
		}
		if strings.ContainsAny(v, "\r\n\x00") {
			return bad("Headers", "value of %q contains a line break or NUL", k)
		}
	}
	u, _ := url.Parse(c.URL)
	if c.CookieFile != "" && (c.User != "" || c.Password != "" || u.User != nil) {
		return bad("CookieFile", "cannot be combined with User, Password or credentials in the URL")
	}
	if strings.Contains(c.User, ":") {
		return bad("User", "must not contain ':'")
	}
	switch {
	case math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0) || c.Rate < 0:
		return bad("Rate", "must be a finite number >= 0 (requests per second)")
	case c.Burst < 0:
		return bad("Burst", "must be >= 0, got %d", c.Burst)
	case c.Timeout < 0:
		return bad("Timeout", "must be >= 0, got %v", c.Timeout)
	case c.MinBackoff < 0:
		return bad("MinBackoff", "must be >= 0, got %v", c.MinBackoff)
	case c.MaxBackoff < 0:
		return bad("MaxBackoff", "must be >= 0, got %v", c.MaxBackoff)
	case c.MinBackoff > 0 && c.MaxBackoff > 0 && c.MaxBackoff < c.MinBackoff:
		return bad("MaxBackoff", "(%v) is below MinBackoff (%v)", c.MaxBackoff, c.MinBackoff)
	case c.MaxBody < 0:
		return bad("MaxBody", "must be >= 0, got %d", c.MaxBody)
	}
	return nil
}

// parseURL parses and checks an endpoint URL. Errors never quote the URL:
// url.Parse's own messages do, userinfo and query included.
func parseURL(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, fmt.Errorf("%w: URL is empty", ErrInvalidConfig)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: URL does not parse (want http(s)://[user:pass@]host[:port][/path])", ErrInvalidConfig)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%w: URL scheme must be http or https", ErrInvalidConfig)
	}
	if u.Host == "" || u.Opaque != "" {
		return nil, fmt.Errorf("%w: URL has no host (want http(s)://host[:port][/path])", ErrInvalidConfig)
	}
	if u.Fragment != "" {
		return nil, fmt.Errorf("%w: URL must not have a #fragment", ErrInvalidConfig)
	}
	return u, nil
}

// validHeaderName reports whether s is an HTTP token (RFC 9110).
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// Redact returns rawURL without secrets, for labels: scheme://host[:port]/path
// with no userinfo, no query and no fragment. Path segments that look like
// API keys (see secretSegment), as hosted providers put them in paths, are
// replaced by "REDACTED". A URL that does not parse gives
// "invalid-url".
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return "invalid-url"
	}
	segs := strings.Split(u.EscapedPath(), "/")
	for i, s := range segs {
		if secretSegment(s) {
			segs[i] = "REDACTED"
		}
	}
	return u.Scheme + "://" + u.Host + strings.Join(segs, "/")
}

// secretSegment reports whether a path segment looks like an API key rather
// than a route: at least 20 characters of letters, digits, '-' and '_',
// with both letters and digits (Infura's /v3/<32 hex>, GetBlock's
// /<uuid-like key>/ and similar).
func secretSegment(s string) bool {
	if len(s) < 20 {
		return false
	}
	var letters, digits bool
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digits = true
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
			letters = true
		case c == '-' || c == '_':
		default:
			return false
		}
	}
	return letters && digits
}
