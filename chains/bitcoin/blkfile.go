package bitcoin

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/holiman/uint256"

	"github.com/fundtrace/fundtrace/chains"
)

// Sentinel errors of the block-directory reader. Errors returned by
// OpenBlockDir and the methods of BlockDir wrap one of these (or an I/O error
// from the operating system) and name the directory or file, the offset and
// what was wrong.
var (
	// ErrNoBlocks means the directory holds no block at all: no blk*.dat
	// file, or only files of zero padding.
	ErrNoBlocks = errors.New("bitcoin: no blocks in block directory")
	// ErrNoGenesis means the directory holds blocks but none of them is,
	// or connects to, the network's genesis block.
	ErrNoGenesis = errors.New("bitcoin: genesis block not found in block directory")
	// ErrCorruptBlockFile means a blk*.dat file cannot be read as a sequence
	// of framed blocks: unknown magic, truncated record, impossible length,
	// a header that fails its own proof of work, or a block whose bytes do
	// not hash to the indexed hash.
	ErrCorruptBlockFile = errors.New("bitcoin: corrupt block file")
	// ErrWrongNetwork means a record carries the magic of another known
	// network, for example a testnet block in a mainnet directory.
	ErrWrongNetwork = errors.New("bitcoin: block of another network")
	// ErrBeyondTip is returned for a height above the tip of the best chain
	// (or below zero).
	ErrBeyondTip = chains.ErrBeyondTip
	// ErrBlockDirClosed is returned after Close.
	ErrBlockDirClosed = errors.New("bitcoin: block directory closed")
)

const (
	blkHeaderLen = 80
	// blkFrameLen is the magic and the length that precede every block.
	blkFrameLen = 8
	// blkMaxRecord bounds the length field of a record. Bitcoin's own
	// limit is 4,000,000 bytes; the bound is generous so that Bitcoin-like
	// chains with bigger blocks still read, while a corrupt length cannot
	// make Block allocate gigabytes.
	blkMaxRecord = 32 << 20
	// blkDefaultMaxOpen bounds the cached file handles. A full mainnet
	// directory has thousands of blk files; the usual soft limit on open
	// files is 1024.
	blkDefaultMaxOpen = 64
	// blkMaxListedParents bounds the missing parents named in one message.
	blkMaxListedParents = 3
)

// BlockDirOptions tunes OpenBlockDir.
type BlockDirOptions struct {
	// Follow says the directory belongs to a node that may be running and
	// writing. A truncated or unparsable record (cut frame, length past the
	// end of the file, header failing its proof of work) in the
	// highest-numbered blk file is then taken as a block being written:
	// scanning of that file stops before it and Rescan tries again from
	// there. Without Follow, or once a higher-numbered file exists, it is an
	// ErrCorruptBlockFile error. A record of another network is always an
	// error.
	Follow bool
	// MaxOpenFiles bounds the blk file handles kept open between calls.
	// Zero means 64.
	MaxOpenFiles int
}

// RescanReport tells what the last OpenBlockDir or Rescan changed.
type RescanReport struct {
	// NewBlocks counts the block records indexed by the scan.
	NewBlocks int
	// OldTip and OldTipHash are the tip before the scan (-1 and zero
	// before the first scan).
	OldTip     int64
	OldTipHash chains.Hash
	// NewTip and NewTipHash are the tip after the scan.
	NewTip     int64
	NewTipHash chains.Hash
	// Reorg is true when the old tip is no longer on the best chain: the
	// files hold a branch with more work. ForkHeight is then the height of
	// the last block common to the old and the new best chain; blocks above
	// it have changed and a caller must compare its stored hashes.
	Reorg      bool
	ForkHeight int64
}

