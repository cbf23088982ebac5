package devnet

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/schnorr"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/fundtrace/fundtrace/chains"
)

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAddressFor checks address encoding against published vectors.
func TestAddressFor(t *testing.T) {
	alice := sha256.Sum256([]byte("alice"))
	_, alicePub := btcec.PrivKeyFromBytes(alice[:])
	one := make([]byte, 32)
	one[31] = 1
	_, gen := btcec.PrivKeyFromBytes(one) // the generator point G
	tests := []struct {
		name   string
		params *chaincfg.Params
		pub    func(t *testing.T) *btcec.PublicKey
		kind   string
		want   string
	}{
		// local-chains.md 4.2, accepted by btcd regtest.
		{"sha256 alice p2wpkh regtest", &chaincfg.RegressionNetParams,
			func(*testing.T) *btcec.PublicKey { return alicePub }, P2WPKH, "bcrt1qxwu5ku9m6s60ptgpjftxn0klx35cx26cc7gyur"},
		// Private key 1, compressed.
		{"key 1 p2pkh mainnet", &chaincfg.MainNetParams,
			func(*testing.T) *btcec.PublicKey { return gen }, P2PKH, "1BgGZ9tcN4rm9KBzDn7KprQz87SZ26SAMH"},
		{"key 1 p2wpkh mainnet", &chaincfg.MainNetParams,
			func(*testing.T) *btcec.PublicKey { return gen }, P2WPKH, "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"},
		// BIP86 test vector m/86'/0'/0'/0/0.
		{"bip86 vector p2tr mainnet", &chaincfg.MainNetParams, func(t *testing.T) *btcec.PublicKey {
			pub, err := schnorr.ParsePubKey(mustHex(t, "cc8a4bc64d897bddc5fbc2f670f7a8ba0b386779106cf1223c6fc5d7cd6fc115"))
			if err != nil {
				t.Fatal(err)
			}
			return pub
		}, P2TR, "bc1p5cyxnuxmeuwuvkwfem96lqzszd02n6xdcjrs20cac6yqjjwudpxqkedrcr"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := addressFor(tc.params, tc.pub(t), tc.kind)
			if got != tc.want {
				t.Errorf("addressFor = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestWalletKeysDeterministic(t *testing.T) {
	a, b, c := NewWallet(nil, "alice"), NewWallet(nil, "alice"), NewWallet(nil, "bob")
	if a.MiningAddress() != b.MiningAddress() {
		t.Errorf("same seed: mining addresses %s and %s differ", a.MiningAddress(), b.MiningAddress())
	}
	if a.MiningAddress() == c.MiningAddress() {
		t.Errorf("seeds alice and bob share mining address %s", a.MiningAddress())
	}
	// Key i is sha256(seed/i).
	sum := sha256.Sum256([]byte("alice/0"))
	_, pub := btcec.PrivKeyFromBytes(sum[:])
	if want, _ := addressFor(&chaincfg.RegressionNetParams, pub, P2WPKH); a.MiningAddress() != want {
		t.Errorf("MiningAddress = %s, want P2WPKH of sha256(alice/0) %s", a.MiningAddress(), want)
	}
	prefixes := map[string]string{P2PKH: "m", P2WPKH: "bcrt1q", P2TR: "bcrt1p"}
	seen := map[string]bool{}
	for i, kind := range []string{P2PKH, P2WPKH, P2TR, P2TR, P2PKH} {
		got, again := a.NewAddress(kind), b.NewAddress(kind)
		if got != again {
			t.Errorf("address %d (%s): %s and %s from the same seed", i, kind, got, again)
		}
		if p := prefixes[kind]; !strings.HasPrefix(got, p) && !(kind == P2PKH && strings.HasPrefix(got, "n")) {
			t.Errorf("address %d (%s) = %s, want prefix %s", i, kind, got, p)
		}
		if seen[got] {
			t.Errorf("address %d (%s) = %s was handed out before", i, kind, got)
		}
		seen[got] = true
	}
}

func TestNewAddressUnknownKindPanics(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "p2sh") {
			t.Errorf("recover() = %v, want a panic naming the kind", r)
		}
	}()
	NewWallet(nil, "x").NewAddress("p2sh")
}

// TestSignTx spends one output of each kind (and mixes) and runs btcd's
// script engine on every input; a tampered signature must fail.
func TestSignTx(t *testing.T) {
	w := NewWallet(nil, "signer")
	kindsByCase := []struct {
		name  string
		kinds []string
	}{
		{"p2pkh", []string{P2PKH}},
		{"p2wpkh", []string{P2WPKH}},
		{"p2tr", []string{P2TR}},
		{"all kinds", []string{P2TR, P2PKH, P2WPKH}},
		{"many taproot", []string{P2TR, P2TR, P2TR, P2WPKH}},
	}
	for _, tc := range kindsByCase {
		t.Run(tc.name, func(t *testing.T) {
			var ins []*coin
			for i, k := range tc.kinds {
				key := w.newKey(k)
				ins = append(ins, &coin{
					op:    wire.OutPoint{Hash: chainhash.DoubleHashH([]byte(tc.name)), Index: uint32(i)},
					value: int64(100_000 * (i + 1)), key: key,
				})
			}
			outs := []*wire.TxOut{
				wire.NewTxOut(50_000, w.newKey(P2TR).script),
				wire.NewTxOut(60_000, w.newKey(P2PKH).script),
				wire.NewTxOut(70_000, w.newKey(P2WPKH).script),
			}
			tx, err := w.buildTx(ins, outs)
			if err != nil {
				t.Fatal(err)
			}
			if err := verifyInputs(tx, ins); err != nil {
				t.Fatalf("verify: %v", err)
			}
			if got, est := vsize(tx), (weightFor(ins, scripts(outs))+3)/4; got > est {
				t.Errorf("vsize %d > estimate %d", got, est)
			}
			// Tamper: flip a bit of the last input's signature.
			bad := tx.Copy()
			last := bad.TxIn[len(bad.TxIn)-1]
			if len(last.Witness) > 0 {
				last.Witness[0][5] ^= 1
			} else {
				last.SignatureScript[5] ^= 1
			}
			if err := verifyInputs(bad, ins); err == nil {
				t.Error("verify accepted a tampered signature")
			}
		})
	}
}

func scripts(outs []*wire.TxOut) [][]byte {
	s := make([][]byte, len(outs))
	for i, o := range outs {
		s[i] = o.PkScript
	}
	return s
}

func verifyInputs(tx *wire.MsgTx, ins []*coin) error {
	prevs := txscript.NewMultiPrevOutFetcher(nil)
	for _, c := range ins {
		prevs.AddPrevOut(c.op, wire.NewTxOut(c.value, c.key.script))
	}
	hashes := txscript.NewTxSigHashes(tx, prevs)
	for i, c := range ins {
		vm, err := txscript.NewEngine(c.key.script, tx, i, txscript.StandardVerifyFlags, nil, hashes, c.value, prevs)
		if err != nil {
			return err
		}
		if err := vm.Execute(); err != nil {
			return fmt.Errorf("input %d (%s): %w", i, c.key.kind, err)
		}
	}
	return nil
}

func populateMem(t *testing.T, seed string, plan Plan) (PopulateSummary, *memChain, *Wallet) {
	t.Helper()
	w := NewWallet(nil, seed)
	m, err := newMemChain(w.params, w.MiningAddress())
	if err != nil {
		t.Fatal(err)
	}
	s, err := w.populate(t.Context(), m, plan)
	if err != nil {
		t.Fatalf("populate: %v", err)
	}
	return s, m, w
}

// TestPopulateMemChain runs Populate against the in-memory chain, which
// verifies every input's script, maturity and fee.
func TestPopulateMemChain(t *testing.T) {
	t.Parallel()
	s, m, w := populateMem(t, "mem", Plan{Txs: 300, TxsPerBlock: 30, Seed: 7})
	if s.Txs != 300 || len(s.TxIDs) != 300 {
		t.Errorf("Txs = %d, TxIDs = %d, want 300", s.Txs, len(s.TxIDs))
	}
	if want := 101 + 10; s.Blocks != want {
		t.Errorf("Blocks = %d, want %d", s.Blocks, want)
	}
	if s.FirstHeight != 102 || s.LastHeight != 111 {
		t.Errorf("heights %d..%d, want 102..111", s.FirstHeight, s.LastHeight)
	}
	if len(m.pool) != 0 {
		t.Errorf("%d transactions left in the mempool", len(m.pool))
	}
	// Every transaction is in a block, in order.
	var inBlocks []chains.Hash
	var cbFees int64
	for h := s.FirstHeight; h <= s.LastHeight; h++ {
		blk := m.chain[h]
		cbFees += blk.Transactions[0].TxOut[0].Value - m.subsidy(h)
		for _, tx := range blk.Transactions[1:] {
			inBlocks = append(inBlocks, toChains(tx.TxHash()))
		}
	}
	if len(inBlocks) != len(s.TxIDs) {
		t.Fatalf("blocks hold %d transactions, want %d", len(inBlocks), len(s.TxIDs))
	}
	for i := range inBlocks {
		if inBlocks[i] != s.TxIDs[i] {
			t.Fatalf("block transaction %d = %s, want %s", i, inBlocks[i], s.TxIDs[i])
		}
	}
	if cbFees != s.Fees {
		t.Errorf("coinbases collected %d sat of fees, summary says %d", cbFees, s.Fees)
	}
	for _, k := range kinds {
		if s.Created[k] == 0 || s.Spent[k] == 0 {
			t.Errorf("kind %s: created %d, spent %d; want both > 0", k, s.Created[k], s.Spent[k])
		}
	}
	for name, n := range map[string]int{
		"CoinbaseSpends": s.CoinbaseSpends, "UnconfirmedSpends": s.UnconfirmedSpends,
		"MultiInput": s.MultiInput, "ManyOutputs": s.ManyOutputs, "ReusedAddresses": s.ReusedAddresses,
	} {
		if n == 0 {
			t.Errorf("%s = 0, want > 0", name)
		}
	}
	// The wallet's view matches the chain's unspent outputs.
	var chainTotal int64
	for op, o := range m.utxo {
		if w.keys[string(o.PkScript)] == nil {
			t.Errorf("chain output %s is not the wallet's", op)
		}
		if _, ok := w.index[op]; !ok {
			t.Errorf("wallet lost output %s", op)
		}
		chainTotal += o.Value
	}
	if len(w.coins) != len(m.utxo) {
		t.Errorf("wallet holds %d outputs, chain %d", len(w.coins), len(m.utxo))
	}
	var walletTotal int64
	for _, c := range w.coins {
		walletTotal += c.value
	}
	if walletTotal != chainTotal {
		t.Errorf("wallet total %d, chain total %d", walletTotal, chainTotal)
	}
	t.Logf("created %v spent %v coinbase spends %d unconfirmed spends %d multi-input %d 3+ outputs %d reused %d fees %d, %d outputs left",
		s.Created, s.Spent, s.CoinbaseSpends, s.UnconfirmedSpends, s.MultiInput, s.ManyOutputs, s.ReusedAddresses, s.Fees, len(w.coins))
}

func TestPopulateDeterministic(t *testing.T) {
	t.Parallel()
	plan := Plan{Txs: 80, TxsPerBlock: 20, Seed: 42}
	a, _, _ := populateMem(t, "d", plan)
	b, _, _ := populateMem(t, "d", plan)
	if a.Fingerprint != b.Fingerprint {
		t.Errorf("same seed: fingerprints %s and %s differ", a.Fingerprint, b.Fingerprint)
	}
	for i := range a.TxIDs {
		if a.TxIDs[i] != b.TxIDs[i] {
			t.Fatalf("same seed: tx %d is %s and %s", i, a.TxIDs[i], b.TxIDs[i])
		}
	}
	plan.Seed = 43
	c, _, _ := populateMem(t, "d", plan)
	if c.Fingerprint == a.Fingerprint {
		t.Errorf("seeds 42 and 43 give the same fingerprint %s", a.Fingerprint)
	}
	// Another key seed changes txids but not the graph's shape.
	plan.Seed = 42
	d, _, _ := populateMem(t, "other keys", plan)
	if d.Fingerprint != a.Fingerprint {
		t.Errorf("key seed changed the shape: %s vs %s", d.Fingerprint, a.Fingerprint)
	}
	if d.TxIDs[0] == a.TxIDs[0] {
		t.Errorf("different keys gave the same first txid %s", a.TxIDs[0])
	}
}

func TestPopulateBadPlan(t *testing.T) {
	w := NewWallet(nil, "p")
	m, err := newMemChain(w.params, w.MiningAddress())
	if err != nil {
		t.Fatal(err)
	}
	for _, plan := range []Plan{{Txs: -1}, {Txs: 1, TxsPerBlock: -5}} {
		if _, err := w.populate(t.Context(), m, plan); !errors.Is(err, ErrBadPlan) {
			t.Errorf("populate(%+v) = %v, want ErrBadPlan", plan, err)
		}
	}
}

func TestPopulateNotMiningToWallet(t *testing.T) {
	w := NewWallet(nil, "p")
	m, err := newMemChain(w.params, NewWallet(nil, "someone else").MiningAddress())
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.populate(t.Context(), m, Plan{Txs: 1})
	if !errors.Is(err, ErrInsufficientFunds) || !strings.Contains(err.Error(), w.MiningAddress()) {
		t.Errorf("populate = %v, want ErrInsufficientFunds naming %s", err, w.MiningAddress())
	}
}

// TestWalletReorg: after the chain it scanned is replaced, the wallet
// rescans and keeps only what the new chain gives it.
func TestWalletReorg(t *testing.T) {
	ctx := t.Context()
	w := NewWallet(nil, "r")
	m, err := newMemChain(w.params, w.MiningAddress())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Generate(ctx, 105); err != nil {
		t.Fatal(err)
	}
	if err := w.scan(ctx, m); err != nil {
		t.Fatal(err)
	}
	if got := len(w.spendable()); got != 6 {
		t.Fatalf("spendable after 105 blocks = %d, want 6", got)
	}
	// Replace blocks 101..105 with 3 blocks paying someone else.
	m.chain, m.hashes = m.chain[:101], m.hashes[:101]
	m.payTo = NewWallet(nil, "other").mining.script
	if _, err := m.Generate(ctx, 3); err != nil {
		t.Fatal(err)
	}
	if err := w.scan(ctx, m); err != nil {
		t.Fatal(err)
	}
	if got, want := len(w.hashes), 104; got != want {
		t.Errorf("scanned %d blocks, want %d", got, want)
	}
	if got := len(w.spendable()); got != 4 { // coinbases 1..4 mature at next height 104
		t.Errorf("spendable after reorg = %d, want 4", got)
	}
	if got := len(w.coins); got != 100 {
		t.Errorf("wallet holds %d coinbases, want 100", got)
	}
}

// fakeRPC serves canned JSON-RPC replies.
func fakeRPC(t *testing.T, handle func(body []byte) (int, string)) *Btcd {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "user" || p != "secret" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		body, _ := io.ReadAll(r.Body)
		code, reply := handle(body)
		w.WriteHeader(code)
		_, _ = io.WriteString(w, reply)
	}))
	t.Cleanup(srv.Close)
	return &Btcd{
		rpcAddr: strings.TrimPrefix(srv.URL, "http://"),
		user:    "user", pass: "secret",
		client:  srv.Client(),
		process: newProcess("btcd", slog.New(slog.DiscardHandler)),
	}
}

