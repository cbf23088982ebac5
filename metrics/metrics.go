// Package metrics holds fundtrace's Prometheus metrics, on a private
// registry, and serves them over HTTP for scraping.
//
// Label values are chain ids, endpoint names and operation names only:
// endpoint names are redacted URLs (no credentials, no query string), so a
// scrape never shows a secret.
package metrics

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fundtrace/fundtrace/chains/endpoint"
)

// Registry is the set of fundtrace metrics.
type Registry struct {
	reg *prometheus.Registry

	height, tip, lag *prometheus.GaugeVec
	blocks, txs      *prometheus.CounterVec
	reorgs, unwound  *prometheus.CounterVec
	rpcSeconds       *prometheus.HistogramVec
	rpcErrors        *prometheus.CounterVec
}

// New returns a registry with fundtrace's metrics and the Go runtime and
// process collectors.
func New() *Registry {
	r := &Registry{reg: prometheus.NewRegistry()}
	r.height = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "fundtrace", Subsystem: "indexer", Name: "height",
		Help: "Last block height committed to the database.",
	}, []string{"chain"})
	r.tip = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "fundtrace", Subsystem: "source", Name: "tip_height",
		Help: "Best block height reported by the source.",
	}, []string{"chain"})
	r.lag = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "fundtrace", Subsystem: "indexer", Name: "tip_lag_blocks",
		Help: "Source tip height minus the last committed height.",
	}, []string{"chain"})
	r.blocks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "fundtrace", Subsystem: "indexer", Name: "blocks_total",
		Help: "Blocks committed to the database.",
	}, []string{"chain"})
	r.txs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "fundtrace", Subsystem: "indexer", Name: "txs_total",
		Help: "Transactions committed to the database.",
	}, []string{"chain"})
	r.reorgs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "fundtrace", Subsystem: "indexer", Name: "reorgs_total",
		Help: "Chain reorganisations unwound.",
	}, []string{"chain"})
	r.unwound = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "fundtrace", Subsystem: "indexer", Name: "unwound_blocks_total",
		Help: "Blocks removed by reorgs.",
	}, []string{"chain"})
	r.rpcSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "fundtrace", Subsystem: "source", Name: "request_duration_seconds",
		Help:    "Duration of requests to node endpoints, per attempt.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"endpoint", "op"})
	r.rpcErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "fundtrace", Subsystem: "source", Name: "request_errors_total",
		Help: "Failed requests to node endpoints, per attempt, by kind (timeout, rate_limited, server, unauthorized, unreachable, malformed, ...).",
	}, []string{"endpoint", "op", "kind"})
	r.reg.MustRegister(r.height, r.tip, r.lag, r.blocks, r.txs, r.reorgs, r.unwound, r.rpcSeconds, r.rpcErrors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}

// Handler serves the metrics in the Prometheus exposition format.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{})
}

// Gatherer exposes the registry to tests and other exporters.
func (r *Registry) Gatherer() prometheus.Gatherer { return r.reg }

// Observe implements endpoint.Observer: one call per request attempt.
func (r *Registry) Observe(name, op string, d time.Duration, err error) {
	r.rpcSeconds.WithLabelValues(name, op).Observe(d.Seconds())
	if err != nil {
		r.rpcErrors.WithLabelValues(name, op, endpoint.Kind(err)).Inc()
	}
}

// Chain returns the indexer metrics of one chain.
func (r *Registry) Chain(chain string) *Chain {
	return &Chain{r: r, chain: chain, tip: -1}
}

// Chain records one chain's indexer metrics. Its methods have the shapes
// of the indexer's hooks. The pipeline calls them from one goroutine at a
// time; the gauges themselves are safe to scrape concurrently.
type Chain struct {
	r           *Registry
	chain       string
	height, tip int64
}

// Tip records the source's tip.
func (c *Chain) Tip(height int64) {
	c.tip = height
	c.r.tip.WithLabelValues(c.chain).Set(float64(height))
	c.setLag()
}

// Committed records a committed batch of blocks and txs ending at height.
func (c *Chain) Committed(height, blocks, txs int64) {
	c.r.blocks.WithLabelValues(c.chain).Add(float64(blocks))
	c.r.txs.WithLabelValues(c.chain).Add(float64(txs))
	c.Height(height)
}

// Height records the committed height without blocks (a run with nothing
// to do, or after an unwind).
func (c *Chain) Height(height int64) {
	c.height = height
	c.r.height.WithLabelValues(c.chain).Set(float64(height))
	c.setLag()
}

// Reorg records an unwind of the blocks above fork.
func (c *Chain) Reorg(fork, unwound int64) {
	c.r.reorgs.WithLabelValues(c.chain).Inc()
	c.r.unwound.WithLabelValues(c.chain).Add(float64(unwound))
	c.Height(fork)
}

func (c *Chain) setLag() {
	if c.tip >= 0 {
		c.r.lag.WithLabelValues(c.chain).Set(float64(max(c.tip-c.height, 0)))
	}
}

// Serve serves /metrics on addr until ctx is done. It returns once the
// listener is open, with a function that waits for the server to stop;
// the error tells why it could not listen.
func (r *Registry) Serve(ctx context.Context, addr string, log *slog.Logger) (net.Addr, func(), error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", r.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("metrics server stopped", "err", err)
		}
	}()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	return ln.Addr(), func() { <-done }, nil
}
