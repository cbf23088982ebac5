// Package indexer runs fundtrace's staged indexing pipeline: it fetches
// blocks from a Source in parallel, commits them to the store strictly in
// height order in batches, and lets every Stage write its output in the same
// transaction as its progress checkpoint. A run that stops anywhere resumes
// where the last committed batch ended, and never writes a row twice.
//
// Before it extends the chain, a run compares the stored tip with the
// source's block at that height; on a mismatch it walks back to the fork
// point and unwinds every stage above it (up to Config.MaxReorgDepth).
// While it runs, every fetched block must extend the one before it; when the
// source's chain changes under a running sync (a reorg on a live node), the
// uncommitted blocks are dropped and the run reconciles again.
//
// Follow keeps a chain at its source's tip (less Config.Confirmations),
// polling for new blocks and surviving node outages.
package indexer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"time"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/store"
)

// Source supplies blocks of one chain. Implementations: a Bitcoin Core
// block directory (chains/bitcoin.BlockDir), Bitcoin JSON-RPC
// (chains/bitcoin.Client), Esplora REST (chains/bitcoin.Esplora) and
// Failover over several of them.
type Source interface {
	// Tip returns the height and hash of the source's best block.
	Tip(ctx context.Context) (int64, chains.Hash, error)
	// BlockHash returns the hash of the best-chain block at height.
	BlockHash(ctx context.Context, height int64) (chains.Hash, error)
	// Block returns the decoded best-chain block at height. It must be safe
	// to call from several goroutines.
	Block(ctx context.Context, height int64) (chains.Block, error)
}

// BlockRanger is an optional Source capability: fetching a run of
// consecutive blocks in one round trip (a batched RPC request). The
// pipeline then hands each fetch worker Config.FetchBlocks heights at once.
type BlockRanger interface {
	Blocks(ctx context.Context, from, to int64) ([]chains.Block, error)
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

// ErrSourceChanged is returned when the source's chain changed while a run
// fetched it (a fetched block does not extend the previous one, or a height
// below the tip vanished) more often in a row than a run retries.
var ErrSourceChanged = errors.New("indexer: the source's chain changed during the run")

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
	// FetchBlocks is how many heights one worker asks a BlockRanger source
	// for at once.
	FetchBlocks int
	// MaxReorgDepth bounds how far back a fork may be unwound.
	MaxReorgDepth int64
	// Confirmations keeps the index this many blocks below the source's tip:
	// 0 indexes the tip itself, 6 only blocks with six confirmations.
	// Reorgs shallower than this never reach the database.
	Confirmations int64
	// PollInterval is how often Follow asks the source for a new tip, and
	// the first wait after a failure (doubling up to MaxRetryWait).
	PollInterval, MaxRetryWait time.Duration
	// Logger receives progress and events; nil discards them.
	Logger *slog.Logger
	// OnProgress, if set, is called after every committed batch.
	OnProgress func(Progress)
	// OnTip, if set, is called with the source's tip whenever it is read.
	OnTip func(height int64)
	// OnReorg, if set, is called after blocks above fork were unwound.
	OnReorg func(fork, unwound int64)
}

// DefaultConfig returns a Config for chain.
func DefaultConfig(chain chains.ID) Config {
	return Config{
		Chain:         chain,
		To:            -1,
		BatchTxs:      20_000,
		BatchBlocks:   2_000,
		Workers:       runtime.GOMAXPROCS(0),
		FetchBlocks:   16,
		MaxReorgDepth: 100,
		PollInterval:  time.Second,
		MaxRetryWait:  30 * time.Second,
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
	case c.BatchTxs < 1 || c.BatchBlocks < 1 || c.Workers < 1 || c.FetchBlocks < 1:
		return fmt.Errorf("indexer: batch sizes and workers must be positive")
	case c.MaxReorgDepth < 0:
		return fmt.Errorf("indexer: max reorg depth %d is negative", c.MaxReorgDepth)
	case c.Confirmations < 0:
		return fmt.Errorf("indexer: confirmations %d is negative", c.Confirmations)
	case c.PollInterval <= 0 || c.MaxRetryWait < c.PollInterval:
		return fmt.Errorf("indexer: poll interval must be positive and at most the max retry wait")
	}
	return nil
}

// Progress describes a run after each committed batch.
type Progress struct {
	Chain         chains.ID
	Height        int64 // last committed height
	Start, Target int64 // heights of this run
	Blocks, Txs   int64 // indexed by this run so far
	// BatchBlocks and BatchTxs are those of the batch just committed.
	BatchBlocks, BatchTxs int64
	Elapsed               time.Duration
}

