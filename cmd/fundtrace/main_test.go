package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fundtrace/fundtrace/internal/bundle"
	"github.com/fundtrace/fundtrace/store/storetest"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestMain lets tests run the command as a child process (to signal or
// kill it): with FUNDTRACE_TEST_MAIN=1 the test binary is fundtrace.
func TestMain(m *testing.M) {
	if os.Getenv("FUNDTRACE_TEST_MAIN") == "1" {
		main()
	}
	os.Exit(m.Run())
}

type result struct {
	code           int
	stdout, stderr string
}

func fundtrace(t *testing.T, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return result{code, out.String(), errb.String()}
}

// TestDemo runs the README's first command with nothing configured.
func TestDemo(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", t.TempDir())
	t.Setenv("FUNDTRACE_DB", "")
	r := fundtrace(t, "demo")
	if r.code != 0 {
		t.Fatalf("demo exit %d\nstderr: %s", r.code, r.stderr)
	}
	for _, want := range []string{
		"tip            14131  00000000b3e750f37fdb42e1018799a9f44b546d393b130b369590a072430a1c",
		"transaction f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16",
		"0  1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3  10.00000000 BTC  [p2pk]",
		"balance     18.00000000 BTC",
		"received    195.00000000 BTC in 6 transactions",
		// Clustering of the bundled blocks: 69 transactions spend from
		// several addresses; the largest cluster gathers 70 addresses.
		"68 hold several addresses, the largest 70",
		"(block 11666): cioh, confidence 90%",
		"0x2e3dcd051a91d3a694f6b8de2ac4b5fe7acdba55f58bcf8471ff00d4a430074d",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("demo output lacks %q\n%s", want, r.stdout)
		}
	}
	// Running it again starts from a fresh database, not a doubled one.
	if r2 := fundtrace(t, "demo"); r2.code != 0 || r2.stdout != r.stdout {
		t.Errorf("second demo run differs (exit %d)", r2.code)
	}
}

// indexed returns database URLs (SQLite, and PostgreSQL when available)
// holding the bundled mainnet blocks, indexed through the CLI.
func indexed(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	if err := bundle.MainnetBlockDir(dir); err != nil {
		t.Fatal(err)
	}
	urls := map[string]string{"sqlite": "sqlite:" + filepath.Join(t.TempDir(), "ft.db")}
	if os.Getenv(storetest.EnvPostgres) != "" || os.Getenv(storetest.EnvRequirePostgres) == "1" {
		urls["postgres"] = storetest.PostgresDatabase(t)
	}
	for name, u := range urls {
		if r := fundtrace(t, "index", "--chain", "btc", "--blocks-dir", dir, "--db", u); r.code != 0 {
			t.Fatalf("%s: index exit %d: %s", name, r.code, r.stderr)
		}
	}
	return urls
}

// TestJSONGolden: the JSON of every query is the same on both stores and
// matches the reviewed golden files (go test -update rewrites them).
func TestJSONGolden(t *testing.T) {
	queries := map[string][]string{
		"status":       {"status", "--chain", "btc"},
		"block-170":    {"block", "--chain", "btc", "170"},
		"tx-170":       {"tx", "--chain", "btc", "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16"},
		"tx-genesis":   {"tx", "--chain", "btc", "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b"},
		"address-12cb": {"address", "--chain", "btc", "12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S", "--txs", "--page-size", "4"},
		"address-page2": {"address", "--chain", "btc", "12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S", "--txs", "--page-size", "4",
			"--page", "53"},
		// The largest cluster of the bundled blocks (70 addresses, merged
		// by the 10-input tx of block 11666 and others).
		"cluster-show":  {"cluster", "show", "--chain", "btc", "1A1Pq4fdRpSRPabERxDsXbGCWH1z52g8sg", "--page-size", "5"},
		"cluster-why":   {"cluster", "why", "--chain", "btc", "1Guko8sGncHxkFiMESyNpeFQ288YLP664R", "1A1Pq4fdRpSRPabERxDsXbGCWH1z52g8sg"},
		"cluster-apart": {"cluster", "why", "--chain", "btc", "1Guko8sGncHxkFiMESyNpeFQ288YLP664R", "12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S"},
		"cluster-stats": {"cluster", "stats", "--chain", "btc"},
		"tx-heuristics": {"tx", "--chain", "btc", "--heuristics", "eebd343e3cbb08c6932adc87eba4b2bf372e9e984023474cb4fdb9b9ffad39b1"},
		// Block 170: Satoshi's change goes back to his own address.
		"tx-170-heuristics": {"tx", "--chain", "btc", "--heuristics", "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16"},
	}
	for store, u := range indexed(t) {
		for name, args := range queries {
			t.Run(store+"/"+name, func(t *testing.T) {
				r := fundtrace(t, append(args, "--db", u, "--format", "json")...)
				if r.code != 0 {
					t.Fatalf("exit %d: %s", r.code, r.stderr)
				}
				path := filepath.Join("testdata", name+".json")
				if *update && store == "sqlite" {
					if err := os.WriteFile(path, []byte(r.stdout), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test -update)", err)
				}
				if r.stdout != string(want) {
					t.Errorf("%s JSON differs from %s:\n%s", store, path, r.stdout)
				}
			})
		}
	}
}

