package endpoint

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// TransportURL is the URL to give a client library whose requests go
// through HTTPClient (go-ethereum's rpc.DialOptions): the transport sends
// every request to the endpoint's own URL whatever the request's URL says,
// so this placeholder keeps the real URL, and the secrets in it, out of the
// library's errors.
const TransportURL = "http://endpoint.invalid/"

// DefaultOp labels the requests of HTTPClient whose context has no
// operation (see WithOp).
const DefaultOp = "rpc"

// maxStatusBody bounds the body kept in a StatusError.
const maxStatusBody = 4 << 10

type opKey struct{}

// WithOp returns a copy of ctx that labels the requests sent through
// HTTPClient with op in errors, logs and the Observer, e.g. the JSON-RPC
// method ("eth_getBlockByNumber") or "batch:eth_call". Use a small fixed set
// of labels. Without it the label is DefaultOp.
func WithOp(ctx context.Context, op string) context.Context {
	return context.WithValue(ctx, opKey{}, op)
}

// OpFrom returns the label set by WithOp, or DefaultOp.
func OpFrom(ctx context.Context) string {
	if op, ok := ctx.Value(opKey{}).(string); ok && op != "" {
		return op
	}
	return DefaultOp
}

// StatusError is the error for a response refused by its HTTP status (see
// HTTPClient). It unwraps to CheckStatus's error, so errors.Is(err,
// ErrUnauthorized) and the like work through it.
type StatusError struct {
	// StatusCode is the response's HTTP status.
	StatusCode int
	// Body is the start of the response body (at most 4 KiB), already
	// scrubbed of the endpoint's secrets, so that a client can read a
	// JSON-RPC error object the server put there.
	Body []byte
	// Err is the classification of the status (CheckStatus).
	Err error
}

func (e *StatusError) Error() string { return e.Err.Error() }
func (e *StatusError) Unwrap() error { return e.Err }

// HTTPClient returns an *http.Client that sends every request through Do,
// for client libraries that want an *http.Client (go-ethereum's rpc.Client:
// rpc.DialOptions(ctx, TransportURL, rpc.WithHTTPClient(e.HTTPClient()))).
// Each request thus gets the endpoint's credentials and headers, rate limit,
// per-attempt timeout, retries of transient failures, body size limit,
// Observer and secret scrubbing. The request's body is buffered (it is
// sent again on a retry); its URL is ignored: every request goes to the
// endpoint's URL. Its context's WithOp label names the operation.
//
// The response the library sees:
//   - 2xx: passed through, if its body starts like JSON ('{' or '['); any
//     other body is an ErrMalformed error, not retried.
//   - 401 and 403: a *StatusError wrapping ErrUnauthorized, after one
//     attempt (a cookie file is re-read once).
//   - 408, 429 and 5xx (but 501): retried as transient; once the retries
//     are spent, a *StatusError wrapping ErrTimeout, ErrRateLimited or
//     ErrServer. A body holding a JSON-RPC error that retrying cannot cure
//     (codes -32700, -32600, -32601, -32602: parse error, invalid request,
//     method not found, invalid params) is passed through instead, with its
//     status.
//   - other 4xx and 501: passed through, status kept, if the body is a
//     JSON-RPC reply (the client library reads the error object; some
//     providers refuse methods that way), else a *StatusError wrapping
//     ErrNotFound or ErrBadStatus, not retried.
//   - 1xx and 3xx: a *StatusError wrapping ErrBadStatus (redirects are not
//     followed: they would resend the credentials elsewhere).
//
// Errors reach the library as the *Error of Do (http.Client wraps it in a
// *url.Error naming TransportURL); errors.As finds it.
func (e *Endpoint) HTTPClient() *http.Client {
	return &http.Client{
		Transport: &transport{ep: e},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// BatchRejected is what HTTPClient's transport returns when a JSON-RPC
// batch (a request body that is an array) is answered by one object: a
// node or provider refusing the batch as a whole (too many calls, a rate
// limit). JSON-RPC libraries would only report a reply that does not
// decode; Body holds the object for the client to read.
type BatchRejected struct {
	Endpoint string
	Body     []byte
}

func (e *BatchRejected) Error() string {
	return fmt.Sprintf("endpoint %s: batch answered by a single object: %s", e.Endpoint, Snippet(e.Body))
}

// transport is the http.RoundTripper of HTTPClient.
type transport struct{ ep *Endpoint }

// RoundTrip implements http.RoundTripper.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("endpoint %s: read the request body: %w", t.ep.name, err)
		}
		body = b
		if body == nil {
			body = []byte{}
		}
	}
	header := make(map[string]string, len(req.Header))
	for k, vs := range req.Header {
		switch http.CanonicalHeaderKey(k) {
		case "Content-Length", "Host", "Connection", "Transfer-Encoding", "Accept-Encoding":
			continue
		}
		if len(vs) > 0 {
			header[k] = vs[0]
		}
	}
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	var resp Response
	err := t.ep.Do(req.Context(), OpFrom(req.Context()), Request{Method: method, Body: body, Header: header},
		func(r Response) error {
			resp = r
			return t.ep.classify(r)
		})
	if err != nil {
		return nil, err
	}
	if resp.Status == http.StatusOK && firstByte(body) == '[' && firstByte(resp.Body) == '{' {
		return nil, &BatchRejected{Endpoint: t.ep.name, Body: resp.Body}
	}
	return &http.Response{
		Status:        strconv.Itoa(resp.Status) + " " + http.StatusText(resp.Status),
		StatusCode:    resp.Status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        resp.Header,
		Body:          io.NopCloser(bytes.NewReader(resp.Body)),
		ContentLength: int64(len(resp.Body)),
		Request:       req,
	}, nil
}