// BlockDir reads the blocks of a Bitcoin Core data directory's blocks/
// folder (blk00000.dat, blk00001.dat, ... and xor.dat) without a running
// node. OpenBlockDir indexes the 80-byte headers of every block record and
// builds the chain with the most proof of work from the genesis block;
// blocks are read from disk only when asked for.
//
// The best chain is the one whose tip has the most cumulative work, the sum
// over its blocks of 2^256/(target+1) with the target taken from the
// header's bits (as Bitcoin Core counts it); the longest chain need not win.
// Between tips of equal work the one stored first (lower file number, then
// lower offset) wins, so a Rescan never switches on a tie. Blocks on other
// branches are kept in the index but not served. Blocks whose parent is in
// no file stay unconnected: see Unconnected.
//
// The index keeps 88 bytes per block plus a hash map entry (about 130 MB
// for 900,000 blocks) and no block bodies.
//
// A BlockDir is safe for concurrent use: Block, RawBlock, BlockHash and Tip
// may be called from several goroutines (they read with ReadAt through
// shared handles); a Rescan makes them wait until it has finished.
type BlockDir struct {
	dir     string
	net     *Network
	opts    BlockDirOptions
	magic   [4]byte
	key     [8]byte
	xored   bool
	genesis chains.Hash
	handles blkFileCache

	mu      sync.RWMutex
	closed  bool
	files   map[int]*blkFile
	index   []blkIndexEntry
	byHash  map[chains.Hash]int32
	waiting map[chains.Hash][]int32 // parent hash -> indexes of unconnected children
	best    int32                   // index of the best tip, -1 before genesis
	chain   []int32                 // height -> index, the best chain
	dups    int
	work    map[uint32]uint256.Int // block work by header bits
	report  RescanReport
}

// blkIndexEntry is what the index keeps per block: 88 bytes.
type blkIndexEntry struct {
	hash   chains.Hash
	work   uint256.Int // cumulative chain work up to and including this block
	parent int32       // index of the parent, -1 for genesis and unconnected blocks
	height int32       // -1 while unconnected
	file   int32       // blk file number
	size   uint32      // block size in bytes
	offset int64       // offset of the block bytes (after the 8-byte frame)
}

// blkFile is the scan state of one blk file.
type blkFile struct {
	num  int
	path string
	next int64 // offset where scanning resumes: the end of the last record read
	// zeros: the last scan stopped at zero padding, which a node may fill
	// later; pending: it stopped at an incomplete record (Follow).
	zeros, pending bool
}

// OpenBlockDir indexes the blk*.dat files of dir, a Bitcoin Core blocks
// directory of network net, and returns a reader for the best chain. It
// scans every blk file (in file-number order; blocks may be stored in any
// order), applies xor.dat obfuscation when present, and connects blocks by
// their previous-block hash starting at the network's genesis block.
//
// It returns an error wrapping ErrNoBlocks when the directory holds no
// blocks, ErrNoGenesis when no block connects to the genesis block,
// ErrWrongNetwork for a record of another network, and ErrCorruptBlockFile
// for a record that cannot be read (see BlockDirOptions.Follow).
func OpenBlockDir(ctx context.Context, dir string, net *Network, opts BlockDirOptions) (*BlockDir, error) {
	if net == nil {
		return nil, errors.New("bitcoin: OpenBlockDir: nil network")
	}
	if opts.MaxOpenFiles <= 0 {
		opts.MaxOpenFiles = blkDefaultMaxOpen
	}
	d := &BlockDir{
		dir:     dir,
		net:     net,
		opts:    opts,
		genesis: net.GenesisHash(),
		files:   make(map[int]*blkFile),
		byHash:  make(map[chains.Hash]int32),
		waiting: make(map[chains.Hash][]int32),
		best:    -1,
		work:    make(map[uint32]uint256.Int),
	}
	d.handles.max = opts.MaxOpenFiles
	binary.LittleEndian.PutUint32(d.magic[:], net.Magic())
	if err := d.readXORKey(); err != nil {
		return nil, err
	}
	d.mu.Lock()
	err := d.scan(ctx)
	d.mu.Unlock()
	if err != nil {
		d.handles.closeAll()
		return nil, err
	}
	if len(d.index) == 0 {
		d.handles.closeAll()
		return nil, fmt.Errorf("%w: %s has no blk*.dat records", ErrNoBlocks, dir)
	}
	if d.best < 0 {
		d.handles.closeAll()
		return nil, fmt.Errorf("%w: %s: %d blocks indexed, none is or connects to genesis block %s%s",
			ErrNoGenesis, dir, len(d.index), d.genesis, d.missingParentsText())
	}
	return d, nil
}

