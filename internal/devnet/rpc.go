package devnet

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// maxReply bounds an RPC reply body (a batch of regtest blocks stays far
// below it).
const maxReply = 256 << 20

type rpcRequest struct {
	JSONRPC string `json:"jsonrpc"`
	ID      int    `json:"id"`
	Method  string `json:"method"`
	Params  []any  `json:"params"`
}

type rpcReply struct {
	Result json.RawMessage `json:"result"`
	Error  *RPCError       `json:"error"`
	ID     *int            `json:"id"`
}

// BatchCall is one call of a Batch. Batch fills Result or Err.
type BatchCall struct {
	Method string
	Params []any
	Result json.RawMessage
	Err    error
}

// Call sends one JSON-RPC request and returns the raw result. An error
// object in the reply is returned as a *RPCError (wrapped).
func (b *Btcd) Call(ctx context.Context, method string, params ...any) (json.RawMessage, error) {
	if params == nil {
		params = []any{}
	}
	body, err := json.Marshal(rpcRequest{JSONRPC: "1.0", ID: 1, Method: method, Params: params})
	if err != nil {
		return nil, fmt.Errorf("devnet: %s: encode params: %w", method, err)
	}
	raw, err := b.post(ctx, method, body)
	if err != nil {
		return nil, err
	}
	var rep rpcReply
	if err := json.Unmarshal(raw, &rep); err != nil {
		return nil, fmt.Errorf("devnet: %s: %w: %s", method, ErrMalformed, snippet(raw))
	}
	if rep.Error != nil {
		return nil, fmt.Errorf("devnet: %s: %w", method, rep.Error)
	}
	return rep.Result, nil
}

// Batch sends every call in one HTTP request (a JSON array, which btcd
// serves in order) and fills each call's Result or Err. The returned error
// is about the request as a whole.
func (b *Btcd) Batch(ctx context.Context, calls []BatchCall) error {
	if len(calls) == 0 {
		return nil
	}
	reqs := make([]rpcRequest, len(calls))
	for i, c := range calls {
		p := c.Params
		if p == nil {
			p = []any{}
		}
		reqs[i] = rpcRequest{JSONRPC: "1.0", ID: i, Method: c.Method, Params: p}
	}
	body, err := json.Marshal(reqs)
	if err != nil {
		return fmt.Errorf("devnet: batch: encode params: %w", err)
	}
	op := fmt.Sprintf("batch of %d %s", len(calls), calls[0].Method)
	raw, err := b.post(ctx, op, body)
	if err != nil {
		return err
	}
	var reps []rpcReply
	if err := json.Unmarshal(raw, &reps); err != nil {
		return fmt.Errorf("devnet: %s: %w: %s", op, ErrMalformed, snippet(raw))
	}
	seen := make([]bool, len(calls))
	for _, r := range reps {
		if r.ID == nil || *r.ID < 0 || *r.ID >= len(calls) || seen[*r.ID] {
			return fmt.Errorf("devnet: %s: %w: unexpected reply id", op, ErrMalformed)
		}
		i := *r.ID
		seen[i] = true
		if r.Error != nil {
			calls[i].Err = fmt.Errorf("devnet: %s: %w", calls[i].Method, r.Error)
			continue
		}
		calls[i].Result = r.Result
	}
	for i, ok := range seen {
		if !ok {
			calls[i].Err = fmt.Errorf("devnet: %s: %w: no reply in batch", calls[i].Method, ErrMalformed)
		}
	}
	return nil
}

// post sends body and returns the reply body whatever the HTTP status
// (btcd puts JSON error objects in non-200 replies too).
func (b *Btcd) post(ctx context.Context, op string, body []byte) ([]byte, error) {
	select {
	case <-b.done:
		return nil, fmt.Errorf("%w: %s: %s", ErrStopped, op, b.exitStatus())
	default:
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.RPCURL(), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("devnet: %s: %w", op, err)
	}
	req.SetBasicAuth(b.user, b.pass)
	req.Header.Set("Content-Type", "application/json")
	resp, err := b.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("devnet: %s: %w", op, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxReply))
	if err != nil {
		return nil, fmt.Errorf("devnet: %s: read reply: %w", op, err)
	}
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return nil, fmt.Errorf("devnet: %s: %w (HTTP %d)", op, ErrUnauthorized, resp.StatusCode)
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, fmt.Errorf("devnet: %s: %w: empty body with HTTP %d", op, ErrMalformed, resp.StatusCode)
	}
	return raw, nil
}

// snippet returns a short printable prefix of b for error messages.
func snippet(b []byte) string {
	s := strings.ToValidUTF8(string(b), "?")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
