package devnet

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/fundtrace/fundtrace/chains"
)

const (
	pollEvery   = 20 * time.Millisecond
	waitTimeout = 60 * time.Second // bound on WaitTip, Connect and Disconnect waits
	batchBlocks = 50               // raw blocks per batch request
	batchHashes = 500              // getblockhash calls per batch request
)

// Generate mines n blocks paying the node's mining address and returns
// their hashes in height order.
func (b *Btcd) Generate(ctx context.Context, n int) ([]chains.Hash, error) {
	raw, err := b.Call(ctx, "generate", n)
	if err != nil {
		return nil, err
	}
	var hexes []string
	if err := json.Unmarshal(raw, &hexes); err != nil {
		return nil, fmt.Errorf("devnet: generate: %w: %s", ErrMalformed, snippet(raw))
	}
	return parseHashes("generate", hexes)
}

// Tip returns the height and hash of the node's best block, read together
// from getblockchaininfo.
func (b *Btcd) Tip(ctx context.Context) (int64, chains.Hash, error) {
	raw, err := b.Call(ctx, "getblockchaininfo")
	if err != nil {
		return 0, chains.Hash{}, err
	}
	var info struct {
		Blocks        int64  `json:"blocks"`
		BestBlockHash string `json:"bestblockhash"`
	}
	if err := json.Unmarshal(raw, &info); err != nil {
		return 0, chains.Hash{}, fmt.Errorf("devnet: getblockchaininfo: %w: %s", ErrMalformed, snippet(raw))
	}
	h, err := chains.ParseHash(info.BestBlockHash)
	if err != nil {
		return 0, chains.Hash{}, fmt.Errorf("devnet: getblockchaininfo: %w: %w", ErrMalformed, err)
	}
	return info.Blocks, h, nil
}

// BestChain returns the hashes of the node's best chain, genesis first.
// It retries if the tip moves while the hashes are read.
func (b *Btcd) BestChain(ctx context.Context) ([]chains.Hash, error) {
	for try := 0; ; try++ {
		height, tip, err := b.Tip(ctx)
		if err != nil {
			return nil, err
		}
		hashes, err := b.blockHashes(ctx, 0, height)
		if err != nil {
			return nil, err
		}
		if hashes[len(hashes)-1] == tip {
			return hashes, nil
		}
		if try == 5 {
			return nil, fmt.Errorf("devnet: best chain of %s keeps changing", b.rpcAddr)
		}
	}
}

// BlockHash returns the hash of the best-chain block at height.
func (b *Btcd) BlockHash(ctx context.Context, height int64) (chains.Hash, error) {
	hs, err := b.blockHashes(ctx, height, height)
	if err != nil {
		return chains.Hash{}, err
	}
	return hs[0], nil
}

// blockHashes returns the best-chain hashes from..to (inclusive), batched.
func (b *Btcd) blockHashes(ctx context.Context, from, to int64) ([]chains.Hash, error) {
	out := make([]chains.Hash, 0, to-from+1)
	for lo := from; lo <= to; lo += batchHashes {
		hi := min(to, lo+batchHashes-1)
		calls := make([]BatchCall, 0, hi-lo+1)
		for h := lo; h <= hi; h++ {
			calls = append(calls, BatchCall{Method: "getblockhash", Params: []any{h}})
		}
		if err := b.Batch(ctx, calls); err != nil {
			return nil, err
		}
		for i, c := range calls {
			if c.Err != nil {
				return nil, fmt.Errorf("devnet: block hash at height %d: %w", lo+int64(i), c.Err)
			}
			var s string
			if err := json.Unmarshal(c.Result, &s); err != nil {
				return nil, fmt.Errorf("devnet: getblockhash: %w: %s", ErrMalformed, snippet(c.Result))
			}
			h, err := chains.ParseHash(s)
			if err != nil {
				return nil, fmt.Errorf("devnet: getblockhash: %w: %w", ErrMalformed, err)
			}
			out = append(out, h)
		}
	}
	return out, nil
}

// RawBlock returns the serialized block with the given hash (getblock
// HASH 0), from any branch the node knows.
func (b *Btcd) RawBlock(ctx context.Context, h chains.Hash) ([]byte, error) {
	raw, err := b.rawBlocks(ctx, []chains.Hash{h})
	if err != nil {
		return nil, err
	}
	return raw[0], nil
}

func (b *Btcd) rawBlocks(ctx context.Context, hashes []chains.Hash) ([][]byte, error) {
	out := make([][]byte, 0, len(hashes))
	for lo := 0; lo < len(hashes); lo += batchBlocks {
		part := hashes[lo:min(len(hashes), lo+batchBlocks)]
		calls := make([]BatchCall, len(part))
		for i, h := range part {
			calls[i] = BatchCall{Method: "getblock", Params: []any{h.String(), 0}}
		}
		if err := b.Batch(ctx, calls); err != nil {
			return nil, err
		}
		for i, c := range calls {
			if c.Err != nil {
				return nil, fmt.Errorf("devnet: block %s: %w", part[i], c.Err)
			}
			var s string
			if err := json.Unmarshal(c.Result, &s); err != nil {
				return nil, fmt.Errorf("devnet: getblock: %w: %s", ErrMalformed, snippet(c.Result))
			}
			data, err := hex.DecodeString(s)
			if err != nil {
				return nil, fmt.Errorf("devnet: getblock %s: %w: %w", part[i], ErrMalformed, err)
			}
			out = append(out, data)
		}
	}
	return out, nil
}