// TestExitCodes: not found is 1, bad input is 2, each with one line naming
// what was wrong.
func TestExitCodes(t *testing.T) {
	u := indexed(t)["sqlite"]
	cases := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"unknown tx", []string{"tx", "--chain", "btc", strings.Repeat("ab", 32)}, 1, "not found: transaction abab"},
		{"malformed tx", []string{"tx", "--chain", "btc", "f4184fc5"}, 2, `malformed txid`},
		{"non-hex tx", []string{"tx", "--chain", "btc", strings.Repeat("zz", 32)}, 2, "not hex"},
		{"unknown address", []string{"address", "--chain", "btc", "1BitcoinEaterAddressDontSendf59kuE"}, 1, "has no indexed transactions"},
		{"bad checksum", []string{"address", "--chain", "btc", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb"}, 2, "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb"},
		{"testnet address on mainnet", []string{"address", "--chain", "btc", "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx"}, 2, "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx"},
		{"unknown block", []string{"block", "--chain", "btc", "999999"}, 1, "not found: block at height 999999"},
		{"bad block arg", []string{"block", "--chain", "btc", "tip"}, 2, `block "tip"`},
		{"unknown chain", []string{"status", "--chain", "doge"}, 2, `unknown chain "doge"`},
		{"chain not indexed", []string{"status", "--chain", "btc-signet"}, 1, "btc-signet has not been indexed"},
		{"bad format", []string{"status", "--format", "xml"}, 2, "--format"},
		{"unknown flag", []string{"status", "--nope"}, 2, "unknown flag"},
		{"cluster of an account chain", []string{"cluster", "stats", "--chain", "eth"}, 2, "only UTXO chains are clustered"},
		{"cluster of an unknown address", []string{"cluster", "show", "--chain", "btc", "1BitcoinEaterAddressDontSendf59kuE"}, 1, "has no indexed transactions"},
		{"cluster why, bad address", []string{"cluster", "why", "--chain", "btc", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "nope"}, 2, `"nope"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := fundtrace(t, append(c.args, "--db", u)...)
			if r.code != c.code {
				t.Errorf("exit %d, want %d; stderr %q", r.code, c.code, r.stderr)
			}
			if strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 || !strings.Contains(r.stderr, c.msg) {
				t.Errorf("stderr %q: want one line containing %q", r.stderr, c.msg)
			}
		})
	}
}

// TestBadDatabase: an unreachable or malformed --db is one clear line.
func TestBadDatabase(t *testing.T) {
	cases := []struct {
		db   string
		code int
		msg  string
	}{
		{"postgres://nobody:secret@127.0.0.1:1/none?sslmode=disable", 1, "cannot connect to postgres at 127.0.0.1:1/none"},
		{"mysql://localhost/x", 2, "bad database url"},
		{"sqlite:", 2, "needs a file path"},
	}
	for _, c := range cases {
		r := fundtrace(t, "status", "--chain", "btc", "--db", c.db)
		if r.code != c.code || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 || !strings.Contains(r.stderr, c.msg) {
			t.Errorf("--db %s: exit %d stderr %q; want exit %d, one line with %q", c.db, r.code, r.stderr, c.code, c.msg)
		}
		if strings.Contains(r.stderr, "secret") {
			t.Errorf("--db %s: password leaked into %q", c.db, r.stderr)
		}
	}
}

// TestIndexBadInput: a corrupt blk file stops with the file and offset and
// leaves the database as it was.
func TestIndexBadInput(t *testing.T) {
	dir := t.TempDir()
	if err := bundle.MainnetBlockDir(dir); err != nil {
		t.Fatal(err)
	}
	u := "sqlite:" + filepath.Join(t.TempDir(), "ft.db")
	if r := fundtrace(t, "index", "--chain", "btc", "--blocks-dir", dir, "--to", "100", "--db", u); r.code != 0 {
		t.Fatalf("index: %s", r.stderr)
	}
	before := fundtrace(t, "status", "--chain", "btc", "--db", u, "--format", "json").stdout

	empty := t.TempDir()
	if r := fundtrace(t, "index", "--chain", "btc", "--blocks-dir", empty, "--db", u); r.code != 1 || !strings.Contains(r.stderr, empty) {
		t.Errorf("empty dir: exit %d %q", r.code, r.stderr)
	}
	if r := fundtrace(t, "index", "--chain", "btc-testnet", "--blocks-dir", dir, "--db", u); r.code != 1 || !strings.Contains(r.stderr, "blk00000.dat") {
		t.Errorf("wrong network: exit %d %q", r.code, r.stderr)
	}
	blk := filepath.Join(dir, "blk00000.dat")
	b, _ := os.ReadFile(blk)
	if err := os.WriteFile(blk, b[:len(b)-1000], 0o644); err != nil {
		t.Fatal(err)
	}
	if r := fundtrace(t, "index", "--chain", "btc", "--blocks-dir", dir, "--db", u); r.code != 1 || !strings.Contains(r.stderr, "offset") {
		t.Errorf("truncated file: exit %d %q", r.code, r.stderr)
	}
	if after := fundtrace(t, "status", "--chain", "btc", "--db", u, "--format", "json").stdout; after != before {
		t.Errorf("failed runs changed the database:\n%s\nwas:\n%s", after, before)
	}
}