// readXORKey loads dir/xor.dat, Bitcoin Core's (version 28 and later)
// obfuscation key of the block files. A missing file or an all-zero key
// means the files are stored in the clear.
func (d *BlockDir) readXORKey() error {
	path := filepath.Join(d.dir, "xor.dat")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		// Distinguish "no xor.dat" from "no directory".
		if _, serr := os.Stat(d.dir); serr != nil {
			return fmt.Errorf("bitcoin: open block directory: %w", serr)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("bitcoin: read obfuscation key: %w", err)
	}
	if len(b) != len(d.key) {
		return fmt.Errorf("%w: %s: obfuscation key has %d bytes, want %d", ErrCorruptBlockFile, path, len(b), len(d.key))
	}
	copy(d.key[:], b)
	d.xored = d.key != [8]byte{}
	return nil
}

// unxor removes the obfuscation from b, read at offset off of a blk file.
func (d *BlockDir) unxor(b []byte, off int64) {
	if !d.xored {
		return
	}
	k := int(off % int64(len(d.key)))
	for i := range b {
		b[i] ^= d.key[k]
		k = (k + 1) & 7
	}
}

// Rescan indexes what was written to the directory since the last scan:
// records appended to existing blk files (also where zero padding was
// overwritten) and new blk files. The best chain is then chosen again; when
// the files now hold a branch with more work than the old tip's, the best
// chain switches to it and LastRescan reports the fork height.
func (d *BlockDir) Rescan(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return ErrBlockDirClosed
	}
	return d.scan(ctx)
}

// LastRescan reports what the last OpenBlockDir or Rescan changed, including
// whether the best chain switched branches.
func (d *BlockDir) LastRescan() RescanReport {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.report
}

// scan lists the blk files, reads new records and rebuilds the best chain.
// The caller holds d.mu for writing.
func (d *BlockDir) scan(ctx context.Context) error {
	rep := RescanReport{OldTip: -1, NewTip: -1, ForkHeight: -1}
	if n := len(d.chain); n > 0 {
		rep.OldTip = int64(n - 1)
		rep.OldTipHash = d.index[d.chain[n-1]].hash
	}
	before := len(d.index)
	err := d.scanFiles(ctx)
	rep.NewBlocks = len(d.index) - before
	// Rebuild even after an error: what was indexed before it is valid.
	d.rebuildChain(&rep)
	d.report = rep
	return err
}

func (d *BlockDir) scanFiles(ctx context.Context) error {
	entries, err := os.ReadDir(d.dir)
	if err != nil {
		return fmt.Errorf("bitcoin: list block directory: %w", err)
	}
	highest := -1
	for _, e := range entries {
		num, ok := blkFileNumber(e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		path := filepath.Join(d.dir, e.Name())
		if f, seen := d.files[num]; seen {
			if f.path != path {
				return fmt.Errorf("%w: %s and %s both have file number %d", ErrCorruptBlockFile, f.path, path, num)
			}
		} else {
			d.files[num] = &blkFile{num: num, path: path}
		}
		highest = max(highest, num)
	}
	nums := make([]int, 0, len(d.files))
	for num := range d.files {
		nums = append(nums, num)
	}
	slices.Sort(nums)
	for _, num := range nums {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("bitcoin: scan %s: %w", d.dir, err)
		}
		if err := d.scanFile(ctx, d.files[num], num == highest); err != nil {
			return err
		}
	}
	return nil
}

