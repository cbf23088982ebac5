package bundle

import (
	"strings"
	"testing"

	"github.com/fundtrace/fundtrace/chains"
)

func TestParsePrevouts(t *testing.T) {
	const txid = "0000000000000000054a714e580b16c583701712ab91060e92dbde6eb1e052a8"
	m, err := parsePrevouts(strings.NewReader("# comment\n\n" + txid + ":7 1250 76a9ac\n"))
	if err != nil {
		t.Fatal(err)
	}
	h, _ := chains.ParseHash(txid)
	p, ok := m[chains.OutPoint{TxID: h, Index: 7}]
	if len(m) != 1 || !ok || p.Value != 1250 || string(p.Script) != "\x76\xa9\xac" {
		t.Fatalf("parsePrevouts = %v", m)
	}
	for _, bad := range []string{
		txid + " 1 00",                        // no index
		txid + ":x 1 00",                      // bad index
		txid + ":4294967296 1 00",             // index beyond uint32
		txid + ":1 -1 00",                     // negative value
		txid + ":1 1 0g",                      // bad hex
		txid + ":1 1",                         // missing script
		"abcd:1 1 00",                         // short txid
		txid + ":1 1 00\n" + txid + ":1 2 00", // duplicate
	} {
		if _, err := parsePrevouts(strings.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "line ") {
			t.Errorf("parsePrevouts(%q) error = %v, want an error naming the line", bad, err)
		}
	}
}
