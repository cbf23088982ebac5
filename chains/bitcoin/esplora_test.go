package bitcoin_test

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/bitcoin"
	"github.com/fundtrace/fundtrace/chains/bitcoin/bitcointest"
	"github.com/fundtrace/fundtrace/chains/endpoint"
)

func ncEsplora(t testing.TB, node *bitcointest.Node, id chains.ID, modify func(*endpoint.Config)) *bitcoin.Esplora {
	t.Helper()
	cfg := ncConfig(node.URL())
	if modify != nil {
		modify(&cfg)
	}
	return bitcoin.NewEsplora(ncEndpoint(t, cfg, endpoint.Options{}), mustNetwork(t, id))
}

func TestEsplora(t *testing.T) {
	chain := newNCChain(t)
	tip := int64(ncHeight - 1)
	node := bitcointest.NewEsploraNode(t, chain, bitcointest.NodeOptions{Headers: map[string]string{"X-Api-Key": "k-1234"}})
	e := ncEsplora(t, node, chains.BTC, func(c *endpoint.Config) { c.Headers = map[string]string{"X-Api-Key": "k-1234"} })
	ctx := t.Context()

	if err := e.Check(ctx); err != nil {
		t.Fatalf("Check: %v", err)
	}
	h, hash, err := e.Tip(ctx)
	if err != nil || h != tip || hash != chain.hashes[tip] {
		t.Errorf("Tip = %d, %s, %v; want %d, %s", h, hash, err, tip, chain.hashes[tip])
	}
	for _, height := range []int64{0, 170, tip} {
		got, err := e.BlockHash(ctx, height)
		if err != nil || got != chain.hashes[height] {
			t.Errorf("BlockHash(%d) = %s, %v; want %s", height, got, err, chain.hashes[height])
		}
	}
	for _, height := range []int64{0, 170, 181, 248} {
		got, err := e.Block(ctx, height)
		if err != nil {
			t.Fatalf("Block(%d): %v", height, err)
		}
		if diff := cmp.Diff(ncWantBlock(t, chain, height), got); diff != "" {
			t.Errorf("Block(%d) differs from DecodeBlock (-want +got):\n%s", height, diff)
		}
	}
	raws, err := e.RawBlocks(ctx, chain.hashes[180:185])
	if err != nil {
		t.Fatalf("RawBlocks: %v", err)
	}
	for i, raw := range raws {
		if !bytes.Equal(raw, chain.raw[180+i]) {
			t.Errorf("RawBlocks: block %d differs", 180+i)
		}
	}

	errTests := []struct {
		name string
		call func() error
		want error
	}{
		{"block hash beyond tip", func() error { _, err := e.BlockHash(ctx, ncHeight); return err }, bitcoin.ErrBeyondTip},
		{"block beyond tip", func() error { _, err := e.Block(ctx, ncHeight+1); return err }, bitcoin.ErrBeyondTip},
		{"negative height", func() error { _, err := e.Block(ctx, -1); return err }, bitcoin.ErrBeyondTip},
		{"unknown block", func() error { _, err := e.RawBlocks(ctx, []chains.Hash{{7}}); return err }, endpoint.ErrNotFound},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			before := node.Requests()
			if err := tt.call(); !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if n := node.Requests() - before; n > 1 {
				t.Errorf("%d requests, want at most 1", n)
			}
		})
	}
}