// blkFileNumber parses "blk<digits>.dat".
func blkFileNumber(name string) (int, bool) {
	digits, ok := strings.CutPrefix(name, "blk")
	if !ok {
		return 0, false
	}
	digits, ok = strings.CutSuffix(digits, ".dat")
	if !ok || digits == "" || len(digits) > 9 {
		return 0, false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(digits)
	return n, err == nil
}

// scanFile indexes the records of f from f.next on.
func (d *BlockDir) scanFile(ctx context.Context, f *blkFile, highest bool) error {
	info, err := os.Stat(f.path)
	if err != nil {
		return fmt.Errorf("bitcoin: scan block file: %w", err)
	}
	size := info.Size()
	if size < f.next {
		return fmt.Errorf("%w: %s is %d bytes, shorter than the %d bytes already read (file replaced?)", ErrCorruptBlockFile, f.path, size, f.next)
	}
	if size == f.next {
		return nil // read to the end and nothing was appended
	}
	fh, release, err := d.handles.acquire(f.num, f.path)
	if err != nil {
		return fmt.Errorf("bitcoin: scan block file: %w", err)
	}
	defer release()

	f.zeros, f.pending = false, false
	off := f.next
	var buf [blkFrameLen + blkHeaderLen]byte
	// problem reports a record that cannot be read at off: an error, or in
	// Follow mode at the end of the highest file, the place to resume.
	problem := func(sentinel error, format string, args ...any) error {
		if d.opts.Follow && highest && sentinel == ErrCorruptBlockFile {
			f.next, f.pending = off, true
			return nil
		}
		return fmt.Errorf("%w: %s offset %d: %s", sentinel, f.path, off, fmt.Sprintf(format, args...))
	}
	for records := 0; ; records++ {
		if records&1023 == 1023 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("bitcoin: scan %s: %w", f.path, err)
			}
		}
		if off >= size {
			return nil
		}
		n := int(min(int64(len(buf)), size-off))
		b := buf[:n]
		if _, err := fh.ReadAt(b, off); err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("bitcoin: read %s offset %d: %w", f.path, off, err)
		}
		var raw [4]byte
		copy(raw[:], b)
		d.unxor(b, off)
		m := b[:min(n, 4)]
		if blkAllZero(m) || blkAllZero(raw[:len(m)]) {
			// Zero padding: the end of the data in this file. Core
			// preallocates files with zeros that are not obfuscated, so
			// with a key the padding is zero on disk, not after unxor.
			f.next, f.zeros = off, true
			return nil
		}
		if n < 4 || [4]byte(m) != d.magic {
			if n < 4 || blkPartialMagic(m, raw[:len(m)], d.magic) {
				return problem(ErrCorruptBlockFile, "truncated record: %d bytes %x where a magic %x is expected", len(m), m, d.magic)
			}
			if other := d.networkOfMagic(m); other != "" {
				return problem(ErrWrongNetwork, "magic %x is %s's, want %x", m, other, d.magic)
			}
			return problem(ErrCorruptBlockFile, "unknown magic %x, want %x", m, d.magic)
		}
		if n < blkFrameLen {
			return problem(ErrCorruptBlockFile, "truncated record: file ends %d bytes into the 8-byte frame", n)
		}
		length := int64(binary.LittleEndian.Uint32(b[4:8]))
		if length < blkHeaderLen {
			return problem(ErrCorruptBlockFile, "block length %d is shorter than an 80-byte header", length)
		}
		if length > blkMaxRecord {
			return problem(ErrCorruptBlockFile, "block length %d exceeds the limit of %d bytes", length, blkMaxRecord)
		}
		if end := off + blkFrameLen + length; end > size {
			return problem(ErrCorruptBlockFile, "truncated record: block of %d bytes ends at offset %d, past the end of the file (%d bytes)", length, end, size)
		}
		hdr := b[blkFrameLen:]
		hash := blkHeaderHash(hdr)
		bits := binary.LittleEndian.Uint32(hdr[72:76])
		if why := blkCheckPoW(hash, bits); why != "" {
			return problem(ErrCorruptBlockFile, "header does not parse: %s", why)
		}
		var prev chains.Hash
		for i := range prev {
			prev[i] = hdr[4+31-i]
		}
		d.addBlock(hash, prev, bits, f.num, off+blkFrameLen, uint32(length))
		off += blkFrameLen + length
		f.next = off
	}
}