func TestCall(t *testing.T) {
	tests := []struct {
		name    string
		code    int
		reply   string
		want    string
		wantErr error
		rpcCode int
	}{
		{"result", 200, `{"result":42,"error":null,"id":1}`, "42", nil, 0},
		{"rpc error in 500", 500, `{"result":null,"error":{"code":-5,"message":"Block not found"},"id":1}`, "", nil, -5},
		{"garbage", 200, `<html>`, "", ErrMalformed, 0},
		{"empty", 503, ``, "", ErrMalformed, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var sent rpcRequest
			b := fakeRPC(t, func(body []byte) (int, string) {
				_ = json.Unmarshal(body, &sent)
				return tc.code, tc.reply
			})
			got, err := b.Call(t.Context(), "getblock", "abc", 0)
			if sent.Method != "getblock" || len(sent.Params) != 2 || sent.JSONRPC != "1.0" {
				t.Errorf("sent %+v", sent)
			}
			var rpcErr *RPCError
			switch {
			case tc.rpcCode != 0:
				if !errors.As(err, &rpcErr) || rpcErr.Code != tc.rpcCode {
					t.Errorf("Call error = %v, want RPC error %d", err, tc.rpcCode)
				}
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Errorf("Call error = %v, want %v", err, tc.wantErr)
				}
			default:
				if err != nil || string(got) != tc.want {
					t.Errorf("Call = %s, %v; want %s", got, err, tc.want)
				}
			}
		})
	}
	t.Run("bad credentials", func(t *testing.T) {
		b := fakeRPC(t, func([]byte) (int, string) { return 200, `{"result":1}` })
		b.pass = "wrong"
		if _, err := b.Call(t.Context(), "getblockcount"); !errors.Is(err, ErrUnauthorized) {
			t.Errorf("Call error = %v, want ErrUnauthorized", err)
		}
	})
	t.Run("stopped", func(t *testing.T) {
		b := fakeRPC(t, func([]byte) (int, string) { return 200, `{"result":1}` })
		close(b.done)
		if _, err := b.Call(t.Context(), "getblockcount"); !errors.Is(err, ErrStopped) {
			t.Errorf("Call error = %v, want ErrStopped", err)
		}
	})
}

