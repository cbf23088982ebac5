// Package bundle ships small pieces of real Bitcoin mainnet data inside the
// fundtrace binary, so that the demo, tests and exercises run on real blocks
// without a node or a download:
//
//   - mainnet blocks 0 to 14131 in Bitcoin Core's blk*.dat framing
//     (MainnetBlockDir, MainnetBlocksReader);
//   - mainnet block 277647 (Block277647), a block of 213 transactions with
//     732 inputs, and the previous outputs that those inputs spend
//     (Prevouts277647), so that fees can be computed without the earlier
//     chain.
//
// The data comes from btcd's test data (ISC license); README.md tells how
// the files were made.
package bundle

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"embed"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/fundtrace/fundtrace/chains"
)

// Names of the embedded files.
const (
	mainnetBlocksFile = "mainnet/blk00000.dat.gz"
	block277647File   = "mainnet/block277647.dat.gz"
	prevouts277647    = "mainnet/prevouts277647.txt.gz"
)

// Facts about the embedded data, checked by the tests.
const (
	// MainnetTip is the height of the last block in MainnetBlockDir.
	MainnetTip = 14131
	// MainnetBlockCount is the number of blocks in MainnetBlockDir.
	MainnetBlockCount = MainnetTip + 1
	// Height277647 is the height of the block returned by Block277647.
	Height277647 = 277647
)

//go:embed mainnet/*.gz
var files embed.FS

// Prevout is a previous output spent by an input: its value in satoshi and
// its output script.
type Prevout struct {
	Value  uint64
	Script []byte
}

// MainnetBlockDir writes the bundled mainnet blocks 0 to 14131 as
// dstDir/blk00000.dat, a Bitcoin Core blk file (records of network magic,
// little-endian length and block; no obfuscation, no padding) that
// bitcoin.OpenBlockDir reads. dstDir is created if needed.
func MainnetBlockDir(dstDir string) error {
	if err := os.MkdirAll(dstDir, 0o755); err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	r, err := MainnetBlocksReader()
	if err != nil {
		return err
	}
	defer r.Close()
	path := filepath.Join(dstDir, "blk00000.dat")
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return fmt.Errorf("bundle: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("bundle: write %s: %w", path, err)
	}
	return nil
}

// MainnetBlocksReader returns the content of the blk00000.dat file that
// MainnetBlockDir writes: mainnet blocks 0 to 14131 in height order, each
// framed as magic f9beb4d9, uint32 little-endian length, block bytes.
func MainnetBlocksReader() (io.ReadCloser, error) {
	return open(mainnetBlocksFile)
}

// Block277647 returns the serialized mainnet block 277647, hash
// 0000000000000000054a714e580b16c583701712ab91060e92dbde6eb1e052a8, mined
// on 30 December 2013 with 213 transactions, without blk-file framing.
func Block277647() ([]byte, error) {
	r, err := open(block277647File)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("bundle: read %s: %w", block277647File, err)
	}
	return b, nil
}

// Prevouts277647 returns the previous outputs spent by the inputs of mainnet
// block 277647, keyed by outpoint: exactly one entry per non-coinbase input.
func Prevouts277647() (map[chains.OutPoint]Prevout, error) {
	r, err := open(prevouts277647)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	m, err := parsePrevouts(r)
	if err != nil {
		return nil, fmt.Errorf("bundle: %s: %w", prevouts277647, err)
	}
	return m, nil
}

// parsePrevouts reads lines "txid:vout value_sat script_hex"; empty lines
// and lines starting with '#' are skipped.
func parsePrevouts(r io.Reader) (map[chains.OutPoint]Prevout, error) {
	m := make(map[chains.OutPoint]Prevout)
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		op, p, err := parsePrevoutLine(text)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if _, dup := m[op]; dup {
			return nil, fmt.Errorf("line %d: outpoint %s listed twice", line, op)
		}
		m[op] = p
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return m, nil
}

func parsePrevoutLine(text string) (chains.OutPoint, Prevout, error) {
	fields := strings.Fields(text)
	if len(fields) != 3 {
		return chains.OutPoint{}, Prevout{}, fmt.Errorf("%d fields, want 3 (outpoint value script)", len(fields))
	}
	txid, vout, ok := strings.Cut(fields[0], ":")
	if !ok {
		return chains.OutPoint{}, Prevout{}, fmt.Errorf("outpoint %q is not txid:vout", fields[0])
	}
	h, err := chains.ParseHash(txid)
	if err != nil {
		return chains.OutPoint{}, Prevout{}, err
	}
	idx, err := strconv.ParseUint(vout, 10, 32)
	if err != nil {
		return chains.OutPoint{}, Prevout{}, fmt.Errorf("output index %q: %w", vout, err)
	}
	value, err := strconv.ParseUint(fields[1], 10, 64)
	if err != nil {
		return chains.OutPoint{}, Prevout{}, fmt.Errorf("value %q: %w", fields[1], err)
	}
	script, err := hex.DecodeString(fields[2])
	if err != nil {
		return chains.OutPoint{}, Prevout{}, fmt.Errorf("script: %w", err)
	}
	return chains.OutPoint{TxID: h, Index: uint32(idx)}, Prevout{Value: value, Script: script}, nil
}

// open returns a reader of the decompressed content of an embedded file.
func open(name string) (io.ReadCloser, error) {
	b, err := files.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("bundle: %s: %w", name, err)
	}
	return zr, nil // the embedded file itself needs no closing
}
