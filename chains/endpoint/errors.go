package endpoint

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Sentinel errors. Errors returned by Do wrap one of them when the failure
// is the endpoint's (clients add their own for what they decode).
var (
	// ErrInvalidConfig is wrapped by Validate and New for a bad Config.
	ErrInvalidConfig = errors.New("endpoint: invalid config")
	// ErrUnauthorized is an HTTP 401 or 403: wrong or missing credentials.
	// It is never retried (a cookie file is re-read once).
	ErrUnauthorized = errors.New("endpoint: unauthorized (check the credentials)")
	// ErrRateLimited is an HTTP 429. It is transient.
	ErrRateLimited = errors.New("endpoint: rate limited")
	// ErrServer is an HTTP 5xx. It is transient.
	ErrServer = errors.New("endpoint: server error")
	// ErrNotFound is an HTTP 404.
	ErrNotFound = errors.New("endpoint: not found")
	// ErrBadStatus is any other unexpected HTTP status.
	ErrBadStatus = errors.New("endpoint: unexpected HTTP status")
	// ErrTimeout means an attempt got no complete response within
	// Config.Timeout. It is transient.
	ErrTimeout = errors.New("endpoint: timeout")
	// ErrUnreachable means the endpoint could not be reached (refused,
	// unknown host, TLS failure) or dropped the connection before the
	// response was complete (reset, truncated body). It is transient.
	ErrUnreachable = errors.New("endpoint: unreachable")
	// ErrMalformed is wrapped by clients when a response body does not
	// decode.
	ErrMalformed = errors.New("endpoint: malformed response")
	// ErrTooLarge means a response body exceeded Config.MaxBody.
	ErrTooLarge = errors.New("endpoint: response too large")
)

// Error is the error returned by Do: which endpoint and operation failed,
// after how many attempts, and why. Its text is
// "endpoint NAME: OP: [after N attempts: ]cause"; it unwraps to the cause,
// so errors.Is(err, ErrUnauthorized) and the like work through it.
type Error struct {
	Endpoint string
	Op       string
	Attempts int
	Err      error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("endpoint ")
	b.WriteString(e.Endpoint)
	b.WriteString(": ")
	b.WriteString(e.Op)
	b.WriteString(": ")
	if e.Attempts > 1 {
		b.WriteString("after ")
		b.WriteString(strconv.Itoa(e.Attempts))
		b.WriteString(" attempts: ")
	}
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Transient reports whether the failure may go away by itself (a timeout,
// an unreachable or overloaded node) although Do's own retries ran out;
// callers that keep running, such as an indexer following the tip, wait
// and try again. Bad credentials, a missing method or a malformed reply
// are not transient.
func (e *Error) Transient() bool {
	return IsTransient(e.Err) || errors.Is(e.Err, ErrTimeout) || errors.Is(e.Err, ErrUnreachable) ||
		errors.Is(e.Err, ErrServer) || errors.Is(e.Err, ErrRateLimited)
}

// transientError marks its error as worth retrying.
type transientError struct{ err error }

func (t *transientError) Error() string { return t.err.Error() }
func (t *transientError) Unwrap() error { return t.err }

// Transient marks err as transient: Do retries it. Transient(nil) is nil.
func Transient(err error) error {
	if err == nil || IsTransient(err) {
		return err
	}
	return &transientError{err}
}

// IsTransient reports whether err, or an error it wraps, was marked by
// Transient.
func IsTransient(err error) bool {
	var t *transientError
	return errors.As(err, &t)
}

// redactedError is an error whose text had secrets replaced; it unwraps to
// the original so that errors.Is keeps working.
type redactedError struct {
	msg string
	err error
}

func (r *redactedError) Error() string { return r.msg }
func (r *redactedError) Unwrap() error { return r.err }

// maxSnippet bounds the body excerpt in CheckStatus errors.
const maxSnippet = 200

// CheckStatus classifies a response by its HTTP status: nil for 2xx; 401 and
// 403 wrap ErrUnauthorized; 429 is Transient(ErrRateLimited); 408 is
// Transient(ErrTimeout); 5xx is Transient(ErrServer); 404 wraps ErrNotFound;
// anything else ErrBadStatus. The message has the status and a short
// printable excerpt of the body (at most 200 bytes).
func CheckStatus(r Response) error {
	if r.Status >= 200 && r.Status <= 299 {
		return nil
	}
	var sentinel error
	transient := false
	switch {
	case r.Status == http.StatusUnauthorized || r.Status == http.StatusForbidden:
		sentinel = ErrUnauthorized
	case r.Status == http.StatusTooManyRequests:
		sentinel, transient = ErrRateLimited, true
	case r.Status == http.StatusRequestTimeout:
		sentinel, transient = ErrTimeout, true
	case r.Status >= 500 && r.Status <= 599:
		sentinel, transient = ErrServer, true
	case r.Status == http.StatusNotFound:
		sentinel = ErrNotFound
	default:
		sentinel = ErrBadStatus
	}
	msg := "HTTP " + strconv.Itoa(r.Status)
	if t := http.StatusText(r.Status); t != "" {
		msg += " " + t
	}
	if s := Snippet(r.Body); s != "" {
		msg += ": " + strconv.Quote(s)
	}
	err := fmt.Errorf("%w: %s", sentinel, msg)
	if transient {
		return Transient(err)
	}
	return err
}

// Snippet returns a short printable excerpt of a response body for error
// messages: white space runs collapsed to one space, other control and
// invalid bytes dropped, cut to at most 200 bytes on a rune boundary (with
// "..." appended when cut).
func Snippet(body []byte) string {
	var b strings.Builder
	space := false
	for len(body) > 0 && b.Len() < maxSnippet+4 {
		r, n := utf8.DecodeRune(body)
		body = body[n:]
		switch {
		case r == utf8.RuneError && n <= 1:
			continue
		case unicode.IsSpace(r):
			space = b.Len() > 0
			continue
		case !unicode.IsPrint(r):
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	s := b.String()
	if len(s) <= maxSnippet && len(body) == 0 {
		return s
	}
	cut := maxSnippet - 3
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:min(cut, len(s))] + "..."
}

// Kind returns a short label for err, for metrics: ok (nil), canceled,
// timeout, rate_limited, server, unauthorized, unreachable, malformed (also
// for ErrTooLarge), not_found or other.
func Kind(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, ErrRateLimited):
		return "rate_limited"
	case errors.Is(err, ErrServer):
		return "server"
	case errors.Is(err, ErrUnauthorized):
		return "unauthorized"
	case errors.Is(err, ErrUnreachable):
		return "unreachable"
	case errors.Is(err, ErrMalformed), errors.Is(err, ErrTooLarge):
		return "malformed"
	case errors.Is(err, ErrNotFound):
		return "not_found"
	}
	return "other"
}
