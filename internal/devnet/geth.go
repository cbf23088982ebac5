package devnet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/rpc"
)

// EnvGeth names the environment variable that points GethPath at a geth
// binary.
const EnvGeth = "FUNDTRACE_GETH"

// DevChainID is the chain id of geth --dev.
const DevChainID = 1337

// Errors of the geth harness (the btcd ones name btcd in their text).
var (
	// ErrNoGeth is returned when no geth binary can be found or built.
	ErrNoGeth = errors.New("devnet: geth binary not available")
	// ErrGethStart is returned when geth exits or never answers RPC
	// during StartGeth. The error text carries the end of geth's output.
	ErrGethStart = errors.New("devnet: geth did not start")
	// ErrGethStopped is returned by calls on a node after Stop, or after
	// the process died.
	ErrGethStopped = errors.New("devnet: geth is not running")
)

// GethPath returns the geth binary to run: $FUNDTRACE_GETH when set,
// otherwise <repo>/.bin/geth, built from the pinned tools module
// (go build -modfile=tools/chains/go.mod) when it is missing or older than
// tools/chains/go.mod or go.sum, exactly like BtcdPath. The first build
// takes a few minutes.
func GethPath(ctx context.Context) (string, error) {
	return toolPath(ctx, tool{name: "geth", pkg: "github.com/ethereum/go-ethereum/cmd/geth", env: EnvGeth, errNo: ErrNoGeth})
}

// GethOptions configures StartGeth.
type GethOptions struct {
	// Dir holds the chain (Dir/data, geth's --datadir) and geth's console
	// output (Dir/geth.out). Empty: a fresh temporary directory, removed
	// by Stop. A Dir given again to a later StartGeth (after Stop) restarts
	// the same chain. Two running nodes must not share a Dir.
	Dir string
	// Logger receives start and stop events; nil discards them.
	Logger *slog.Logger
	// Args are appended to geth's command line.
	Args []string
	// Path is the geth binary. Empty: GethPath.
	Path string
	// Period is --dev.period in seconds. 0 (the default) seals a block as
	// soon as a transaction is pending: sent one at a time, each
	// transaction gets its own block, though geth now and then also seals
	// an empty one.
	Period int
}

// Geth is a running geth --dev node started by StartGeth. Its methods
// are safe for concurrent use; Send and SendTx run one at a time.
type Geth struct {
	path    string
	dir     string
	ownDir  bool
	rpcAddr string
	rpc     *rpc.Client
	chainID uint64
	process

	sendMu sync.Mutex                // one transaction at a time
	nonces map[common.Address]uint64 // next nonce per sender, under sendMu

	stopOnce sync.Once
	stopErr  error
}

// StartGeth starts geth --dev with HTTP JSON-RPC (eth, debug, net, web3)
// on a free 127.0.0.1 port, IPC disabled and --datadir under opts.Dir. In
// dev mode geth opens no other port (no P2P, no authrpc) and writes
// nothing under $HOME. It returns once eth_chainId answers (polled, no
// fixed sleep). Start errors wrap ErrGethStart (or ErrNoGeth) and end
// with the tail of geth's output. Call Stop when done.
func StartGeth(ctx context.Context, opts GethOptions) (*Geth, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.Period < 0 {
		return nil, fmt.Errorf("%w: negative dev period %d", ErrGethStart, opts.Period)
	}
	path := opts.Path
	if path == "" {
		p, err := GethPath(ctx)
		if err != nil {
			return nil, err
		}
		path = p
	} else if err := checkExecutable(path); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoGeth, err)
	}
	dir, ownDir := opts.Dir, false
	if dir == "" {
		d, err := os.MkdirTemp("", "devnet-geth-")
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrGethStart, err)
		}
		dir, ownDir = d, true
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrGethStart, err)
	}
	var lastErr error
	for try := 0; try < startTries; try++ {
		g, err := startGethOnce(ctx, path, dir, opts, logger)
		if err == nil {
			g.ownDir = ownDir
			return g, nil
		}
		lastErr = err
		if ctx.Err() != nil || !strings.Contains(err.Error(), "address already in use") {
			break
		}
		logger.Info("geth port taken, retrying with a new port", "try", try+1)
	}
	if ownDir {
		_ = os.RemoveAll(dir)
	}
	return nil, lastErr
}

