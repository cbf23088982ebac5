package metrics_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fundtrace/fundtrace/chains/endpoint"
	"github.com/fundtrace/fundtrace/metrics"
)

func TestExposition(t *testing.T) {
	r := metrics.New()
	c := r.Chain("btc-regtest")
	c.Tip(120)
	c.Committed(100, 101, 5000)
	c.Committed(110, 10, 700)
	c.Reorg(107, 3)
	c.Committed(118, 11, 50)
	r.Observe("http://127.0.0.1:18443", "getblock", 20*time.Millisecond, nil)
	r.Observe("http://127.0.0.1:18443", "getblock", time.Second, &endpoint.Error{Endpoint: "x", Op: "getblock", Err: endpoint.ErrTimeout})

	ctx, cancel := context.WithCancel(t.Context())
	addr, wait, err := r.Serve(ctx, "127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); wait() }()
	resp, err := http.Get("http://" + addr.String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		`fundtrace_indexer_height{chain="btc-regtest"} 118`,
		`fundtrace_source_tip_height{chain="btc-regtest"} 120`,
		`fundtrace_indexer_tip_lag_blocks{chain="btc-regtest"} 2`,
		`fundtrace_indexer_blocks_total{chain="btc-regtest"} 122`,
		`fundtrace_indexer_txs_total{chain="btc-regtest"} 5750`,
		`fundtrace_indexer_reorgs_total{chain="btc-regtest"} 1`,
		`fundtrace_indexer_unwound_blocks_total{chain="btc-regtest"} 3`,
		`fundtrace_source_request_duration_seconds_count{endpoint="http://127.0.0.1:18443",op="getblock"} 2`,
		`fundtrace_source_request_errors_total{endpoint="http://127.0.0.1:18443",kind="timeout",op="getblock"} 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("exposition lacks %q", want)
		}
	}
}
