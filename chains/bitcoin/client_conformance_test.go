package bitcoin_test

import (
	"testing"

	"github.com/fundtrace/fundtrace/chains/bitcoin"
	"github.com/fundtrace/fundtrace/chains/bitcoin/bitcointest"
	"github.com/fundtrace/fundtrace/chains/chaintest"
	"github.com/fundtrace/fundtrace/chains/endpoint"
)

// The JSON-RPC client passes the source conformance suite against fake
// nodes of both flavours (Core: legacy and JSON-RPC 2.0 replies; btcd),
// serving the suite's chain, reorgs included.
func TestClientConformance(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts bitcointest.NodeOptions
	}{
		{"core", bitcointest.NodeOptions{Flavor: bitcointest.Core, User: "u", Password: "p"}},
		{"core-jsonrpc2", bitcointest.NodeOptions{Flavor: bitcointest.Core, JSONRPC2: true, User: "u", Password: "p"}},
		{"btcd", bitcointest.NodeOptions{Flavor: bitcointest.Btcd, User: "u", Password: "p", ReverseBatch: true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			chaintest.RunSourceTests(t, func(t *testing.T, c *chaintest.Chain) chaintest.Source {
				node := bitcointest.NewRPCNode(t, c, tt.opts)
				cfg := ncConfig(node.URL())
				cfg.User, cfg.Password = tt.opts.User, tt.opts.Password
				client := bitcoin.NewClient(ncEndpoint(t, cfg, endpoint.Options{}), c.Net())
				if err := client.Check(t.Context()); err != nil {
					t.Fatalf("Check: %v", err)
				}
				return client
			})
		})
	}
}

// The Esplora client passes the same suite against a fake Esplora server.
func TestEsploraConformance(t *testing.T) {
	chaintest.RunSourceTests(t, func(t *testing.T, c *chaintest.Chain) chaintest.Source {
		node := bitcointest.NewEsploraNode(t, c, bitcointest.NodeOptions{Headers: map[string]string{"X-Api-Key": "k3y-s3cret"}})
		cfg := ncConfig(node.URL())
		cfg.Headers = map[string]string{"X-Api-Key": "k3y-s3cret"}
		e := bitcoin.NewEsplora(ncEndpoint(t, cfg, endpoint.Options{}), c.Net())
		if err := e.Check(t.Context()); err != nil {
			t.Fatalf("Check: %v", err)
		}
		return e
	})
}