func TestBatch(t *testing.T) {
	b := fakeRPC(t, func(body []byte) (int, string) {
		var reqs []rpcRequest
		if err := json.Unmarshal(body, &reqs); err != nil || len(reqs) != 3 {
			return 400, ""
		}
		// Out of order, one error, one missing.
		return 200, `[{"result":"b","error":null,"id":1},{"result":null,"error":{"code":-8,"message":"out of range"},"id":2}]`
	})
	calls := []BatchCall{{Method: "m", Params: []any{0}}, {Method: "m", Params: []any{1}}, {Method: "m"}}
	if err := b.Batch(t.Context(), calls); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(calls[0].Err, ErrMalformed) {
		t.Errorf("call 0 error = %v, want ErrMalformed (no reply)", calls[0].Err)
	}
	if string(calls[1].Result) != `"b"` || calls[1].Err != nil {
		t.Errorf("call 1 = %s, %v; want \"b\"", calls[1].Result, calls[1].Err)
	}
	var rpcErr *RPCError
	if !errors.As(calls[2].Err, &rpcErr) || rpcErr.Code != -8 {
		t.Errorf("call 2 error = %v, want RPC error -8", calls[2].Err)
	}
}

func TestBtcdPathBad(t *testing.T) {
	t.Setenv(EnvBtcd, "/nonexistent/btcd")
	_, err := BtcdPath(t.Context())
	if !errors.Is(err, ErrNoBtcd) || !strings.Contains(err.Error(), "/nonexistent/btcd") {
		t.Errorf("BtcdPath = %v, want ErrNoBtcd naming the path", err)
	}
	_, err = StartBtcd(t.Context(), BtcdOptions{})
	if !errors.Is(err, ErrNoBtcd) {
		t.Errorf("StartBtcd = %v, want ErrNoBtcd", err)
	}
	_, err = StartBtcd(t.Context(), BtcdOptions{Path: t.TempDir()})
	if !errors.Is(err, ErrNoBtcd) || !strings.Contains(err.Error(), "not an executable") {
		t.Errorf("StartBtcd(Path: dir) = %v, want ErrNoBtcd", err)
	}
}