// blocks fetches and decodes blocks, checking each one's hash.
func (b *Btcd) blocks(ctx context.Context, hashes []chains.Hash) ([]*wire.MsgBlock, error) {
	raws, err := b.rawBlocks(ctx, hashes)
	if err != nil {
		return nil, err
	}
	out := make([]*wire.MsgBlock, len(raws))
	for i, raw := range raws {
		var blk wire.MsgBlock
		if err := blk.Deserialize(bytes.NewReader(raw)); err != nil {
			return nil, fmt.Errorf("devnet: decode block %s: %w: %w", hashes[i], ErrMalformed, err)
		}
		if got := toChains(blk.BlockHash()); got != hashes[i] {
			return nil, fmt.Errorf("devnet: getblock %s returned block %s: %w", hashes[i], got, ErrMalformed)
		}
		out[i] = &blk
	}
	return out, nil
}

// WaitTip waits until the node's best block is h (at most 60 s).
func (b *Btcd) WaitTip(ctx context.Context, h chains.Hash) error {
	var height int64
	var tip chains.Hash
	err := poll(ctx, func(ctx context.Context) (bool, error) {
		var err error
		height, tip, err = b.Tip(ctx)
		return err == nil && tip == h, err
	})
	if err != nil {
		return fmt.Errorf("devnet: wait for tip %s on %s (now %d %s): %w", h, b.rpcAddr, height, tip, err)
	}
	return nil
}

// InvalidateBlock marks h and its descendants invalid; the node reorgs to
// the best remaining branch.
func (b *Btcd) InvalidateBlock(ctx context.Context, h chains.Hash) error {
	_, err := b.Call(ctx, "invalidateblock", h.String())
	return err
}

// SendRawTransaction submits a serialized transaction and returns its txid.
func (b *Btcd) SendRawTransaction(ctx context.Context, tx []byte) (chains.Hash, error) {
	raw, err := b.Call(ctx, "sendrawtransaction", hex.EncodeToString(tx))
	if err != nil {
		return chains.Hash{}, err
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return chains.Hash{}, fmt.Errorf("devnet: sendrawtransaction: %w: %s", ErrMalformed, snippet(raw))
	}
	return chains.ParseHash(s)
}

// mempool returns the txids in the node's mempool.
func (b *Btcd) mempool(ctx context.Context) ([]chains.Hash, error) {
	raw, err := b.Call(ctx, "getrawmempool")
	if err != nil {
		return nil, err
	}
	var hexes []string
	if err := json.Unmarshal(raw, &hexes); err != nil {
		return nil, fmt.Errorf("devnet: getrawmempool: %w: %s", ErrMalformed, snippet(raw))
	}
	return parseHashes("getrawmempool", hexes)
}

// submit sends txs in one batch, in order; errs[i] is tx i's rejection.
func (b *Btcd) submit(ctx context.Context, txs []*wire.MsgTx) ([]error, error) {
	calls := make([]BatchCall, len(txs))
	for i, tx := range txs {
		calls[i] = BatchCall{Method: "sendrawtransaction", Params: []any{hex.EncodeToString(serialize(tx))}}
	}
	if err := b.Batch(ctx, calls); err != nil {
		return nil, err
	}
	errs := make([]error, len(txs))
	for i, c := range calls {
		errs[i] = c.Err
	}
	return errs, nil
}

func parseHashes(op string, hexes []string) ([]chains.Hash, error) {
	out := make([]chains.Hash, len(hexes))
	for i, s := range hexes {
		h, err := chains.ParseHash(s)
		if err != nil {
			return nil, fmt.Errorf("devnet: %s: %w: %w", op, ErrMalformed, err)
		}
		out[i] = h
	}
	return out, nil
}

// poll calls check every pollEvery until it returns true, ctx ends or
// waitTimeout passes. Errors from check are retried; the last one is
// reported on timeout.
func poll(ctx context.Context, check func(context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, waitTimeout)
	defer cancel()
	var lastErr error
	for {
		ok, err := check(ctx)
		if ok {
			return nil
		}
		if err != nil {
			lastErr = err
		}
		select {
		case <-ctx.Done():
			if lastErr != nil {
				return fmt.Errorf("%w (%w): last error: %w", ErrTimeout, ctx.Err(), lastErr)
			}
			return fmt.Errorf("%w: %w", ErrTimeout, ctx.Err())
		case <-time.After(pollEvery):
		}
	}
}

// toChains converts a btcd hash (wire order) to display order.
func toChains(h chainhash.Hash) chains.Hash {
	var out chains.Hash
	for i, c := range h {
		out[len(h)-1-i] = c
	}
	return out
}

// toWire converts a display-order hash to btcd's wire order.
func toWire(h chains.Hash) chainhash.Hash {
	var out chainhash.Hash
	for i, c := range h {
		out[len(h)-1-i] = c
	}
	return out
}