func startGethOnce(ctx context.Context, path, dir string, opts GethOptions, logger *slog.Logger) (*Geth, error) {
	port, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrGethStart, err)
	}
	g := &Geth{
		path:    path,
		dir:     dir,
		rpcAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		process: newProcess("geth", logger),
		nonces:  map[common.Address]uint64{},
	}
	g.output = g.tails
	if g.rpc, err = rpc.DialOptions(ctx, g.RPCURL()); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrGethStart, err)
	}
	args := []string{
		"--dev",
		"--dev.period", strconv.Itoa(opts.Period),
		"--datadir", filepath.Join(dir, "data"),
		"--ipcdisable",
		"--http",
		"--http.addr", "127.0.0.1",
		"--http.port", strconv.Itoa(port),
		"--http.api", "eth,debug,net,web3",
	}
	args = append(args, opts.Args...)

	out, err := os.OpenFile(g.outFile(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrGethStart, err)
	}
	defer out.Close() // the child keeps its own descriptor
	cmd := exec.Command(path, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, out
	if err := g.launch(cmd); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrGethStart, path, err)
	}
	logger.Info("geth started", "pid", cmd.Process.Pid, "rpc", g.rpcAddr, "dir", dir)

	if err := g.waitReady(ctx); err != nil {
		_ = g.kill()
		return nil, fmt.Errorf("%w: %s: %w%s", ErrGethStart, path, err, g.tails())
	}
	return g, nil
}

// waitReady polls eth_chainId until it answers (see process.waitReady)
// and records the chain id.
func (g *Geth) waitReady(ctx context.Context) error {
	return g.process.waitReady(ctx, func(ctx context.Context) error {
		var id hexutil.Uint64
		if err := g.Call(ctx, &id, "eth_chainId"); err != nil {
			return err
		}
		g.chainID = uint64(id)
		return nil
	}, nil)
}

// Stop sends SIGINT to geth and waits for it to exit (geth flushes its
// state to the datadir, about 1 s), sending SIGKILL after 10 s. It
// removes the node's directory if StartGeth created it. Stop is
// idempotent; later calls return the first result.
func (g *Geth) Stop() error {
	g.stopOnce.Do(func() {
		g.stopErr = g.stop()
		g.rpc.Close()
		if g.ownDir {
			if err := os.RemoveAll(g.dir); err != nil && g.stopErr == nil {
				g.stopErr = fmt.Errorf("devnet: remove %s: %w", g.dir, err)
			}
		}
	})
	return g.stopErr
}

// RPCURL returns http://127.0.0.1:PORT (no credentials needed).
func (g *Geth) RPCURL() string { return "http://" + g.rpcAddr }

// Dir returns the node's directory (Dir/data is the datadir).
func (g *Geth) Dir() string { return g.dir }

// ChainID returns the chain id the node reported at start (DevChainID).
func (g *Geth) ChainID() uint64 { return g.chainID }

// LogTail returns the last lines of geth's console output (its log), for
// failure messages.
func (g *Geth) LogTail() string { return strings.TrimPrefix(g.tails(), "\n") }

func (g *Geth) outFile() string { return filepath.Join(g.dir, "geth.out") }

func (g *Geth) tails() string {
	data, err := readTail(g.outFile(), 16<<10)
	if err != nil || len(bytes.TrimSpace(data)) == 0 {
		return ""
	}
	return fmt.Sprintf("\n--- end of %s ---\n%s", g.outFile(), lastLines(data, logTailLines))
}