// blkPartialMagic reports whether m (raw: the same bytes before unxor)
// starts with a prefix of magic and is zero after it: a frame cut short
// while being written.
func blkPartialMagic(m, raw []byte, magic [4]byte) bool {
	i := 0
	for i < len(m) && m[i] == magic[i] {
		i++
	}
	return i > 0 && (blkAllZero(m[i:]) || blkAllZero(raw[i:]))
}

// networkOfMagic names the known network whose magic is m, or "".
func (d *BlockDir) networkOfMagic(m []byte) string {
	for _, id := range chains.Known() {
		n, err := NetworkFor(id)
		if err != nil || n == nil {
			continue
		}
		var nm [4]byte
		binary.LittleEndian.PutUint32(nm[:], n.Magic())
		if nm == [4]byte(m) && nm != d.magic {
			return string(id)
		}
	}
	return ""
}

func blkAllZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// blkHeaderHash is the block hash of an 80-byte header in display order.
func blkHeaderHash(hdr []byte) chains.Hash {
	first := sha256.Sum256(hdr[:blkHeaderLen])
	second := sha256.Sum256(first[:])
	var h chains.Hash
	for i := range h {
		h[i] = second[31-i]
	}
	return h
}

// blkBitsTarget expands the compact "bits" of a header into a target. ok is
// false for a zero, negative or overflowing target.
func blkBitsTarget(bits uint32) (t uint256.Int, ok bool) {
	exp := bits >> 24
	mant := bits & 0x007fffff
	if mant == 0 || bits&0x00800000 != 0 {
		return t, false
	}
	if exp > 34 || (mant > 0xff && exp > 33) || (mant > 0xffff && exp > 32) {
		return t, false
	}
	t.SetUint64(uint64(mant))
	if exp <= 3 {
		t.Rsh(&t, uint(8*(3-exp)))
	} else {
		t.Lsh(&t, uint(8*(exp-3)))
	}
	return t, !t.IsZero()
}

// blkCheckPoW returns why a header with this hash and bits is invalid,
// or "". Nodes store only headers that pass this check, so a failure means
// the bytes are not a header.
func blkCheckPoW(hash chains.Hash, bits uint32) string {
	target, ok := blkBitsTarget(bits)
	if !ok {
		return fmt.Sprintf("invalid difficulty bits %08x", bits)
	}
	var h uint256.Int
	h.SetBytes32(hash[:])
	if h.Gt(&target) {
		return fmt.Sprintf("hash %s is above the target of bits %08x (no proof of work)", hash, bits)
	}
	return ""
}

// blockWork is the expected number of hashes for a block with these bits:
// 2^256 / (target+1), computed as ^target/(target+1) + 1 to stay in 256 bits.
func (d *BlockDir) blockWork(bits uint32) uint256.Int {
	if w, ok := d.work[bits]; ok {
		return w
	}
	var w uint256.Int
	if t, ok := blkBitsTarget(bits); ok {
		var num, den uint256.Int
		num.Not(&t)
		den.AddUint64(&t, 1)
		w.Div(&num, &den)
		w.AddUint64(&w, 1)
	}
	d.work[bits] = w
	return w
}

