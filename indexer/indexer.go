// Package indexer runs fundtrace's staged indexing pipeline: it fetches
// blocks from a Source in parallel, commits them to the store strictly in
// height order in batches, and lets every Stage write its output in the same
// transaction as its progress checkpoint. A run that stops anywhere resumes
// where the last committed batch ended, and never writes a row twice.
//
// Before it extends the chain, a run compares the stored tip with the
// source's block at that height; on a mismatch it walks back to the fork
// point and unwinds every stage above it (up to Config.MaxReorgDepth).
package indexer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/store"
)

// Source supplies blocks of one chain. Implementations: a Bitcoin Core
// block directory (chains/bitcoin.BlockDir); node RPC sources later.
type Source interface {
	// Tip returns the height and hash of the source's best block.
	Tip(ctx context.Context) (int64, chains.Hash, error)
	// BlockHash returns the hash of the best-chain block at height.
	BlockHash(ctx context.Context, height int64) (chains.Hash, error)
	// Block returns the decoded best-chain block at height. It must be safe
	// to call from several goroutines.
	Block(ctx context.Context, height int64) (chains.Block, error)
}

// Sink is what the pipeline needs of the store.
type Sink interface {
	InTx(ctx context.Context, fn func(*store.Tx) error) error
	Progress(ctx context.Context, chain chains.ID, stage string) (int64, bool, error)
	StoredBlockHash(ctx context.Context, chain chains.ID, height int64) (chains.Hash, error)
	EnsureIndexes(ctx context.Context) error
}

// Stage is one step of the pipeline. Forward applies blocks (contiguous,
// ascending, all above the stage's progress); Unwind removes everything the
// stage wrote above height. Both run inside the batch's transaction; the
// pipeline records the stage's progress in that same transaction.
type Stage interface {
	Name() string
	Forward(ctx context.Context, tx *store.Tx, blocks []chains.Block) error
	Unwind(ctx context.Context, tx *store.Tx, height int64) error
}

// AheadPreparer is an optional Stage capability: doing a batch's CPU work
// (ids, resolution, rows) before its transaction opens, while the previous
// batch is still committing, so the client and the database work at the
// same time. PrepareAhead returns nil when the stage cannot prepare ahead
// right now; the pipeline then calls Forward inside the transaction.
type AheadPreparer interface {
	PrepareAhead(ctx context.Context, blocks []chains.Block) (Prepared, error)
}

// Prepared is a batch a stage has prepared ahead. Exactly one of Flush (in
// the batch's transaction) or Discard is called.
type Prepared interface {
	Flush(ctx context.Context, tx *store.Tx) error
	Discard()
}

// ErrReorgTooDeep is returned when the source's chain forks from the stored
// one further back than Config.MaxReorgDepth.
var ErrReorgTooDeep = errors.New("indexer: reorg deeper than the configured limit")

// ErrBrokenChain is returned when the source holds blocks that do not
// connect to its best chain (a missing block in a block directory) and no
// --to says to stop before the break.
var ErrBrokenChain = errors.New("indexer: source chain is broken")

// ErrBeyondTip is returned when --to asks for heights the source lacks.
var ErrBeyondTip = errors.New("indexer: requested height beyond the source's tip")

// Config configures a Pipeline.
type Config struct {
	Chain chains.ID
	// From is the first height to index when the chain is empty; later runs
	// continue after the stored tip. To is the last height (-1: the
	// source's tip).
	From, To int64
	// BatchTxs and BatchBlocks bound one committed batch.
	BatchTxs, BatchBlocks int
	// Workers fetch and decode blocks in parallel.
	Workers int
	// MaxReorgDepth bounds how far back a fork may be unwound.
	MaxReorgDepth int64
	// Logger receives progress and events; nil discards them.
	Logger *slog.Logger
	// OnProgress, if set, is called after every committed batch.
	OnProgress func(Progress)
}

// DefaultConfig returns a Config for chain.
func DefaultConfig(chain chains.ID) Config {
	return Config{
		Chain:         chain,
		To:            -1,
		BatchTxs:      20_000,
		BatchBlocks:   2_000,
		Workers:       runtime.GOMAXPROCS(0),
		MaxReorgDepth: 100,
	}
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if _, err := chains.Lookup(c.Chain); err != nil {
		return err
	}
	switch {
	case c.From < 0:
		return fmt.Errorf("indexer: --from %d is negative", c.From)
	case c.To >= 0 && c.To < c.From:
		return fmt.Errorf("indexer: --to %d is below --from %d", c.To, c.From)
	case c.BatchTxs < 1 || c.BatchBlocks < 1 || c.Workers < 1:
		return fmt.Errorf("indexer: batch sizes and workers must be positive")
	case c.MaxReorgDepth < 0:
		return fmt.Errorf("indexer: max reorg depth %d is negative", c.MaxReorgDepth)
	}
	return nil
}

