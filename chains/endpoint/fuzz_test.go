package endpoint

import (
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

// FuzzSnippet checks the excerpt of response bodies put into errors: short,
// valid UTF-8, printable.
func FuzzSnippet(f *testing.F) {
	for _, s := range []string{"", "Work queue depth exceeded", "a\x00b\r\n\tc", "\xff\xfe", strings.Repeat("é", 150), strings.Repeat("x ", 200)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		s := Snippet(body)
		if len(s) > maxSnippet || !utf8.ValidString(s) {
			t.Fatalf("Snippet(%q) = %q: %d bytes, valid UTF-8 %v", body, s, len(s), utf8.ValidString(s))
		}
		for _, r := range s {
			if !unicode.IsPrint(r) && r != ' ' {
				t.Fatalf("Snippet(%q) = %q holds %U", body, s, r)
			}
		}
	})
}

// FuzzRetryAfter checks that no Retry-After header makes Do wait longer
// than MaxRetryAfter or a negative time.
func FuzzRetryAfter(f *testing.F) {
	for _, s := range []string{"0", "120", "-5", "Wed, 21 Oct 2015 07:28:00 GMT", "1e9", "99999999999999999999"} {
		f.Add(s)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := retryAfter(http.Header{"Retry-After": {v}}, now)
		if d < 0 || d > MaxRetryAfter || (!ok && d != 0) {
			t.Fatalf("retryAfter(%q) = %v, %v", v, d, ok)
		}
	})
}