// EthRPCError is an error object returned by geth's JSON-RPC server.
// Reverts come as code 3 with the revert data in Data.
type EthRPCError struct {
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data,omitempty"`
}

// Error implements error.
func (e *EthRPCError) Error() string {
	if len(e.Data) > 0 {
		return fmt.Sprintf("rpc error %d: %s (data %s)", e.Code, e.Message, snippet(e.Data))
	}
	return fmt.Sprintf("rpc error %d: %s", e.Code, e.Message)
}

// ErrorCode returns the JSON-RPC error code.
func (e *EthRPCError) ErrorCode() int { return e.Code }

// Call sends one JSON-RPC request through go-ethereum's rpc.Client and
// decodes the result into result (a pointer; nil discards it). An error
// object in the reply is returned as a wrapped *EthRPCError.
func (g *Geth) Call(ctx context.Context, result any, method string, params ...any) error {
	select {
	case <-g.done:
		return fmt.Errorf("%w: %s: %s", ErrGethStopped, method, g.exitStatus())
	default:
	}
	err := g.rpc.CallContext(ctx, result, method, params...)
	if err == nil {
		return nil
	}
	var re rpc.Error
	if errors.As(err, &re) {
		e := &EthRPCError{Code: re.ErrorCode(), Message: re.Error()}
		var de rpc.DataError
		if errors.As(err, &de) && de.ErrorData() != nil {
			e.Data, _ = json.Marshal(de.ErrorData())
		}
		return fmt.Errorf("devnet: %s: %w", method, e)
	}
	return fmt.Errorf("devnet: %s: %w", method, err)
}

// Tip returns the number of the node's head block (eth_blockNumber).
func (g *Geth) Tip(ctx context.Context) (uint64, error) {
	var n hexutil.Uint64
	if err := g.Call(ctx, &n, "eth_blockNumber"); err != nil {
		return 0, err
	}
	return uint64(n), nil
}

// BlockHash returns the hash of the canonical block at height n.
func (g *Geth) BlockHash(ctx context.Context, n uint64) (common.Hash, error) {
	h, err := g.header(ctx, hexutil.EncodeUint64(n))
	if err != nil {
		return common.Hash{}, err
	}
	return h.Hash, nil
}

// ethHeader is the part of eth_getBlockByNumber the harness reads.
type ethHeader struct {
	Number  hexutil.Uint64 `json:"number"`
	Hash    common.Hash    `json:"hash"`
	Miner   common.Address `json:"miner"`
	BaseFee *hexutil.Big   `json:"baseFeePerGas"`
}

func (g *Geth) header(ctx context.Context, tag string) (*ethHeader, error) {
	var h *ethHeader
	if err := g.Call(ctx, &h, "eth_getBlockByNumber", tag, false); err != nil {
		return nil, err
	}
	if h == nil {
		return nil, fmt.Errorf("devnet: no block %s on geth %s", tag, g.rpcAddr)
	}
	return h, nil
}

// SetHead rewinds the chain to block n with debug_setHead, for reorg
// tests: blocks above n are dropped and their transactions are not put
// back into the pool (which catches up with the rewind in the
// background), and the next transaction is sealed as a new block n+1
// with a different hash. Cached nonces are forgotten. n must not be above
// the tip.
func (g *Geth) SetHead(ctx context.Context, n uint64) error {
	g.sendMu.Lock()
	defer g.sendMu.Unlock()
	tip, err := g.Tip(ctx)
	if err != nil {
		return err
	}
	if n > tip {
		return fmt.Errorf("devnet: set head to %d above tip %d", n, tip)
	}
	if err := g.Call(ctx, nil, "debug_setHead", hexutil.EncodeUint64(n)); err != nil {
		return err
	}
	clear(g.nonces)
	if got, err := g.Tip(ctx); err != nil {
		return err
	} else if got != n {
		return fmt.Errorf("devnet: debug_setHead %d left the tip at %d", n, got)
	}
	return nil
}
