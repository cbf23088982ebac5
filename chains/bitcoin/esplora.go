package bitcoin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/endpoint"
)

// Esplora reads blocks from the Esplora REST API (Blockstream's
// blockstream.info/api, mempool.space/api, a self-hosted electrs) through an
// endpoint.Endpoint whose URL is the API's base, e.g.
// https://blockstream.info/api. Every block is verified as by Client. An
// Esplora satisfies the indexer's Source contract and is safe for
// concurrent use.
type Esplora struct {
	ep  *endpoint.Endpoint
	net *Network
}

// NewEsplora returns a client of the Esplora API behind ep, which must
// serve net. Call Check to verify that it does.
func NewEsplora(ep *endpoint.Endpoint, net *Network) *Esplora {
	return &Esplora{ep: ep, net: net}
}

// Name returns the endpoint's name, without secrets.
func (e *Esplora) Name() string { return e.ep.Name() }

// Network returns the network the client expects.
func (e *Esplora) Network() *Network { return e.net }

// maxHashBody bounds a plain-text hash reply (64 digits and white space).
const maxHashBody = 128

// blockNotFound is Esplora's reply text for an unknown block or height.
const blockNotFound = "Block not found"

// get sends GET path (a Request without a body) and runs decode on a 2xx body; other statuses are
// classified by endpoint.CheckStatus unless onStatus (may be nil) returns
// an error for them first.
func (e *Esplora) get(ctx context.Context, op, path string, onStatus func(endpoint.Response) error, decode func([]byte) error) error {
	return e.ep.Do(ctx, op, endpoint.Request{Path: path}, func(r endpoint.Response) error {
		if r.Status < 200 || r.Status > 299 {
			if onStatus != nil {
				if err := onStatus(r); err != nil {
					return err
				}
			}
			return endpoint.CheckStatus(r)
		}
		return decode(r.Body)
	})
}

// parseHashText decodes a plain-text hash reply.
func parseHashText(body []byte) (chains.Hash, error) {
	body = bytes.TrimSpace(body)
	if len(body) > maxHashBody {
		return chains.Hash{}, fmt.Errorf("%w: want a block hash, got %d bytes", endpoint.ErrMalformed, len(body))
	}
	h, err := chains.ParseHash(string(body))
	if err != nil {
		return chains.Hash{}, fmt.Errorf("%w: %w", endpoint.ErrMalformed, err)
	}
	return h, nil
}

// parseEsploraBlock decodes the JSON of GET /block/HASH, of which only id
// and height are used.
func parseEsploraBlock(body []byte) (int64, chains.Hash, error) {
	var b struct {
		ID     string `json:"id"`
		Height *int64 `json:"height"`
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' || json.Unmarshal(body, &b) != nil || b.Height == nil || *b.Height < 0 {
		return 0, chains.Hash{}, fmt.Errorf("%w: want a block object with id and height, got %q", endpoint.ErrMalformed, endpoint.Snippet(body))
	}
	h, err := chains.ParseHash(b.ID)
	if err != nil {
		return 0, chains.Hash{}, fmt.Errorf("%w: block id: %w", endpoint.ErrMalformed, err)
	}
	return *b.Height, h, nil
}

// Check verifies that the API serves the client's network (GET
// /block-height/0 must be the genesis hash), as Client.Check does.
func (e *Esplora) Check(ctx context.Context) error {
	h, err := e.BlockHash(ctx, 0)
	if err != nil {
		return err
	}
	return checkGenesis(e.Name(), e.net, h)
}

// Tip returns the height and hash of the best block: GET /blocks/tip/hash,
// then GET /block/HASH for its height.
func (e *Esplora) Tip(ctx context.Context) (int64, chains.Hash, error) {
	var hash chains.Hash
	err := e.get(ctx, "blocks/tip/hash", "/blocks/tip/hash", nil, func(body []byte) error {
		h, err := parseHashText(body)
		hash = h
		return err
	})
	if err != nil {
		return 0, chains.Hash{}, err
	}
	var height int64
	err = e.get(ctx, "block", "/block/"+hash.String(), nil, func(body []byte) error {
		h, id, err := parseEsploraBlock(body)
		if err == nil && id != hash {
			err = fmt.Errorf("%w: asked for block %s, got %s", endpoint.ErrMalformed, hash, id)
		}
		height = h
		return err
	})
	if err != nil {
		return 0, chains.Hash{}, err
	}
	return height, hash, nil
}

// BlockHash returns the hash of the best-chain block at height (GET
// /block-height/H). A height above the tip (or below zero) gives an error
// wrapping ErrBeyondTip.
func (e *Esplora) BlockHash(ctx context.Context, height int64) (chains.Hash, error) {
	if height < 0 {
		return chains.Hash{}, fmt.Errorf("%w: height %d is negative", ErrBeyondTip, height)
	}
	var hash chains.Hash
	notFound := func(r endpoint.Response) error {
		err := endpoint.CheckStatus(r)
		if errors.Is(err, endpoint.ErrNotFound) || string(bytes.TrimSpace(r.Body)) == blockNotFound {
			return fmt.Errorf("%w: height %d: %w", ErrBeyondTip, height, err)
		}
		return nil
	}
	err := e.get(ctx, "block-height", "/block-height/"+strconv.FormatInt(height, 10), notFound, func(body []byte) error {
		h, err := parseHashText(body)
		hash = h
		return err
	})
	if err != nil {
		return chains.Hash{}, err
	}
	return hash, nil
}

// Block returns the verified best-chain block at height: its hash, then
// GET /block/HASH/raw, decoded and checked as by Client.Block.
func (e *Esplora) Block(ctx context.Context, height int64) (chains.Block, error) {
	hash, err := e.BlockHash(ctx, height)
	if err != nil {
		return chains.Block{}, err
	}
	raw, err := e.rawBlock(ctx, hash)
	if err != nil {
		return chains.Block{}, err
	}
	return verifyBlock(e.net, e.Name(), raw, height, hash)
}

func (e *Esplora) rawBlock(ctx context.Context, hash chains.Hash) ([]byte, error) {
	var raw []byte
	err := e.get(ctx, "block/raw", "/block/"+hash.String()+"/raw", nil, func(body []byte) error {
		raw = body
		return nil
	})
	return raw, err
}

// RawBlocks returns the serialized blocks with the given hashes (any
// branch), one GET /block/HASH/raw each, in order. Each block's header is
// checked against its hash; nothing else is decoded.
func (e *Esplora) RawBlocks(ctx context.Context, hashes []chains.Hash) ([][]byte, error) {
	raws := make([][]byte, len(hashes))
	for i, h := range hashes {
		raw, err := e.rawBlock(ctx, h)
		if err != nil {
			return nil, err
		}
		if err := checkRawHeader(e.Name(), raw, h); err != nil {
			return nil, err
		}
		raws[i] = raw
	}
	return raws, nil
}
