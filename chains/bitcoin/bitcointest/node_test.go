package bitcointest_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/bitcoin/bitcointest"
	"github.com/fundtrace/fundtrace/internal/bundle"
)

// testChain is a fixed chain of the first bundled mainnet blocks.
type testChain struct {
	hashes []chains.Hash
	blocks map[chains.Hash][]byte
}

func (c *testChain) Hashes() []chains.Hash { return append([]chains.Hash(nil), c.hashes...) }
func (c *testChain) RawBlock(h chains.Hash) ([]byte, bool) {
	b, ok := c.blocks[h]
	return b, ok
}

var _ bitcointest.Chain = (*testChain)(nil)

var mainnet = sync.OnceValues(func() ([][]byte, error) {
	r, err := bundle.MainnetBlocksReader()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var blocks [][]byte
	var frame [8]byte
	for len(blocks) < 200 {
		if _, err := io.ReadFull(r, frame[:]); err != nil {
			return nil, err
		}
		b := make([]byte, binary.LittleEndian.Uint32(frame[4:]))
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, err
		}
		blocks = append(blocks, b)
	}
	return blocks, nil
})

func hashOf(raw []byte) chains.Hash {
	a := sha256.Sum256(raw[:80])
	b := sha256.Sum256(a[:])
	var h chains.Hash
	for i := range h {
		h[i] = b[31-i]
	}
	return h
}

func newChain(t testing.TB) (*testChain, [][]byte) {
	t.Helper()
	blocks, err := mainnet()
	if err != nil {
		t.Fatalf("read bundled blocks: %v", err)
	}
	c := &testChain{blocks: map[chains.Hash][]byte{}}
	for _, b := range blocks {
		h := hashOf(b)
		c.hashes = append(c.hashes, h)
		c.blocks[h] = b
	}
	return c, blocks
}

type httpReply struct {
	status int
	header http.Header
	body   string
}

func post(t testing.TB, url, body string, header ...string) httpReply {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return do(t, req)
}

func get(t testing.TB, url string) httpReply {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, req)
}

// client opens a connection per request: a node's Stop must not leave the
// tests a dead pooled connection.
var client = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

func do(t testing.TB, req *http.Request) httpReply {
	t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return httpReply{resp.StatusCode, resp.Header, strings.TrimSpace(string(b))}
}

