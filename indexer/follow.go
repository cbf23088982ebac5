package indexer

import (
	"context"
	"errors"
	"time"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/store"
)

// Follow indexes to the source's tip (less Config.Confirmations) and then
// keeps following it: it polls the tip every Config.PollInterval and runs
// again when it changes, reorgs included. It returns only when ctx is
// cancelled (after the batch being committed, with ctx's error) or on an
// error that waiting cannot cure: a reorg deeper than the limit, bad
// credentials, a node on another network, a block that fails verification.
// Transient failures of the source or the database (timeouts, a node that
// restarts, a chain that moves during a run) are logged and retried with
// backoff, for as long as they last.
//
// Config.To is ignored: a follower has no last height.
func (p *Pipeline) Follow(ctx context.Context) error {
	p.cfg.To = -1
	var (
		seenHeight = int64(-1)
		seenHash   chains.Hash
		wait       = p.cfg.PollInterval
	)
	for {
		sum, err := p.Run(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			if !Transient(err) {
				return err
			}
			p.log.Warn("sync failed; retrying", "chain", p.cfg.Chain, "in", wait, "err", err)
			if !sleep(ctx, wait) {
				return ctx.Err()
			}
			wait = min(2*wait, p.cfg.MaxRetryWait)
			continue
		}
		wait = p.cfg.PollInterval
		if sum.Blocks > 0 || sum.Unwound > 0 {
			p.log.Info("synced", "chain", p.cfg.Chain, "height", sum.Height, "source_tip", sum.SourceTip,
				"blocks", sum.Blocks, "txs", sum.Txs, "unwound", sum.Unwound)
		}
		seenHeight, seenHash = sum.SourceTip, sum.SourceTipHash
		if err := p.waitForTip(ctx, seenHeight, seenHash); err != nil {
			return err
		}
	}
}

// waitForTip polls the source until its tip differs from (height, hash).
// Source failures while polling are retried with backoff.
func (p *Pipeline) waitForTip(ctx context.Context, height int64, hash chains.Hash) error {
	wait := p.cfg.PollInterval
	for {
		if !sleep(ctx, wait) {
			return ctx.Err()
		}
		h, hh, err := p.src.Tip(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			if !Transient(err) {
				return err
			}
			wait = min(2*wait, p.cfg.MaxRetryWait)
			p.log.Warn("source tip unavailable; retrying", "chain", p.cfg.Chain, "in", wait, "err", err)
			continue
		}
		wait = p.cfg.PollInterval
		if p.cfg.OnTip != nil {
			p.cfg.OnTip(h)
		}
		if h != height || hh != hash {
			return nil
		}
	}
}

// Transient reports whether err may go away by itself: a source whose
// chain moved during a run, a source or database that is unreachable,
// timing out or overloaded (errors whose chain holds a
// `Transient() bool` method returning true, as endpoint errors do after
// their own retries ran out).
func Transient(err error) bool {
	if errors.Is(err, ErrSourceChanged) || errors.Is(err, errChainMoved) || errors.Is(err, store.ErrUnavailable) {
		return true
	}
	var t interface{ Transient() bool }
	return errors.As(err, &t) && t.Transient()
}

// sleep waits d or until ctx is done; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
