package bitcoin_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/fundtrace/fundtrace/chains/bitcoin"
	"github.com/fundtrace/fundtrace/chains/chaintest"
)

// BlockDir passes the source conformance suite. newSource plays the node:
// it writes the chain's blocks as blk00000.dat and, for every Extend or
// Reorg, the new blocks as the next blk file (a reorg leaves the replaced
// blocks in the older files, as Core does). The suite calls BlockDir.Rescan
// (chaintest.Rescanner) while it waits for the new tip.
func TestBlockDirConformance(t *testing.T) {
	for _, follow := range []bool{false, true} {
		t.Run(fmt.Sprintf("Follow=%v", follow), func(t *testing.T) {
			chaintest.RunSourceTests(t, func(t *testing.T, c *chaintest.Chain) chaintest.Source {
				dir := t.TempDir()
				files := 0
				write := func(raw [][]byte) {
					path := filepath.Join(dir, fmt.Sprintf("blk%05d.dat", files))
					if err := os.WriteFile(path, chaintest.BlkFile(c.Net(), raw...), 0o644); err != nil {
						t.Fatal(err)
					}
					files++
				}
				write(c.RawBlocks())
				c.OnNewBlocks(write)
				d, err := bitcoin.OpenBlockDir(t.Context(), dir, c.Net(), bitcoin.BlockDirOptions{Follow: follow})
				if err != nil {
					t.Fatalf("OpenBlockDir: %v", err)
				}
				t.Cleanup(func() {
					if err := d.Close(); err != nil {
						t.Errorf("Close: %v", err)
					}
				})
				return d
			})
		})
	}
}

var _ chaintest.Rescanner = (*bitcoin.BlockDir)(nil)
