package bundle

import (
	_ "embed"
	"encoding/json"
	"fmt"

	"github.com/fundtrace/fundtrace/chains/ethereum"
)

//go:embed ethereum/mainnet-1755634-1755635.json
var ethMainnet []byte

// Facts about the embedded Ethereum blocks.
const (
	EthFirst = 1755634 // first embedded Ethereum mainnet height (23 June 2016)
	EthLast  = 1755635
)

// EthereumBlocks returns Ethereum mainnet blocks 1755634 and 1755635 as a
// node answered for them: each block with its transactions and the
// transactions' receipts (eth_getTransactionReceipt). No call traces were
// recorded, so TraceSource is TracesNone and Extract marks the blocks as
// without internal transfers. Block 1755635 holds a transfer of TheDAO
// tokens, six days after the DAO hack.
func EthereumBlocks() ([]*ethereum.RawBlock, error) {
	var f struct {
		Blocks []struct {
			Block    *ethereum.RPCBlock     `json:"block"`
			Receipts []*ethereum.RPCReceipt `json:"receipts"`
		} `json:"blocks"`
	}
	if err := json.Unmarshal(ethMainnet, &f); err != nil {
		return nil, fmt.Errorf("bundle: embedded Ethereum blocks: %w", err)
	}
	out := make([]*ethereum.RawBlock, 0, len(f.Blocks))
	for _, b := range f.Blocks {
		out = append(out, &ethereum.RawBlock{Block: b.Block, Receipts: b.Receipts, TraceSource: ethereum.TracesNone})
	}
	return out, nil
}