// classify decides what HTTPClient does with a complete response: nil
// passes it to the library, an error fails the attempt (see HTTPClient).
func (e *Endpoint) classify(r Response) error {
	s := r.Status
	switch {
	case s >= 200 && s <= 299:
		if !startsLikeJSON(r.Body) {
			return fmt.Errorf("%w: HTTP %d with a body that is not JSON: %q", ErrMalformed, s, Snippet(r.Body))
		}
		return nil
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		return e.statusError(r, CheckStatus(r))
	case s == http.StatusNotImplemented:
		if isJSONRPCReply(r.Body) {
			return nil
		}
		// CheckStatus makes every 5xx transient; "not implemented" will not
		// go away by retrying.
		return e.statusError(r, fmt.Errorf("%w: HTTP 501 Not Implemented: %q", ErrBadStatus, Snippet(r.Body)))
	case s == http.StatusRequestTimeout || s == http.StatusTooManyRequests || s >= 500 && s <= 599:
		if code, ok := jsonRPCErrorCode(r.Body); ok && permanentRPCCode(code) {
			return nil
		}
		return e.statusError(r, CheckStatus(r))
	case s >= 400 && s <= 499:
		if isJSONRPCReply(r.Body) {
			return nil
		}
		return e.statusError(r, CheckStatus(r))
	}
	return e.statusError(r, CheckStatus(r))
}

// statusError wraps err into a *StatusError keeping a scrubbed excerpt of
// the body, transient if err is.
func (e *Endpoint) statusError(r Response, err error) error {
	b := r.Body[:min(len(r.Body), maxStatusBody)]
	e.mu.Lock()
	clean := e.scrub.Replace(string(b))
	e.mu.Unlock()
	se := &StatusError{StatusCode: r.Status, Body: []byte(clean), Err: err}
	if IsTransient(err) {
		return Transient(se)
	}
	return se
}

// startsLikeJSON reports whether body's first non-space byte opens a JSON
// object or array: a cheap test that catches HTML error pages and other
// garbage before a JSON decoder reports them obscurely.
func startsLikeJSON(body []byte) bool {
	c := firstByte(body)
	return c == '{' || c == '['
}

// firstByte returns the first byte of b that is not JSON white space, or 0.
func firstByte(b []byte) byte {
	if b = bytes.TrimLeft(b, " \t\r\n"); len(b) > 0 {
		return b[0]
	}
	return 0
}

// isJSONRPCReply reports whether body is a JSON-RPC reply: an object with
// an error object or a result, or an array (a batch's replies).
func isJSONRPCReply(body []byte) bool {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return false
	}
	if body[0] == '[' {
		return json.Valid(body)
	}
	if _, ok := jsonRPCErrorCode(body); ok {
		return true
	}
	var rep struct {
		Result json.RawMessage `json:"result"`
	}
	return body[0] == '{' && json.Unmarshal(body, &rep) == nil && rep.Result != nil
}

// jsonRPCErrorCode returns the code of the JSON-RPC error object in body
// (a single reply, or the first of a batch's).
func jsonRPCErrorCode(body []byte) (int, bool) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return 0, false
	}
	type reply struct {
		Error *struct {
			Code *int `json:"code"`
		} `json:"error"`
	}
	var rep reply
	switch body[0] {
	case '{':
		if json.Unmarshal(body, &rep) != nil {
			return 0, false
		}
	case '[':
		var reps []reply
		if json.Unmarshal(body, &reps) != nil || len(reps) == 0 {
			return 0, false
		}
		rep = reps[0]
	default:
		return 0, false
	}
	if rep.Error == nil || rep.Error.Code == nil {
		return 0, false
	}
	return *rep.Error.Code, true
}

// permanentRPCCode reports whether a JSON-RPC error code says the request
// itself is wrong, so that retrying cannot help.
func permanentRPCCode(code int) bool {
	switch code {
	case -32700, -32600, -32601, -32602:
		return true
	}
	return false
}

// StatusCode returns the HTTP status of the response that err reports (a
// *StatusError inside it), or 0.
func StatusCode(err error) int {
	var se *StatusError
	if errors.As(err, &se) {
		return se.StatusCode
	}
	return 0
}
