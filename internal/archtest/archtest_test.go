// Package archtest fails when an import breaks the layering rules of
// docs/architecture.md.
package archtest

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/fundtrace/fundtrace"

type pkg struct {
	ImportPath string
	Imports    []string
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	out, err := exec.Command("go", "list", "-json", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func within(path, prefix string) bool {
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

// rule says which packages may import a matching import path.
type rule struct {
	what    string
	imports func(string) bool
	allowed func(string) bool
}

var (
	sqlDrivers = func(imp string) bool {
		return imp == "database/sql" || imp == "database/sql/driver" || within(imp, "github.com/jmoiron/sqlx") ||
			within(imp, "github.com/lib/pq") || within(imp, "modernc.org/sqlite") || within(imp, "github.com/jackc/pgx") ||
			within(imp, "github.com/pressly/goose")
	}
	chainLibs = func(imp string) bool {
		return within(imp, "github.com/btcsuite") || within(imp, "github.com/ethereum/go-ethereum")
	}
	httpPkgs = func(imp string) bool { return imp == "net/http" }
	ours     = func(prefix string) func(string) bool {
		return func(p string) bool { return within(p, module+"/"+prefix) }
	}
	domain = func(p string) bool {
		return ours("heuristics")(p) || ours("labels")(p) || ours("screening")(p)
	}
)

var rules = []rule{
	{"SQL (database/sql, sqlx, drivers, migrations)", sqlDrivers, ours("store")},
	{"btcd / go-ethereum", chainLibs, func(p string) bool { return ours("chains")(p) || ours("internal/devnet")(p) }},
	{"the store", ours("store"), func(p string) bool { return !domain(p) && !ours("chains")(p) }},
	// Under chains, only the HTTP plumbing of node clients (chains/endpoint)
	// and test helpers with fake nodes (…test) speak HTTP themselves; the
	// chain adapters go through chains/endpoint.
	{"net/http", httpPkgs, func(p string) bool {
		if ours("chains")(p) {
			return p == module+"/chains/endpoint" || strings.HasSuffix(p, "test")
		}
		return !domain(p) && !ours("store")(p)
	}},
	{"the indexer", ours("indexer"), func(p string) bool { return !domain(p) && !ours("chains")(p) && !ours("store")(p) }},
	{"cmd", ours("cmd"), func(string) bool { return false }},
}

// TestImportRules checks the production imports of every package.
func TestImportRules(t *testing.T) {
	pkgs := listPackages(t)
	if len(pkgs) < 5 {
		t.Fatalf("go list found %d packages; is the module root right?", len(pkgs))
	}
	for _, p := range pkgs {
		for _, imp := range p.Imports {
			for _, r := range rules {
				if r.imports(imp) && !within(imp, p.ImportPath) && !r.allowed(p.ImportPath) {
					t.Errorf("%s imports %s: only allowed packages may import %s (docs/architecture.md)", p.ImportPath, imp, r.what)
				}
			}
		}
	}
}

// TestNoGrabBagNames rejects package names that say nothing.
func TestNoGrabBagNames(t *testing.T) {
	for _, p := range listPackages(t) {
		last := p.ImportPath[strings.LastIndex(p.ImportPath, "/")+1:]
		switch last {
		case "util", "utils", "common", "types", "helpers", "misc", "shared", "models":
			t.Errorf("package %s: name says nothing about what it provides", p.ImportPath)
		}
	}
}

// TestRulesCatchViolations makes sure the rules can fail.
func TestRulesCatchViolations(t *testing.T) {
	bad := []struct{ pkg, imp string }{
		{module + "/indexer", "github.com/lib/pq"},
		{module + "/heuristics/cluster", module + "/store"},
		{module + "/store", "github.com/btcsuite/btcd/wire/v2"},
		{module + "/chains", "net/http"},
		{module + "/chains/bitcoin", "net/http"},
		{module + "/api", module + "/cmd/fundtrace"},
	}
	for _, b := range bad {
		caught := false
		for _, r := range rules {
			if r.imports(b.imp) && !r.allowed(b.pkg) {
				caught = true
			}
		}
		if !caught {
			t.Errorf("rules allow %s to import %s", b.pkg, b.imp)
		}
	}
}
