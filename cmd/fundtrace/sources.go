package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/fundtrace/fundtrace/chains/bitcoin"
	"github.com/fundtrace/fundtrace/chains/endpoint"
	"github.com/fundtrace/fundtrace/chains/ethereum"
	"github.com/fundtrace/fundtrace/indexer"
)

// sourceFlags are the node endpoints given on the command line.
type sourceFlags struct {
	rpc        []string
	esplora    []string
	cookieFile string
	headers    []string
	rate       float64
	timeout    time.Duration
	file       string
}

func (f *sourceFlags) any() bool { return len(f.rpc)+len(f.esplora) > 0 || f.file != "" }

// sourcesFile is the --sources file: one entry per endpoint, each with its
// own credentials, headers and rate. Any string value may name environment
// variables as ${NAME}, so that secrets stay out of the file.
type sourcesFile struct {
	Endpoints []endpointEntry `json:"endpoints"`
}

type endpointEntry struct {
	Kind       string            `json:"kind"` // rpc or esplora
	URL        string            `json:"url"`
	Name       string            `json:"name,omitempty"`
	User       string            `json:"user,omitempty"`
	Password   string            `json:"password,omitempty"`
	CookieFile string            `json:"cookie_file,omitempty"`
	Headers    map[string]string `json:"headers,omitempty"`
	Rate       float64           `json:"rate,omitempty"`
	Timeout    string            `json:"timeout,omitempty"`
}

// Default request rates per endpoint kind (requests per second; 0: no
// limit). Public Esplora servers throttle hard; an own node does not need
// a limit.
const (
	defaultRPCRate     = 0
	defaultEsploraRate = 10
)

// endpointEntries merges the flags and the --sources file.
func (f *sourceFlags) entries() ([]endpointEntry, error) {
	var out []endpointEntry
	if f.file != "" {
		raw, err := os.ReadFile(f.file)
		if err != nil {
			return nil, badInput("--sources: %v", err)
		}
		var sf sourcesFile
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&sf); err != nil {
			return nil, badInput("--sources %s: %v", f.file, err)
		}
		for i, e := range sf.Endpoints {
			e.URL, e.User, e.Password, e.CookieFile = os.ExpandEnv(e.URL), os.ExpandEnv(e.User), os.ExpandEnv(e.Password), os.ExpandEnv(e.CookieFile)
			for k, v := range e.Headers {
				e.Headers[k] = os.ExpandEnv(v)
			}
			if e.Kind != "rpc" && e.Kind != "esplora" {
				return nil, badInput("--sources %s: endpoint %d: kind %q: want rpc or esplora", f.file, i+1, e.Kind)
			}
			out = append(out, e)
		}
	}
	headers := map[string]string{}
	for _, h := range f.headers {
		k, v, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, badInput("--header %q: want \"Name: value\"", redactHeader(h))
		}
		headers[strings.TrimSpace(k)] = os.ExpandEnv(strings.TrimSpace(v))
	}
	user, pass := os.Getenv("FUNDTRACE_RPC_USER"), os.Getenv("FUNDTRACE_RPC_PASSWORD")
	for _, u := range f.rpc {
		out = append(out, endpointEntry{Kind: "rpc", URL: u, User: user, Password: pass, CookieFile: f.cookieFile, Headers: headers, Rate: f.rate})
	}
	for _, u := range f.esplora {
		out = append(out, endpointEntry{Kind: "esplora", URL: u, Headers: headers, Rate: f.rate})
	}
	if len(out) == 0 {
		return nil, badInput("no endpoints: give --rpc, --esplora or --sources")
	}
	return out, nil
}

// redactHeader keeps a header's name and hides its value.
func redactHeader(h string) string {
	if k, _, ok := strings.Cut(h, ":"); ok {
		return k + ": ***"
	}
	return "***"
}

// chainSource is a node endpoint of a chain that can check itself.
type chainSource interface {
	indexer.NamedSource
	Check(ctx context.Context) error
}

// sourceMaker makes the source of one endpoint of the given kind (rpc or
// esplora).
type sourceMaker func(ctx context.Context, kind string, ep *endpoint.Endpoint) (chainSource, error)

// bitcoinSources makes Bitcoin Core/btcd JSON-RPC and Esplora sources.
func bitcoinSources(net *bitcoin.Network) sourceMaker {
	return func(_ context.Context, kind string, ep *endpoint.Endpoint) (chainSource, error) {
		if kind == "rpc" {
			return bitcoin.NewClient(ep, net), nil
		}
		return bitcoin.NewEsplora(ep, net), nil
	}
}

// openSources builds, checks and combines the endpoints. Every endpoint is
// checked before indexing starts (it answers, the credentials are good,
// it serves the chain asked for): a misconfigured endpoint is an error now,
// not a fail-over later.
func (a *app) openSources(ctx context.Context, f *sourceFlags, obs endpoint.Observer, makeSource sourceMaker) (*indexer.Failover, error) {
	entries, err := f.entries()
	if err != nil {
		return nil, err
	}
	var srcs []indexer.NamedSource
	for i, e := range entries {
		cfg := endpoint.DefaultConfig(e.URL)
		cfg.Name, cfg.User, cfg.Password, cfg.CookieFile, cfg.Headers = e.Name, e.User, e.Password, e.CookieFile, e.Headers
		cfg.Rate = e.Rate
		if cfg.Rate == 0 && e.Kind == "esplora" {
			cfg.Rate = defaultEsploraRate
		}
		if f.timeout > 0 {
			cfg.Timeout = f.timeout
		}
		if e.Timeout != "" {
			if cfg.Timeout, err = time.ParseDuration(e.Timeout); err != nil {
				return nil, badInput("endpoint %d: timeout %q: %v", i+1, e.Timeout, err)
			}
		}
		if err := cfg.Validate(); err != nil {
			return nil, badInput("endpoint %d (%s): %v", i+1, endpoint.Redact(e.URL), err)
		}
		ep, err := endpoint.New(cfg, endpoint.Options{Observer: obs, Logger: a.log})
		if err != nil {
			return nil, badInput("endpoint %d (%s): %v", i+1, endpoint.Redact(e.URL), err)
		}
		src, err := makeSource(ctx, e.Kind, ep)
		if err != nil {
			return nil, badInput("endpoint %d (%s): %v", i+1, ep.Name(), err)
		}
		if err := src.Check(ctx); err != nil {
			return nil, &exitError{exitFailure, fmt.Errorf("%s endpoint %s: %w", e.Kind, src.Name(), err)}
		}
		srcs = append(srcs, src)
	}
	return indexer.NewFailover(a.log, srcs...)
}

// sourceErrorHint adds what to do about errors an operator can fix.
func sourceErrorHint(err error) string {
	switch {
	case errors.Is(err, endpoint.ErrUnauthorized):
		return "check the endpoint's credentials (user/password, --rpc-cookie, API key header)"
	case errors.Is(err, bitcoin.ErrWrongNetwork), errors.Is(err, ethereum.ErrWrongChain):
		return "the node serves another network than --chain"
	case errors.Is(err, bitcoin.ErrMethodNotFound):
		return "the node lacks a method fundtrace needs (Bitcoin Core or btcd JSON-RPC is required)"
	case errors.Is(err, indexer.ErrReorgTooDeep):
		return "see docs/operations.md, \"Deep reorgs\""
	}
	return ""
}
