package faulttest_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fundtrace/fundtrace/chains/internal/faulttest"
)

func TestServe(t *testing.T) {
	body := []byte(`{"result":"` + strings.Repeat("x", 100) + `"}`)
	var act faulttest.Action
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		faulttest.Serve(w, r, act, func() faulttest.Response {
			return faulttest.Response{Status: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: body}
		})
	}))
	defer srv.Close()
	get := func() (int, string, http.Header, error) {
		resp, err := http.Get(srv.URL)
		if err != nil {
			return 0, "", nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header, err
	}
	tests := []struct {
		name   string
		act    faulttest.Action
		status int
		body   string
		err    bool
	}{
		{"none", faulttest.None(), 200, string(body), false},
		{"delay", faulttest.Delay(10 * time.Millisecond), 200, string(body), false},
		{"status", faulttest.Status(503, "busy").WithHeader("Retry-After", "1"), 503, "busy", false},
		{"reply", faulttest.Reply(500, []byte(`{"error":{}}`)), 500, `{"error":{}}`, false},
		{"garbage", faulttest.Garbage(), 200, "\x00\x01<html>garbage{]\"", false},
		{"truncate", faulttest.Truncate(), 0, "", true},
		{"close", faulttest.CloseConn(), 0, "", true},
		{"tagged", faulttest.Tagged("mine"), 200, string(body), false},
	}
	for _, tc := range tests {
		act = tc.act
		status, got, hdr, err := get()
		if (err != nil) != tc.err || !tc.err && (status != tc.status || got != tc.body) {
			t.Errorf("%s: %d %q %v; want %d %q (error %v)", tc.name, status, got, err, tc.status, tc.body, tc.err)
		}
		if tc.name == "status" && hdr.Get("Retry-After") != "1" {
			t.Errorf("status: Retry-After %q", hdr.Get("Retry-After"))
		}
	}
	if faulttest.Tagged("mine").Tag() != "mine" || faulttest.None().Tag() != "" {
		t.Error("Tag")
	}
}

func TestTimes(t *testing.T) {
	f := faulttest.Times[int](2, faulttest.Tagged("x"))
	var got []string
	for i := range 4 {
		if f(i).Tag() == "" {
			got = append(got, "none")
		} else {
			got = append(got, "fault")
		}
	}
	if strings.Join(got, " ") != "fault fault none none" {
		t.Errorf("Times(2) gave %v", got)
	}
}
