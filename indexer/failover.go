package indexer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/fundtrace/fundtrace/chains"
)

// NamedSource is a Source with a name fit for logs (no credentials).
type NamedSource interface {
	Source
	Name() string
}

// Failover is a Source over several endpoints of one chain. Calls go to
// the preferred endpoint; when it fails (after its own retries), the others
// are tried in order and the first that answers becomes preferred. The
// first endpoint is tried again as preferred after Cooldown.
//
// Endpoints may disagree for a moment (one lags, one has seen a reorg the
// other has not); the pipeline checks that every block extends the one
// before it, so a mixed answer makes it reconcile, never store a wrong
// chain.
type Failover struct {
	srcs     []NamedSource
	cooldown time.Duration
	log      *slog.Logger
	now      func() time.Time

	mu        sync.Mutex
	preferred int
	since     time.Time // when preferred last moved off the first
}

// DefaultCooldown is how long Failover stays off the first endpoint after
// it failed.
const DefaultCooldown = time.Minute

// NewFailover returns a Failover over srcs, preferred in the order given.
// log may be nil.
func NewFailover(log *slog.Logger, srcs ...NamedSource) (*Failover, error) {
	if len(srcs) == 0 {
		return nil, errors.New("indexer: failover needs at least one source")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Failover{srcs: srcs, cooldown: DefaultCooldown, log: log, now: time.Now}, nil
}

// Name lists the endpoints.
func (f *Failover) Name() string {
	s := f.srcs[0].Name()
	for _, x := range f.srcs[1:] {
		s += "," + x.Name()
	}
	return s
}

// Sources returns the endpoints in order of preference at construction.
func (f *Failover) Sources() []NamedSource { return f.srcs }

// order returns the indexes to try, preferred first.
func (f *Failover) order() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.preferred != 0 && f.now().Sub(f.since) >= f.cooldown {
		f.preferred = 0
		f.log.Info("returning to the first endpoint", "endpoint", f.srcs[0].Name())
	}
	idx := make([]int, 0, len(f.srcs))
	for i := range f.srcs {
		idx = append(idx, (f.preferred+i)%len(f.srcs))
	}
	return idx
}

func (f *Failover) prefer(i int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.preferred == i {
		return
	}
	f.log.Warn("failing over", "from", f.srcs[f.preferred].Name(), "to", f.srcs[i].Name())
	f.preferred = i
	if i != 0 {
		f.since = f.now()
	}
}

// try calls fn on each endpoint in order until one succeeds. It returns
// the error of every endpoint when all fail.
func try[T any](ctx context.Context, f *Failover, op string, fn func(NamedSource) (T, error)) (T, error) {
	var errs []error
	for n, i := range f.order() {
		v, err := fn(f.srcs[i])
		if err == nil {
			if n > 0 {
				f.prefer(i)
			}
			return v, nil
		}
		if ctx.Err() != nil {
			var zero T
			return zero, err
		}
		if len(f.srcs) > 1 {
			f.log.Warn("endpoint failed", "endpoint", f.srcs[i].Name(), "op", op, "err", err)
		}
		errs = append(errs, err)
	}
	var zero T
	if len(errs) == 1 {
		return zero, errs[0]
	}
	return zero, fmt.Errorf("all %d endpoints failed: %w", len(errs), errors.Join(errs...))
}

// Tip implements Source.
func (f *Failover) Tip(ctx context.Context) (int64, chains.Hash, error) {
	type tip struct {
		h    int64
		hash chains.Hash
	}
	t, err := try(ctx, f, "tip", func(s NamedSource) (tip, error) {
		h, hash, err := s.Tip(ctx)
		return tip{h, hash}, err
	})
	return t.h, t.hash, err
}

// BlockHash implements Source.
func (f *Failover) BlockHash(ctx context.Context, height int64) (chains.Hash, error) {
	return try(ctx, f, "block hash", func(s NamedSource) (chains.Hash, error) { return s.BlockHash(ctx, height) })
}

// Block implements Source.
func (f *Failover) Block(ctx context.Context, height int64) (chains.Block, error) {
	return try(ctx, f, "block", func(s NamedSource) (chains.Block, error) { return s.Block(ctx, height) })
}

// Blocks implements BlockRanger, through the endpoint's own batching when
// it has it.
func (f *Failover) Blocks(ctx context.Context, from, to int64) ([]chains.Block, error) {
	return try(ctx, f, "blocks", func(s NamedSource) ([]chains.Block, error) {
		if r, ok := s.(BlockRanger); ok {
			return r.Blocks(ctx, from, to)
		}
		out := make([]chains.Block, 0, to-from+1)
		for h := from; h <= to; h++ {
			b, err := s.Block(ctx, h)
			if err != nil {
				return nil, err
			}
			out = append(out, b)
		}
		return out, nil
	})
}
