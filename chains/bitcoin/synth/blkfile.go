package synth

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"

	"github.com/btcsuite/btcd/chaincfg/v2"
)

// WriteBlockDir generates the chain described by cfg into dir as
// blk00000.dat, blk00001.dat, ... (see the package documentation for the
// format). dir is created if needed and must not already hold blk*.dat
// files (ErrDirNotEmpty). On error, files written so far are left in place.
func WriteBlockDir(ctx context.Context, dir string, cfg Config) (Summary, error) {
	if err := cfg.Validate(); err != nil {
		return Summary{}, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Summary{}, fmt.Errorf("create block dir: %w", err)
	}
	existing, err := filepath.Glob(filepath.Join(dir, "blk*.dat"))
	if err != nil {
		return Summary{}, fmt.Errorf("list block dir: %w", err)
	}
	if len(existing) > 0 {
		return Summary{}, fmt.Errorf("%w: %s", ErrDirNotEmpty, existing[0])
	}
	w := &blkWriter{dir: dir, max: cfg.MaxFileSize}
	sum, err := Generate(ctx, cfg, func(_ int, block []byte) error { return w.write(block) })
	if cerr := w.close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Summary{}, err
	}
	sum.Files, sum.FileBytes = w.files, w.total
	return sum, nil
}

// BlockFileName is the name of the n-th block file, as Bitcoin Core names it.
func BlockFileName(n int) string { return fmt.Sprintf("blk%05d.dat", n) }

// blkWriter appends framed blocks to numbered files, starting a new file
// when the next record would push the current one past max bytes.
type blkWriter struct {
	dir   string
	max   int64
	f     *os.File
	w     *bufio.Writer
	size  int64 // bytes in the current file
	files int
	total int64
}

func (b *blkWriter) write(block []byte) error {
	rec := int64(8 + len(block))
	if b.f == nil || (b.size > 0 && b.size+rec > b.max) {
		if err := b.close(); err != nil {
			return err
		}
		if err := b.open(); err != nil {
			return err
		}
	}
	var hdr [8]byte
	binary.LittleEndian.PutUint32(hdr[:4], uint32(chaincfg.RegressionNetParams.Net))
	binary.LittleEndian.PutUint32(hdr[4:], uint32(len(block)))
	if _, err := b.w.Write(hdr[:]); err != nil {
		return fmt.Errorf("write %s: %w", b.f.Name(), err)
	}
	if _, err := b.w.Write(block); err != nil {
		return fmt.Errorf("write %s: %w", b.f.Name(), err)
	}
	b.size += rec
	b.total += rec
	return nil
}

func (b *blkWriter) open() error {
	f, err := os.OpenFile(filepath.Join(b.dir, BlockFileName(b.files)), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("create block file: %w", err)
	}
	b.f, b.w, b.size = f, bufio.NewWriterSize(f, 1<<20), 0
	b.files++
	return nil
}

func (b *blkWriter) close() error {
	if b.f == nil {
		return nil
	}
	f := b.f
	b.f = nil
	err := b.w.Flush()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("close %s: %w", f.Name(), err)
	}
	return nil
}