func TestEsploraFaults(t *testing.T) {
	chain := newNCChain(t)
	tests := []faultCase{
		{"500 twice", bitcointest.Times(2, bitcointest.Status(500, "")), 0, nil, 4, ""},
		{"429 retry after", bitcointest.Times(1, bitcointest.Status(429, "Too Many Requests").WithHeader("Retry-After", "0")), 0, nil, 3, ""},
		{"timeout", bitcointest.Times(1, bitcointest.Delay(time.Second)), 50 * time.Millisecond, nil, 3, ""},
		{"truncated", bitcointest.Times(1, bitcointest.Truncate()), 0, nil, 3, ""},
		{"closed connection", bitcointest.Times(1, bitcointest.CloseConn()), 0, nil, 3, ""},
		{"garbage", bitcointest.Times(1, bitcointest.Garbage()), 0, endpoint.ErrMalformed, 1, "malformed"},
		{"wrong block", bitcointest.Always(bitcointest.WrongBlock()), 0, bitcoin.ErrBlockMismatch, 2, "other"},
		{"404 is beyond the tip", bitcointest.Always(bitcointest.Status(404, "")), 0, bitcoin.ErrBeyondTip, 1, "not_found"},
		{"block not found", bitcointest.Always(bitcointest.Status(400, "Block not found")), 0, bitcoin.ErrBeyondTip, 1, "other"},
		{"503 forever", bitcointest.Always(bitcointest.Status(503, "")), 0, endpoint.ErrServer, 4, "server"},
		{"unauthorized", bitcointest.Always(bitcointest.Status(403, "Forbidden")), 0, endpoint.ErrUnauthorized, 1, "unauthorized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			node := bitcointest.NewEsploraNode(t, chain, bitcointest.NodeOptions{})
			node.SetFault(tt.fault)
			e := ncEsplora(t, node, chains.BTC, func(cfg *endpoint.Config) {
				if tt.timeout > 0 {
					cfg.Timeout = tt.timeout
				}
			})
			got, err := e.Block(t.Context(), 170)
			checkFault(t, tt, node, err)
			if err == nil {
				if diff := cmp.Diff(ncWantBlock(t, chain, 170), got); diff != "" {
					t.Errorf("Block(170) differs from DecodeBlock (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestEsploraAuthAndNetwork(t *testing.T) {
	chain := newNCChain(t)
	node := bitcointest.NewEsploraNode(t, chain, bitcointest.NodeOptions{Headers: map[string]string{"X-Api-Key": "k-1234"}})
	t.Run("missing key", func(t *testing.T) {
		before := node.Requests()
		err := ncEsplora(t, node, chains.BTC, nil).Check(t.Context())
		if !errors.Is(err, endpoint.ErrUnauthorized) {
			t.Fatalf("Check = %v, want ErrUnauthorized", err)
		}
		if n := node.Requests() - before; n != 1 {
			t.Errorf("%d requests, want exactly 1", n)
		}
	})
	t.Run("wrong network", func(t *testing.T) {
		e := ncEsplora(t, node, chains.BTCSignet, func(c *endpoint.Config) { c.Headers = map[string]string{"X-Api-Key": "k-1234"} })
		err := e.Check(t.Context())
		if !errors.Is(err, bitcoin.ErrWrongNetwork) || !strings.Contains(err.Error(), chain.hashes[0].String()) || !strings.Contains(err.Error(), "btc-signet") {
			t.Fatalf("Check = %v, want ErrWrongNetwork naming both", err)
		}
	})
}

func TestEsploraStopRestart(t *testing.T) {
	chain := newNCChain(t)
	node := bitcointest.NewEsploraNode(t, chain, bitcointest.NodeOptions{})
	e := ncEsplora(t, node, chains.BTC, func(c *endpoint.Config) {
		c.Retries = 8
		c.MinBackoff, c.MaxBackoff = 20*time.Millisecond, 100*time.Millisecond
	})
	var wg sync.WaitGroup
	defer wg.Wait()
	for h := int64(0); h < 30; h++ {
		if h == 10 {
			node.Stop()
			wg.Go(func() {
				time.Sleep(150 * time.Millisecond)
				node.Restart()
			})
		}
		b, err := e.Block(t.Context(), h)
		if err != nil {
			t.Fatalf("Block(%d): %v", h, err)
		}
		if b.Hash != chain.hashes[h] {
			t.Fatalf("Block(%d) = %s, want %s", h, b.Hash, chain.hashes[h])
		}
	}
}

func TestEsploraSecrets(t *testing.T) {
	chain := newNCChain(t)
	tests := []struct {
		name  string
		fault bitcointest.Fault
		stop  bool
	}{
		{"echoing server", bitcointest.Always(bitcointest.Status(500, "key "+ncHeader+" query "+ncQueryKey)), false},
		{"timeout", bitcointest.Always(bitcointest.Delay(time.Second)), false},
		{"truncated", bitcointest.Always(bitcointest.Truncate()), false},
		{"stopped", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			node := bitcointest.NewEsploraNode(t, chain, bitcointest.NodeOptions{Headers: map[string]string{"X-Api-Key": ncHeader}})
			node.SetFault(tt.fault)
			var logs bytes.Buffer
			obs := &ncObserver{}
			cfg := ncConfig(node.URL() + "/?key=" + ncQueryKey)
			cfg.Timeout = 30 * time.Millisecond
			cfg.Retries = 1
			cfg.Headers = map[string]string{"X-Api-Key": ncHeader}
			e := bitcoin.NewEsplora(ncEndpoint(t, cfg, endpoint.Options{
				Observer: obs,
				Logger:   slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
			}), mustNetwork(t, chains.BTC))
			if tt.stop {
				node.Stop()
			}
			_, err := e.Block(t.Context(), 170)
			if err == nil {
				t.Fatal("Block succeeded, want an error")
			}
			ncNoSecrets(t, "error", err.Error())
			_, _, err = e.Tip(t.Context())
			ncNoSecrets(t, "error", err.Error())
			ncNoSecrets(t, "log", logs.String())
			_, texts := obs.snapshot()
			for _, s := range texts {
				ncNoSecrets(t, "Observer", s)
			}
		})
	}
}