// Summary is the outcome of a run.
type Summary struct {
	Progress
	Unwound  int64 // blocks removed by reorgs
	Reorgs   int   // reorgs handled
	UpToDate bool  // nothing to do
	// SourceTip and SourceTipHash are the source's tip as last read.
	SourceTip     int64
	SourceTipHash chains.Hash
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

// sourceChangeRetries bounds how often one Run starts over because the
// source's chain changed under it.
const sourceChangeRetries = 5

// Run indexes from the stored tip (or Config.From) to Config.To, or to the
// source's tip less Config.Confirmations. It returns when done, on the first
// error, or when ctx is cancelled; a batch that has begun committing is
// finished first, so cancellation loses no work. When the source's chain
// changes during the run, Run reconciles and starts over (a few times).
func (p *Pipeline) Run(ctx context.Context) (Summary, error) {
	start := time.Now()
	sum := Summary{Progress: Progress{Chain: p.cfg.Chain}, SourceTip: -1}
	for attempt := 0; ; attempt++ {
		err := p.runOnce(ctx, start, &sum)
		if !errors.Is(err, errChainMoved) {
			return sum, err
		}
		if attempt == sourceChangeRetries {
			return sum, fmt.Errorf("%w (%d times in a row): %w", ErrSourceChanged, attempt+1, err)
		}
		p.log.Warn("source chain changed during the run; reconciling", "chain", p.cfg.Chain, "reason", err)
	}
}

// errChainMoved marks a fetched block that does not extend the blocks
// before it. Run reconciles and retries; Follow too.
var errChainMoved = errors.New("indexer: source chain moved")

// progress reads where each stage stands (-1: nothing indexed).
func (p *Pipeline) progress(ctx context.Context) ([]int64, error) {
	prog := make([]int64, len(p.stages))
	for i, s := range p.stages {
		h, ok, err := p.sink.Progress(ctx, p.cfg.Chain, s.Name())
		if err != nil {
			return nil, err
		}
		prog[i] = -1
		if ok {
			prog[i] = h
		}
	}
	return prog, nil
}

func (p *Pipeline) runOnce(ctx context.Context, start time.Time, sum *Summary) error {
	prog, err := p.progress(ctx)
	if err != nil {
		return err
	}
	high := slices.Max(prog)

	tip, tipHash, err := p.src.Tip(ctx)
	if err != nil {
		return fmt.Errorf("source tip: %w", err)
	}
	sum.SourceTip, sum.SourceTipHash = tip, tipHash
	if p.cfg.OnTip != nil {
		p.cfg.OnTip(tip)
	}
	target := tip - p.cfg.Confirmations
	if high >= 0 {
		unwound, err := p.reconcile(ctx, high, tip, prog)
		if err != nil {
			return err
		}
		if unwound > 0 {
			sum.Unwound += unwound
			sum.Reorgs++
		}
	}
	low := slices.Min(prog)

	from := low + 1
	if low < 0 {
		from = p.cfg.From
	} else if p.cfg.From > from {
		return fmt.Errorf("indexer: --from %d would leave a gap: %s is indexed up to %d", p.cfg.From, p.cfg.Chain, low)
	}
	to := p.cfg.To
	if to < 0 {
		// Indexing "to the tip" of a source with a gap would silently stop
		// at the gap: say so instead, before writing anything.
		if err := p.brokenChain(tip); err != nil {
			return err
		}
		to = target
	}
	if to > tip {
		return p.beyondTip(to, tip)
	}
	if sum.Blocks == 0 {
		sum.Start, sum.Height = from, from-1
	}
	sum.Target = to
	if from > to {
		sum.UpToDate = sum.Blocks == 0
		sum.Height = max(sum.Height, low)
		return p.sink.EnsureIndexes(ctx)
	}
	sum.UpToDate = false
	p.log.Info("indexing", "chain", p.cfg.Chain, "from", from, "to", to, "source_tip", tip, "workers", p.cfg.Workers)

	// The hash the first fetched block must extend, when it is stored.
	var prev *chains.Hash
	if from > 0 {
		h, err := p.sink.StoredBlockHash(ctx, p.cfg.Chain, from-1)
		switch {
		case err == nil:
			prev = &h
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
	}

	fetchCtx, stopFetch := context.WithCancel(ctx)
	defer stopFetch()
	batches := p.batches(fetchCtx, p.fetch(fetchCtx, from, to), from, to, prev, append([]int64(nil), prog...))
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
			return ctx.Err()
		}
		if b == nil {
			break
		}
		if b.err != nil {
			b.discard()
			return p.explainFetchError(ctx, b.err)
		}
		// Commit even if ctx is cancelled meanwhile: the batch is complete.
		if err := p.commit(context.WithoutCancel(ctx), b, prog); err != nil {
			b.discard()
			return err
		}
		close(b.committed)
		sum.Height = b.blocks[len(b.blocks)-1].Height
		sum.BatchBlocks, sum.BatchTxs = int64(len(b.blocks)), int64(b.txs)
		sum.Blocks += sum.BatchBlocks
		sum.Txs += sum.BatchTxs
		sum.Elapsed = time.Since(start)
		if p.cfg.OnProgress != nil {
			p.cfg.OnProgress(sum.Progress)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	if err := p.sink.EnsureIndexes(ctx); err != nil {
		return err
	}
	sum.Elapsed = time.Since(start)
	return nil
}

// explainFetchError turns a fetch failure that comes from the source's
// chain getting shorter (a reorg to a shorter branch, or a fail-over to a
// node that lags) into errChainMoved, so that the run reconciles.
func (p *Pipeline) explainFetchError(ctx context.Context, err error) error {
	var fe *fetchError
	if !errors.As(err, &fe) || errors.Is(err, errChainMoved) {
		return err
	}
	tip, _, terr := p.src.Tip(ctx)
	if terr == nil && tip < fe.height {
		return fmt.Errorf("%w: height %d is now above the source's tip %d", errChainMoved, fe.height, tip)
	}
	return err
}

// fetchError is a failure to fetch the block at height.
type fetchError struct {
	height int64
	err    error
}

func (e *fetchError) Error() string { return fmt.Sprintf("block %d: %v", e.height, e.err) }
func (e *fetchError) Unwrap() error { return e.err }

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
//
// Every block must extend the one before it (the first one prev, when
// known: parent); one that does not means the source's chain changed since the
// heights were read, and ends the batches with errChainMoved.
func (p *Pipeline) batches(ctx context.Context, blocks <-chan fetched, from, to int64, parent *chains.Hash, prog []int64) <-chan *batch {
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
			if r.err == nil && parent != nil && r.block.PrevHash != *parent {
				r.err = fmt.Errorf("%w: block %d (%s) does not extend block %d (%s)",
					errChainMoved, h, r.block.Hash, h-1, *parent)
			}
			if r.err != nil {
				cur.discard()
				send(&batch{err: &fetchError{h, r.err}})
				return
			}
			parent = &r.block.Hash
			cur.blocks = append(cur.blocks, r.block)
			cur.txs += r.block.TxCount()
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
	if p.cfg.OnReorg != nil {
		p.cfg.OnReorg(fork, high-fork)
	}
	return high - fork, nil
}

type fetched struct {
	block chains.Block
	err   error
}

// fetch decodes blocks from..to with cfg.Workers goroutines and delivers them
// in height order. A BlockRanger source is asked for cfg.FetchBlocks
// heights at a time. The returned channel yields exactly one result per
// height, or stops early after an error or when ctx is done.
func (p *Pipeline) fetch(ctx context.Context, from, to int64) <-chan fetched {
	type job struct {
		lo, hi int64
		res    chan []fetched
	}
	chunk := int64(1)
	ranger, ok := p.src.(BlockRanger)
	if ok {
		chunk = int64(p.cfg.FetchBlocks)
	}
	out := make(chan fetched, 4*p.cfg.Workers)
	futures := make(chan chan []fetched, 4*p.cfg.Workers)
	jobs := make(chan job)
	for range p.cfg.Workers {
		go func() {
			for j := range jobs {
				j.res <- p.fetchRange(ctx, ranger, j.lo, j.hi)
			}
		}()
	}
	go func() { // dispatch in order
		defer close(jobs)
		defer close(futures)
		for lo := from; lo <= to; lo += chunk {
			j := job{lo, min(lo+chunk-1, to), make(chan []fetched, 1)}
			select {
			case futures <- j.res:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- j:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { // collect in order
		defer close(out)
		for f := range futures {
			var rs []fetched
			select {
			case rs = <-f:
			case <-ctx.Done():
				return
			}
			for _, r := range rs {
				select {
				case out <- r:
				case <-ctx.Done():
					return
				}
				if r.err != nil {
					return
				}
			}
		}
	}()
	return out
}

// fetchRange fetches blocks lo..hi, one result per height up to the first
// error.
func (p *Pipeline) fetchRange(ctx context.Context, ranger BlockRanger, lo, hi int64) []fetched {
	if ranger == nil || lo == hi {
		rs := make([]fetched, 0, hi-lo+1)
		for h := lo; h <= hi; h++ {
			b, err := p.src.Block(ctx, h)
			rs = append(rs, fetched{b, err})
			if err != nil {
				break
			}
		}
		return rs
	}
	blocks, err := ranger.Blocks(ctx, lo, hi)
	if err == nil && int64(len(blocks)) != hi-lo+1 {
		err = fmt.Errorf("source returned %d blocks when asked for %d..%d", len(blocks), lo, hi)
	}
	if err != nil {
		return []fetched{{err: err}}
	}
	rs := make([]fetched, len(blocks))
	for i, b := range blocks {
		rs[i] = fetched{block: b}
	}
	return rs
}