func TestRPCNodeShapes(t *testing.T) {
	c, blocks := newChain(t)
	genesis := c.hashes[0].String()
	tests := []struct {
		name       string
		opts       bitcointest.NodeOptions
		body       string
		wantStatus int
		wantBody   string
	}{
		{"core result", bitcointest.NodeOptions{}, `{"jsonrpc":"1.0","id":1,"method":"getblockhash","params":[0]}`,
			200, `{"result":"` + genesis + `","error":null,"id":1}`},
		{"core method not found", bitcointest.NodeOptions{}, `{"jsonrpc":"1.0","id":2,"method":"nope","params":[]}`,
			404, `{"result":null,"error":{"code":-32601,"message":"Method not found"},"id":2}`},
		{"core out of range", bitcointest.NodeOptions{}, `{"jsonrpc":"1.0","id":3,"method":"getblockhash","params":[999]}`,
			500, `{"result":null,"error":{"code":-8,"message":"Block height out of range"},"id":3}`},
		{"core 2.0 error", bitcointest.NodeOptions{}, `{"jsonrpc":"2.0","id":4,"method":"nope"}`,
			200, `{"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found"},"id":4}`},
		{"core 2.0 result", bitcointest.NodeOptions{}, `{"jsonrpc":"2.0","id":"a","method":"getblockcount"}`,
			200, `{"jsonrpc":"2.0","result":199,"id":"a"}`},
		{"forced 2.0", bitcointest.NodeOptions{JSONRPC2: true}, `{"jsonrpc":"1.0","id":5,"method":"getblockcount"}`,
			200, `{"jsonrpc":"2.0","result":199,"id":5}`},
		{"btcd out of range", bitcointest.NodeOptions{Flavor: bitcointest.Btcd}, `{"jsonrpc":"1.0","id":6,"method":"getblockhash","params":[999]}`,
			200, `{"result":null,"error":{"code":-1,"message":"Block number out of range"},"id":6}`},
		{"btcd method not found", bitcointest.NodeOptions{Flavor: bitcointest.Btcd}, `{"jsonrpc":"1.0","id":7,"method":"nope"}`,
			200, `{"result":null,"error":{"code":-32601,"message":"Method not found"},"id":7}`},
		{"batch", bitcointest.NodeOptions{}, `[{"jsonrpc":"1.0","id":1,"method":"getblockcount"},{"jsonrpc":"1.0","id":2,"method":"nope"}]`,
			200, `[{"result":199,"error":null,"id":1},{"result":null,"error":{"code":-32601,"message":"Method not found"},"id":2}]`},
		{"reversed batch", bitcointest.NodeOptions{ReverseBatch: true}, `[{"jsonrpc":"1.0","id":1,"method":"getblockcount"},{"jsonrpc":"1.0","id":2,"method":"getblockhash","params":[0]}]`,
			200, `[{"result":"` + genesis + `","error":null,"id":2},{"result":199,"error":null,"id":1}]`},
		{"getblock", bitcointest.NodeOptions{}, `{"jsonrpc":"1.0","id":8,"method":"getblock","params":["` + genesis + `",0]}`,
			200, `{"result":"` + hex.EncodeToString(blocks[0]) + `","error":null,"id":8}`},
		{"getblock unknown", bitcointest.NodeOptions{}, `{"jsonrpc":"1.0","id":9,"method":"getblock","params":["` + strings.Repeat("0", 64) + `",0]}`,
			500, `{"result":null,"error":{"code":-5,"message":"Block not found"},"id":9}`},
		{"parse error", bitcointest.NodeOptions{}, `{nope`,
			500, `{"result":null,"error":{"code":-32700,"message":"Parse error"},"id":null}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := bitcointest.NewRPCNode(t, c, tt.opts)
			got := post(t, n.URL(), tt.body)
			if got.status != tt.wantStatus || got.body != tt.wantBody {
				t.Errorf("reply = %d %s\nwant %d %s", got.status, got.body, tt.wantStatus, tt.wantBody)
			}
		})
	}
}

func TestRPCNodeHeader(t *testing.T) {
	c, _ := newChain(t)
	n := bitcointest.NewRPCNode(t, c, bitcointest.NodeOptions{})
	got := post(t, n.URL(), `{"jsonrpc":"1.0","id":1,"method":"getblockheader","params":["`+c.hashes[170].String()+`"]}`)
	var rep struct {
		Result struct {
			Hash          string `json:"hash"`
			Height        int64  `json:"height"`
			Confirmations int64  `json:"confirmations"`
			Prev          string `json:"previousblockhash"`
			Next          string `json:"nextblockhash"`
			NTx           int64  `json:"nTx"`
		} `json:"result"`
	}
	if err := json.Unmarshal([]byte(got.body), &rep); err != nil {
		t.Fatalf("decode %s: %v", got.body, err)
	}
	r := rep.Result
	if r.Hash != c.hashes[170].String() || r.Height != 170 || r.Confirmations != 30 || r.Prev != c.hashes[169].String() || r.Next != c.hashes[171].String() || r.NTx != 2 {
		t.Errorf("getblockheader 170 = %+v", r)
	}
}

func TestAuth(t *testing.T) {
	c, _ := newChain(t)
	cookie := filepath.Join(t.TempDir(), ".cookie")
	const body = `{"jsonrpc":"1.0","id":1,"method":"getblockcount"}`
	tests := []struct {
		name       string
		opts       bitcointest.NodeOptions
		header     []string
		wantStatus int
		wantBody   string
	}{
		{"core no auth", bitcointest.NodeOptions{User: "u", Password: "p"}, nil, 401, ""},
		{"btcd no auth", bitcointest.NodeOptions{User: "u", Password: "p", Flavor: bitcointest.Btcd}, nil, 401, "401 Unauthorized."},
		{"basic auth", bitcointest.NodeOptions{User: "u", Password: "p"}, []string{"Authorization", "Basic dTpw"}, 200, ""},
		{"missing header", bitcointest.NodeOptions{Headers: map[string]string{"X-Key": "k"}}, nil, 401, ""},
		{"header", bitcointest.NodeOptions{Headers: map[string]string{"X-Key": "k"}}, []string{"X-Key", "k"}, 200, ""},
		{"cookie missing", bitcointest.NodeOptions{CookieFile: cookie}, nil, 401, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := bitcointest.NewRPCNode(t, c, tt.opts)
			got := post(t, n.URL(), body, tt.header...)
			if got.status != tt.wantStatus || (tt.wantBody != "" && got.body != tt.wantBody) {
				t.Errorf("reply = %d %q, want %d %q", got.status, got.body, tt.wantStatus, tt.wantBody)
			}
		})
	}
	t.Run("cookie rotates on restart", func(t *testing.T) {
		n := bitcointest.NewRPCNode(t, c, bitcointest.NodeOptions{CookieFile: cookie})
		read := func() string {
			b, err := os.ReadFile(cookie)
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
		first := read()
		user, pass, _ := strings.Cut(first, ":")
		if user != "__cookie__" || len(pass) != 64 {
			t.Fatalf("cookie = %q, want __cookie__:<64 hex>", first)
		}
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, n.URL(), strings.NewReader(body))
		req.SetBasicAuth(user, pass)
		if got := do(t, req); got.status != 200 {
			t.Fatalf("with the cookie: %d %s", got.status, got.body)
		}
		n.Stop()
		n.Restart()
		if read() == first {
			t.Error("Restart kept the cookie")
		}
		req, _ = http.NewRequestWithContext(t.Context(), http.MethodPost, n.URL(), strings.NewReader(body))
		req.SetBasicAuth(user, pass)
		if got := do(t, req); got.status != 401 {
			t.Errorf("with the old cookie after restart: %d, want 401", got.status)
		}
	})
}

func TestEsploraNode(t *testing.T) {
	c, blocks := newChain(t)
	n := bitcointest.NewEsploraNode(t, c, bitcointest.NodeOptions{})
	tests := []struct {
		path       string
		wantStatus int
		wantBody   string
	}{
		{"/blocks/tip/hash", 200, c.hashes[199].String()},
		{"/blocks/tip/height", 200, "199"},
		{"/block-height/170", 200, c.hashes[170].String()},
		{"/block-height/200", 404, "Block not found"},
		{"/block/" + c.hashes[0].String() + "/raw", 200, string(blocks[0])},
		{"/block/" + c.hashes[0].String() + "/header", 200, hex.EncodeToString(blocks[0][:80])},
		{"/block/" + strings.Repeat("1", 64) + "/raw", 404, "Block not found"},
		{"/nothing", 404, "Not Found"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			got := get(t, n.URL()+tt.path)
			if got.status != tt.wantStatus || got.body != strings.TrimSpace(tt.wantBody) {
				t.Errorf("GET %s = %d %.100q, want %d %.100q", tt.path, got.status, got.body, tt.wantStatus, tt.wantBody)
			}
		})
	}
	got := get(t, n.URL()+"/block/"+c.hashes[170].String())
	var b struct {
		ID      string `json:"id"`
		Height  int64  `json:"height"`
		TxCount int64  `json:"tx_count"`
	}
	if err := json.Unmarshal([]byte(got.body), &b); err != nil || b.ID != c.hashes[170].String() || b.Height != 170 || b.TxCount != 2 {
		t.Errorf("GET /block/<170> = %s (%v)", got.body, err)
	}
}

func TestFaults(t *testing.T) {
	c, blocks := newChain(t)
	getblock := `{"jsonrpc":"1.0","id":1,"method":"getblock","params":["` + c.hashes[5].String() + `",0]}`
	tests := []struct {
		name  string
		fault bitcointest.FaultAction
		check func(t *testing.T, resp *http.Response, err error)
	}{
		{"status", bitcointest.Status(503, "busy").WithHeader("Retry-After", "7"), func(t *testing.T, resp *http.Response, err error) {
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 503 || string(b) != "busy" || resp.Header.Get("Retry-After") != "7" {
				t.Errorf("reply = %d %q Retry-After %q", resp.StatusCode, b, resp.Header.Get("Retry-After"))
			}
		}},
		{"garbage", bitcointest.Garbage(), func(t *testing.T, resp *http.Response, err error) {
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || json.Valid(b) {
				t.Errorf("reply = %d %q, want 200 and not JSON", resp.StatusCode, b)
			}
		}},
		{"truncate", bitcointest.Truncate(), func(t *testing.T, resp *http.Response, err error) {
			b, rerr := io.ReadAll(resp.Body)
			if !errors.Is(rerr, io.ErrUnexpectedEOF) || int64(len(b)) != resp.ContentLength/2 {
				t.Errorf("read %d of %d bytes, err %v; want half and ErrUnexpectedEOF", len(b), resp.ContentLength, rerr)
			}
		}},
		{"wrong block", bitcointest.WrongBlock(), func(t *testing.T, resp *http.Response, err error) {
			b, _ := io.ReadAll(resp.Body)
			if !bytes.Contains(b, []byte(hex.EncodeToString(blocks[0]))) {
				t.Errorf("reply %.80s... does not hold block 0", b)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := bitcointest.NewRPCNode(t, c, bitcointest.NodeOptions{})
			var seen []bitcointest.FaultRequest
			var mu sync.Mutex
			n.SetFault(func(r bitcointest.FaultRequest) bitcointest.FaultAction {
				mu.Lock()
				seen = append(seen, r)
				mu.Unlock()
				return tt.fault
			})
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, n.URL(), strings.NewReader(getblock))
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("request: %v", err)
			}
			defer resp.Body.Close()
			tt.check(t, resp, err)
			if len(seen) != 1 || seen[0].N != 1 || strings.Join(seen[0].Ops, ",") != "getblock" || n.Requests() != 1 {
				t.Errorf("fault saw %+v, node counted %d; want one getblock", seen, n.Requests())
			}
		})
	}
	t.Run("close connection", func(t *testing.T) {
		n := bitcointest.NewRPCNode(t, c, bitcointest.NodeOptions{})
		n.SetFault(bitcointest.Times(1, bitcointest.CloseConn()))
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, n.URL(), strings.NewReader(getblock))
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			t.Fatalf("request succeeded with %d, want a closed connection", resp.StatusCode)
		}
		if got := post(t, n.URL(), getblock); got.status != 200 {
			t.Errorf("second request = %d, want 200 (Times(1) is spent)", got.status)
		}
	})
	t.Run("delay", func(t *testing.T) {
		n := bitcointest.NewEsploraNode(t, c, bitcointest.NodeOptions{})
		n.SetFault(bitcointest.Times(1, bitcointest.Delay(100*time.Millisecond)))
		start := time.Now()
		get(t, n.URL()+"/blocks/tip/height")
		if took := time.Since(start); took < 100*time.Millisecond {
			t.Errorf("delayed request took %v, want >= 100ms", took)
		}
	})
}

func TestStopRestart(t *testing.T) {
	c, _ := newChain(t)
	n := bitcointest.NewEsploraNode(t, c, bitcointest.NodeOptions{})
	url := n.URL()
	n.Stop()
	n.Stop() // idempotent
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url+"/blocks/tip/height", nil)
	if resp, err := client.Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("stopped node answered")
	}
	n.Restart()
	if n.URL() != url {
		t.Errorf("URL after restart = %s, want %s", n.URL(), url)
	}
	if got := get(t, url+"/blocks/tip/height"); got.body != "199" {
		t.Errorf("tip height after restart = %q", got.body)
	}
	// Stop during a delayed request does not hang.
	n.SetFault(bitcointest.Always(bitcointest.Delay(10 * time.Second)))
	done := make(chan struct{})
	go func() {
		defer close(done)
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url+"/blocks/tip/height", nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	time.Sleep(50 * time.Millisecond)
	n.Stop()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("request still pending 5s after Stop")
	}
}