// addBlock indexes one block record and connects it (and any children
// waiting for it) when its parent is connected.
func (d *BlockDir) addBlock(hash, prev chains.Hash, bits uint32, file int, offset int64, size uint32) {
	if _, dup := d.byHash[hash]; dup {
		d.dups++
		return
	}
	idx := int32(len(d.index))
	d.index = append(d.index, blkIndexEntry{
		hash: hash, parent: -1, height: -1,
		file: int32(file), offset: offset, size: size,
	})
	d.index[idx].work = d.blockWork(bits) // own work until connected
	d.byHash[hash] = idx
	switch p, ok := d.byHash[prev]; {
	case hash == d.genesis:
		d.connect(idx, -1)
	case ok && d.index[p].height >= 0:
		d.connect(idx, p)
	default:
		d.waiting[prev] = append(d.waiting[prev], idx)
	}
}

// connect gives idx its height and chain work under parent (-1 for the
// genesis block), then does the same for the blocks waiting for it.
func (d *BlockDir) connect(idx, parent int32) {
	type link struct{ idx, parent int32 }
	stack := []link{{idx, parent}}
	for len(stack) > 0 {
		l := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		e := &d.index[l.idx]
		e.parent = l.parent
		if l.parent >= 0 {
			p := &d.index[l.parent]
			e.height = p.height + 1
			if _, overflow := e.work.AddOverflow(&e.work, &p.work); overflow {
				e.work.SetAllOne() // saturate; cannot happen with real headers
			}
		} else {
			e.height = 0
		}
		if d.best < 0 || d.better(l.idx, d.best) {
			d.best = l.idx
		}
		if kids, ok := d.waiting[e.hash]; ok {
			delete(d.waiting, e.hash)
			for _, k := range kids {
				stack = append(stack, link{k, l.idx})
			}
		}
	}
}

// better reports whether block a is a better tip than block b: more chain
// work, or equal work and stored earlier in the files (first seen).
func (d *BlockDir) better(a, b int32) bool {
	switch d.index[a].work.Cmp(&d.index[b].work) {
	case 1:
		return true
	case 0:
		return a < b
	}
	return false
}

// rebuildChain makes d.chain the path from genesis to d.best and fills the
// new-tip and reorg fields of rep.
func (d *BlockDir) rebuildChain(rep *RescanReport) {
	if d.best < 0 {
		d.chain = d.chain[:0]
		return
	}
	tip := d.best
	height := d.index[tip].height
	// Find the highest block of the new best chain that is already on the
	// old one; everything above it is rewritten.
	fork := tip
	for fork >= 0 {
		h := d.index[fork].height
		if int(h) < len(d.chain) && d.chain[h] == fork {
			break
		}
		fork = d.index[fork].parent
	}
	keep := 0
	if fork >= 0 {
		keep = int(d.index[fork].height) + 1
	}
	if keep < len(d.chain) {
		rep.Reorg = true
		rep.ForkHeight = int64(keep) - 1
	}
	d.chain = slices.Grow(d.chain[:keep], int(height)+1-keep)[:height+1]
	for i := tip; i != fork; i = d.index[i].parent {
		d.chain[d.index[i].height] = i
	}
	rep.NewTip = int64(height)
	rep.NewTipHash = d.index[tip].hash
}

// missingParentsText describes the unconnected blocks for an error message.
// The caller holds d.mu.
func (d *BlockDir) missingParentsText() string {
	missing := d.missingParents()
	if len(missing) == 0 {
		return ""
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, " (%d unconnected blocks; missing parent", d.unconnectedCount())
	if len(missing) > 1 {
		sb.WriteString("s")
	}
	for i, h := range missing {
		if i == blkMaxListedParents {
			fmt.Fprintf(&sb, " and %d more", len(missing)-i)
			break
		}
		sb.WriteString(" ")
		sb.WriteString(h.String())
	}
	sb.WriteString(")")
	return sb.String()
}

