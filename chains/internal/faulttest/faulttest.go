// Package faulttest is the fault injection shared by the fake nodes of
// chains/bitcoin/bitcointest and chains/ethereum/ethtest: what a scripted
// fault makes a fake HTTP server do with one request (wait, answer with a
// status, drop the connection, send garbage or half a reply).
package faulttest

import (
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

type kind int

const (
	kindNone kind = iota
	kindDelay
	kindStatus
	kindReply
	kindGarbage
	kindTruncate
	kindCloseConn
	kindTagged
)

// Action is what a fault makes the node do with one request. The zero
// value serves normally.
type Action struct {
	kind   kind
	delay  time.Duration
	status int
	body   []byte
	header http.Header
	tag    string
}

// None serves the request normally.
func None() Action { return Action{} }

// Delay waits d (or until the client gives up), then serves normally.
func Delay(d time.Duration) Action { return Action{kind: kindDelay, delay: d} }

// Status replies with the HTTP status code and a plain-text body instead
// of serving. Add headers (Retry-After) with WithHeader.
func Status(code int, body string) Action {
	return Action{kind: kindStatus, status: code, body: []byte(body)}
}

// Reply replies with the status code and exactly body, as JSON.
func Reply(code int, body []byte) Action {
	return Action{kind: kindReply, status: code, body: body}
}

// Garbage replies 200 with bytes that are neither JSON nor a block.
func Garbage() Action { return Action{kind: kindGarbage} }

// Truncate sends the correct status and Content-Length but only half the
// body, then closes the connection.
func Truncate() Action { return Action{kind: kindTruncate} }

// CloseConn closes the connection without replying.
func CloseConn() Action { return Action{kind: kindCloseConn} }

// Tagged is a fault of one fake's own (a wrong block, say): Serve serves
// normally and the fake reads Tag.
func Tagged(tag string) Action { return Action{kind: kindTagged, tag: tag} }

// Tag returns the tag of a Tagged action, else "".
func (a Action) Tag() string { return a.tag }

// WithHeader returns a copy of a with a response header added.
func (a Action) WithHeader(key, value string) Action {
	h := a.header.Clone()
	if h == nil {
		h = http.Header{}
	}
	h.Add(key, value)
	a.header = h
	return a
}

// Always returns a fault applying a to every request.
func Always[R any](a Action) func(R) Action {
	return func(R) Action { return a }
}

// Times returns a fault applying a to the next n requests, then nothing.
func Times[R any](n int, a Action) func(R) Action {
	var count atomic.Int64
	return func(R) Action {
		if count.Add(1) <= int64(n) {
			return a
		}
		return None()
	}
}

// Response is a fake node's answer to a request.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Serve answers r under a: it waits, replies with a's status or body, or
// drops the connection; otherwise it calls serve and writes its answer,
// as garbage or cut in half when a says so.
func Serve(w http.ResponseWriter, r *http.Request, a Action, serve func() Response) {
	switch a.kind {
	case kindDelay:
		t := time.NewTimer(a.delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	case kindStatus, kindReply:
		for k, vs := range a.header {
			w.Header()[k] = vs
		}
		ctype := "text/plain; charset=utf-8"
		if a.kind == kindReply {
			ctype = "application/json"
		}
		w.Header().Set("Content-Type", ctype)
		w.WriteHeader(a.status)
		_, _ = w.Write(a.body)
		return
	case kindCloseConn:
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			_ = conn.Close()
		}
		return
	}
	rep := serve()
	switch a.kind {
	case kindGarbage:
		rep = Response{Status: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
			Body: []byte("\x00\x01<html>garbage{]\"")}
	case kindTruncate:
		truncate(w, rep)
		return
	}
	for k, vs := range rep.Header {
		w.Header()[k] = vs
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(rep.Body)))
	w.WriteHeader(rep.Status)
	_, _ = w.Write(rep.Body)
}

// truncate writes rep's status line and headers with the full
// Content-Length, half the body, and closes the connection.
func truncate(w http.ResponseWriter, rep Response) {
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	fmt.Fprintf(buf, "HTTP/1.1 %d %s\r\n", rep.Status, http.StatusText(rep.Status))
	for k, vs := range rep.Header {
		for _, v := range vs {
			fmt.Fprintf(buf, "%s: %s\r\n", k, v)
		}
	}
	fmt.Fprintf(buf, "Content-Length: %d\r\n\r\n", len(rep.Body))
	_, _ = buf.Write(rep.Body[:len(rep.Body)/2])
	_ = buf.Flush()
}