// Progress describes a run after each committed batch.
type Progress struct {
	Chain         chains.ID
	Height        int64 // last committed height
	Start, Target int64 // heights of this run
	Blocks, Txs   int64 // indexed by this run so far
	Elapsed       time.Duration
}

// Summary is the outcome of a run.
type Summary struct {
	Progress
	Unwound  int64 // blocks removed by a reorg before indexing
	UpToDate bool  // nothing to do
}

// Pipeline indexes one chain from one source through a list of stages.
type Pipeline struct {
	sink   Sink
	src    Source
	stages []Stage
	cfg    Config
	log    *slog.Logger
}

// New returns a pipeline. Stages run in order on Forward and in reverse on
// Unwind.
func New(sink Sink, src Source, stages []Stage, cfg Config) (*Pipeline, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(stages) == 0 {
		return nil, errors.New("indexer: no stages")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Pipeline{sink: sink, src: src, stages: stages, cfg: cfg, log: log}, nil
}

// Run indexes from the stored tip (or Config.From) to Config.To. It returns
// when done, on the first error, or when ctx is cancelled; a batch that has
// begun committing is finished first, so cancellation loses no work.
func (p *Pipeline) Run(ctx context.Context) (Summary, error) {
	start := time.Now()
	sum := Summary{Progress: Progress{Chain: p.cfg.Chain}}

	// Where each stage stands.
	prog := make([]int64, len(p.stages))
	low := int64(-1)
	for i, s := range p.stages {
		h, ok, err := p.sink.Progress(ctx, p.cfg.Chain, s.Name())
		if err != nil {
			return sum, err
		}
		prog[i] = -1
		if ok {
			prog[i] = h
		}
		if i == 0 || prog[i] < low {
			low = prog[i]
		}
	}
	high := low
	for _, h := range prog {
		high = max(high, h)
	}

	tip, _, err := p.src.Tip(ctx)
	if err != nil {
		return sum, fmt.Errorf("source tip: %w", err)
	}
	if high >= 0 {
		unwound, err := p.reconcile(ctx, high, tip, prog)
		if err != nil {
			return sum, err
		}
		sum.Unwound = unwound
		low = prog[0]
		for _, h := range prog {
			low = min(low, h)
		}
	}

	from := low + 1
	if low < 0 {
		from = p.cfg.From
	} else if p.cfg.From > from {
		return sum, fmt.Errorf("indexer: --from %d would leave a gap: %s is indexed up to %d", p.cfg.From, p.cfg.Chain, low)
	}
	to := p.cfg.To
	if to < 0 {
		// Indexing "to the tip" of a source with a gap would silently stop
		// at the gap: say so instead, before writing anything.
		if err := p.brokenChain(tip); err != nil {
			return sum, err
		}
		to = tip
	}
	if to > tip {
		return sum, p.beyondTip(to, tip)
	}
	sum.Start, sum.Target, sum.Height = from, to, from-1
	if from > to {
		sum.UpToDate = true
		return sum, p.sink.EnsureIndexes(ctx)
	}
	p.log.Info("indexing", "chain", p.cfg.Chain, "from", from, "to", to, "workers", p.cfg.Workers)

	fetchCtx, stopFetch := context.WithCancel(ctx)
	defer stopFetch()
	batches := p.batches(fetchCtx, p.fetch(fetchCtx, from, to), from, to, append([]int64(nil), prog...))
	defer func() { // whatever was prepared and not committed is forgotten
		stopFetch()
		for b := range batches {
			b.discard()
		}
	}()
	for {
		var b *batch
		select {
		case b = <-batches:
		case <-ctx.Done():
			return sum, ctx.Err()
		}
		if b == nil {
			break
		}
		if b.err != nil {
			b.discard()
			return sum, b.err
		}
		// Commit even if ctx is cancelled meanwhile: the batch is complete.
		if err := p.commit(context.WithoutCancel(ctx), b, prog); err != nil {
			b.discard()
			return sum, err
		}
		close(b.committed)
		sum.Height = b.blocks[len(b.blocks)-1].Height
		sum.Blocks += int64(len(b.blocks))
		sum.Txs += int64(b.txs)
		sum.Elapsed = time.Since(start)
		if p.cfg.OnProgress != nil {
			p.cfg.OnProgress(sum.Progress)
		}
		if ctx.Err() != nil {
			return sum, ctx.Err()
		}
	}
	if err := p.sink.EnsureIndexes(ctx); err != nil {
		return sum, err
	}
	sum.Elapsed = time.Since(start)
	return sum, nil
}

// batch is a run of blocks committed in one transaction, with what stages
// prepared ahead for it (nil: Forward in the transaction).
type batch struct {
	blocks   []chains.Block
	txs      int
	prepared []Prepared
	err      error
	// committed is closed once the batch is committed. A stage that did
	// not prepare this batch ahead will write it in the commit, so the next
	// batch may be prepared only after that.
	committed chan struct{}
	inCommit  bool
}

func (b *batch) discard() {
	for i, pr := range b.prepared {
		if pr != nil {
			pr.Discard()
			b.prepared[i] = nil
		}
	}
}

// batches groups fetched blocks into batches and lets stages prepare each
// one ahead, one batch in advance of the commit. The channel closes after
// the last batch or a batch carrying an error.
func (p *Pipeline) batches(ctx context.Context, blocks <-chan fetched, from, to int64, prog []int64) <-chan *batch {
	out := make(chan *batch)
	go func() {
		defer close(out)
		send := func(b *batch) bool {
			select {
			case out <- b:
				return true
			case <-ctx.Done():
				b.discard()
				return false
			}
		}
		cur := &batch{committed: make(chan struct{})}
		var prev *batch
		for h := from; h <= to; h++ {
			var r fetched
			select {
			case r = <-blocks:
			case <-ctx.Done():
				return
			}
			if r.err == nil && r.block.Height != h {
				r.err = fmt.Errorf("source returned block %d when asked for %d", r.block.Height, h)
			}
			if r.err != nil {
				send(&batch{err: fmt.Errorf("block %d: %w", h, r.err)})
				return
			}
			cur.blocks = append(cur.blocks, r.block)
			cur.txs += len(r.block.Txs)
			if cur.txs < p.cfg.BatchTxs && len(cur.blocks) < p.cfg.BatchBlocks && h < to {
				continue
			}
			if prev != nil && prev.inCommit {
				select {
				case <-prev.committed:
				case <-ctx.Done():
					return
				}
			}
			cur.prepared = make([]Prepared, len(p.stages))
			for i, s := range p.stages {
				ap, ok := s.(AheadPreparer)
				if !ok {
					continue
				}
				blks := above(cur.blocks, prog[i])
				if len(blks) == 0 {
					continue
				}
				pr, err := ap.PrepareAhead(ctx, blks)
				if err != nil {
					cur.discard()
					send(&batch{err: fmt.Errorf("stage %s, blocks %d..%d: %w", s.Name(), blks[0].Height, h, err)})
					return
				}
				cur.prepared[i] = pr
				if pr == nil {
					cur.inCommit = true
				}
			}
			if !send(cur) {
				return
			}
			prev, cur = cur, &batch{committed: make(chan struct{})}
		}
	}()
	return out
}

// above returns the blocks above height.
func above(blocks []chains.Block, height int64) []chains.Block {
	i := 0
	for i < len(blocks) && blocks[i].Height <= height {
		i++
	}
	return blocks[i:]
}

func (p *Pipeline) beyondTip(to, tip int64) error {
	if err := p.brokenChain(tip); err != nil {
		return fmt.Errorf("%w: --to %d: %w", ErrBeyondTip, to, err)
	}
	return fmt.Errorf("%w: --to %d but the source's tip is %d", ErrBeyondTip, to, tip)
}

// brokenChain reports blocks of the source that wait for a missing parent.
func (p *Pipeline) brokenChain(tip int64) error {
	b, ok := p.src.(interface{ Unconnected() []chains.Hash })
	if !ok {
		return nil
	}
	if missing := b.Unconnected(); len(missing) > 0 {
		return fmt.Errorf("%w: it breaks after height %d: block %s is missing (%d blocks wait for missing parents); "+
			"index up to the break with --to %d", ErrBrokenChain, tip, missing[0], len(missing), tip)
	}
	return nil
}

func (p *Pipeline) commit(ctx context.Context, b *batch, prog []int64) error {
	last := b.blocks[len(b.blocks)-1].Height
	err := p.sink.InTx(ctx, func(tx *store.Tx) error {
		for i, s := range p.stages {
			blks := above(b.blocks, prog[i])
			if len(blks) == 0 {
				continue
			}
			var err error
			if pr := b.prepared[i]; pr != nil {
				b.prepared[i] = nil // flushed or, on error, rolled back
				err = pr.Flush(ctx, tx)
			} else {
				err = s.Forward(ctx, tx, blks)
			}
			if err != nil {
				return fmt.Errorf("stage %s, blocks %d..%d: %w", s.Name(), blks[0].Height, last, err)
			}
			if err := tx.SetProgress(ctx, p.cfg.Chain, s.Name(), last); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i := range prog {
		prog[i] = max(prog[i], last)
	}
	return nil
}

// reconcile checks the stored chain against the source and unwinds a fork.
// It updates prog and returns the number of blocks removed.
func (p *Pipeline) reconcile(ctx context.Context, high, tip int64, prog []int64) (int64, error) {
	h := min(high, tip)
	fork := h
	for ; fork >= 0; fork-- {
		if high-fork > p.cfg.MaxReorgDepth {
			return 0, fmt.Errorf("%w: %s stored blocks above %d differ from the source (limit %d); check the source, or unwind by hand",
				ErrReorgTooDeep, p.cfg.Chain, fork, p.cfg.MaxReorgDepth)
		}
		stored, err := p.sink.StoredBlockHash(ctx, p.cfg.Chain, fork)
		if errors.Is(err, store.ErrNotFound) {
			break // below the first indexed block
		}
		if err != nil {
			return 0, err
		}
		src, err := p.src.BlockHash(ctx, fork)
		if err != nil {
			return 0, fmt.Errorf("source block hash at %d: %w", fork, err)
		}
		if stored == src {
			break
		}
	}
	if fork == high {
		return 0, nil
	}
	if fork == h && tip < high {
		p.log.Warn("source is behind the index", "chain", p.cfg.Chain, "indexed", high, "source_tip", tip)
		return 0, nil
	}
	p.log.Warn("reorg: unwinding", "chain", p.cfg.Chain, "fork", fork, "indexed", high)
	err := p.sink.InTx(ctx, func(tx *store.Tx) error {
		for i := len(p.stages) - 1; i >= 0; i-- {
			s := p.stages[i]
			if prog[i] <= fork {
				continue
			}
			if err := s.Unwind(ctx, tx, fork); err != nil {
				return fmt.Errorf("unwind stage %s to %d: %w", s.Name(), fork, err)
			}
			if fork < 0 {
				if err := tx.ClearProgress(ctx, p.cfg.Chain, s.Name()); err != nil {
					return err
				}
			} else if err := tx.SetProgress(ctx, p.cfg.Chain, s.Name(), fork); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for i := range prog {
		prog[i] = min(prog[i], fork)
	}
	return high - fork, nil
}

type fetched struct {
	block chains.Block
	err   error
}

// fetch decodes blocks from..to with cfg.Workers goroutines and delivers them
// in height order. The returned channel yields exactly one result per
// height, or stops early after an error or when ctx is done.
func (p *Pipeline) fetch(ctx context.Context, from, to int64) <-chan fetched {
	out := make(chan fetched, 4*p.cfg.Workers)
	futures := make(chan chan fetched, 16*p.cfg.Workers)
	jobs := make(chan struct {
		h   int64
		res chan fetched
	})
	for range p.cfg.Workers {
		go func() {
			for j := range jobs {
				b, err := p.src.Block(ctx, j.h)
				j.res <- fetched{b, err}
			}
		}()
	}
	go func() { // dispatch in order
		defer close(jobs)
		defer close(futures)
		for h := from; h <= to; h++ {
			res := make(chan fetched, 1)
			select {
			case futures <- res:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- struct {
				h   int64
				res chan fetched
			}{h, res}:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { // collect in order
		defer close(out)
		for f := range futures {
			var r fetched
			select {
			case r = <-f:
			case <-ctx.Done():
				return
			}
			select {
			case out <- r:
			case <-ctx.Done():
				return
			}
			if r.err != nil {
				return
			}
		}
	}()
	return out
}