// missingParents lists, sorted, the parent hashes that unconnected blocks
// wait for and that no blk file holds. The caller holds d.mu.
func (d *BlockDir) missingParents() []chains.Hash {
	var out []chains.Hash
	for h := range d.waiting {
		if _, ok := d.byHash[h]; !ok {
			out = append(out, h)
		}
	}
	slices.SortFunc(out, func(a, b chains.Hash) int { return strings.Compare(string(a[:]), string(b[:])) })
	return out
}

func (d *BlockDir) unconnectedCount() int {
	n := 0
	for _, kids := range d.waiting {
		n += len(kids)
	}
	// Blocks waiting for an unconnected parent are counted under it.
	return n
}

// Unconnected returns, sorted, the hashes of the blocks that some indexed
// block names as its parent but that no blk file holds. The blocks above
// such a gap cannot be placed on the chain; when the best chain stops short
// of the node's tip, these are the blocks to look for.
func (d *BlockDir) Unconnected() []chains.Hash {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.missingParents()
}

// UnconnectedCount returns how many indexed blocks do not connect to the
// genesis block.
func (d *BlockDir) UnconnectedCount() int {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.unconnectedCount()
}

// Tip returns the height and hash of the best chain's last block.
func (d *BlockDir) Tip(ctx context.Context) (int64, chains.Hash, error) {
	if err := ctx.Err(); err != nil {
		return 0, chains.Hash{}, err
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return 0, chains.Hash{}, ErrBlockDirClosed
	}
	n := len(d.chain)
	return int64(n - 1), d.index[d.chain[n-1]].hash, nil
}

// BlockHash returns the hash of the best chain's block at height.
func (d *BlockDir) BlockHash(ctx context.Context, height int64) (chains.Hash, error) {
	e, _, err := d.lookup(ctx, height)
	return e.hash, err
}

// lookup returns the index entry at height on the best chain and the path
// of its file.
func (d *BlockDir) lookup(ctx context.Context, height int64) (blkIndexEntry, string, error) {
	if err := ctx.Err(); err != nil {
		return blkIndexEntry{}, "", err
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return blkIndexEntry{}, "", ErrBlockDirClosed
	}
	tip := int64(len(d.chain) - 1)
	if height < 0 || height > tip {
		return blkIndexEntry{}, "", fmt.Errorf("%w: height %d, best chain in %s ends at height %d (%s)%s",
			ErrBeyondTip, height, d.dir, tip, d.index[d.chain[tip]].hash, d.missingParentsText())
	}
	e := d.index[d.chain[height]]
	return e, d.files[int(e.file)].path, nil
}

// RawBlock returns the serialized block at height on the best chain, with
// the obfuscation removed and without the 8-byte frame.
func (d *BlockDir) RawBlock(ctx context.Context, height int64) ([]byte, error) {
	raw, _, _, err := d.rawBlock(ctx, height)
	return raw, err
}

func (d *BlockDir) rawBlock(ctx context.Context, height int64) ([]byte, blkIndexEntry, string, error) {
	e, path, err := d.lookup(ctx, height)
	if err != nil {
		return nil, e, "", err
	}
	fh, release, err := d.handles.acquire(int(e.file), path)
	if err != nil {
		return nil, e, path, fmt.Errorf("bitcoin: read block %d: %w", height, err)
	}
	defer release()
	raw := make([]byte, e.size)
	if _, err := fh.ReadAt(raw, e.offset); err != nil {
		if errors.Is(err, io.EOF) {
			err = fmt.Errorf("%w: file ends before the block's %d bytes", ErrCorruptBlockFile, e.size)
		}
		return nil, e, path, fmt.Errorf("bitcoin: read block %d from %s offset %d: %w", height, path, e.offset-blkFrameLen, err)
	}
	d.unxor(raw, e.offset)
	if h := blkHeaderHash(raw); h != e.hash {
		return nil, e, path, fmt.Errorf("%w: %s offset %d: block %d now hashes to %s, indexed as %s (file rewritten?)",
			ErrCorruptBlockFile, path, e.offset-blkFrameLen, height, h, e.hash)
	}
	return raw, e, path, nil
}

// Block reads, decodes and returns the best chain's block at height.
func (d *BlockDir) Block(ctx context.Context, height int64) (chains.Block, error) {
	raw, e, path, err := d.rawBlock(ctx, height)
	if err != nil {
		return chains.Block{}, err
	}
	blk, err := d.net.DecodeBlock(raw, height)
	if err != nil {
		return chains.Block{}, fmt.Errorf("%w: %s offset %d: block %d (%s): %w",
			ErrCorruptBlockFile, path, e.offset-blkFrameLen, height, e.hash, err)
	}
	if blk.Hash != e.hash {
		return chains.Block{}, fmt.Errorf("%w: %s offset %d: block %d decodes to hash %s, indexed as %s",
			ErrCorruptBlockFile, path, e.offset-blkFrameLen, height, blk.Hash, e.hash)
	}
	return blk, nil
}

// Close closes the cached file handles. Reads in progress finish first;
// later calls return ErrBlockDirClosed.
func (d *BlockDir) Close() error {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	return d.handles.closeAll()
}

// String describes the directory for logs.
func (d *BlockDir) String() string {
	d.mu.RLock()
	defer d.mu.RUnlock()
	key := "none"
	if d.xored {
		key = hex.EncodeToString(d.key[:])
	}
	return fmt.Sprintf("blocks dir %s (%d files, %d blocks, %d duplicate records, tip %d, xor key %s)",
		d.dir, len(d.files), len(d.index), d.dups, len(d.chain)-1, key)
}

// blkFileCache keeps up to max blk files open for ReadAt, least recently used
// ones closed first. A handle in use is never closed under its reader.
type blkFileCache struct {
	mu     sync.Mutex
	max    int
	tick   uint64
	open   map[int]*blkCachedFile
	closed bool
}

type blkCachedFile struct {
	f    *os.File
	refs int
	used uint64
}

// acquire returns an open handle of file num and the function to call when
// done with it.
func (c *blkFileCache) acquire(num int, path string) (*os.File, func(), error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, nil, ErrBlockDirClosed
	}
	if c.open == nil {
		c.open = make(map[int]*blkCachedFile)
	}
	cf, ok := c.open[num]
	if !ok {
		f, err := os.Open(path)
		if err != nil {
			return nil, nil, err
		}
		cf = &blkCachedFile{f: f}
		c.open[num] = cf
	}
	c.tick++
	cf.used = c.tick
	cf.refs++
	c.evict()
	var once sync.Once
	return cf.f, func() { once.Do(func() { c.release(num, cf) }) }, nil
}

func (c *blkFileCache) release(num int, cf *blkCachedFile) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cf.refs--
	if cf.refs == 0 && (c.closed || c.open[num] != cf) {
		_ = cf.f.Close() // read-only handle: nothing to flush
	}
}

// evict closes idle handles beyond max. The caller holds c.mu.
func (c *blkFileCache) evict() {
	for len(c.open) > c.max {
		victim, oldest := -1, uint64(0)
		for num, cf := range c.open {
			if cf.refs == 0 && (victim < 0 || cf.used < oldest) {
				victim, oldest = num, cf.used
			}
		}
		if victim < 0 {
			return // all in use; shrink later
		}
		_ = c.open[victim].f.Close()
		delete(c.open, victim)
	}
}

func (c *blkFileCache) closeAll() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	var errs []error
	for num, cf := range c.open {
		if cf.refs == 0 {
			if err := cf.f.Close(); err != nil {
				errs = append(errs, err)
			}
		}
		delete(c.open, num)
	}
	return errors.Join(errs...)
}
