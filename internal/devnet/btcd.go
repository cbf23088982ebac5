package devnet

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// EnvBtcd names the environment variable that points BtcdPath at a btcd
// binary.
const EnvBtcd = "FUNDTRACE_BTCD"

const (
	startTimeout = 60 * time.Second // btcd answers RPC within ~1 s normally
	stopGrace    = 10 * time.Second // SIGINT, then SIGKILL
	startTries   = 3                // fresh ports after "address already in use"
	logTailLines = 25
)

// BtcdPath returns the btcd binary to run: $FUNDTRACE_BTCD when set,
// otherwise <repo>/.bin/btcd, built from the pinned tools module
// (go build -modfile=tools/chains/go.mod) when it is missing or older than
// tools/chains/go.mod or go.sum. The repository root is the nearest
// directory above the working directory that holds tools/chains/go.mod.
// Concurrent builds (parallel test packages) each write a temporary file
// and rename it into place.
func BtcdPath(ctx context.Context) (string, error) {
	return toolPath(ctx, tool{name: "btcd", pkg: "github.com/btcsuite/btcd", env: EnvBtcd, errNo: ErrNoBtcd})
}

// tool is a node binary of the pinned tools module tools/chains.
type tool struct {
	name  string // binary name under <repo>/.bin
	pkg   string // main package to build
	env   string // environment variable that overrides the binary
	errNo error  // sentinel wrapped by every error
}

// toolPath implements BtcdPath and GethPath: $t.env when set, otherwise
// <repo>/.bin/<t.name>, (re)built from tools/chains/go.mod when missing or
// stale, written to a temporary file and renamed into place.
func toolPath(ctx context.Context, t tool) (string, error) {
	if p := os.Getenv(t.env); p != "" {
		if err := checkExecutable(p); err != nil {
			return "", fmt.Errorf("%w: %s=%s: %w", t.errNo, t.env, p, err)
		}
		return p, nil
	}
	root, err := repoRoot(t)
	if err != nil {
		return "", err
	}
	bin := filepath.Join(root, ".bin", t.name)
	if upToDate(bin, filepath.Join(root, "tools", "chains", "go.mod"), filepath.Join(root, "tools", "chains", "go.sum")) {
		return bin, nil
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("%w: cannot build %s (set %s to a %s binary): %w", t.errNo, bin, t.env, t.name, err)
	}
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		return "", fmt.Errorf("%w: %w", t.errNo, err)
	}
	tmp := bin + ".tmp-" + randomHex(6)
	cmd := exec.CommandContext(ctx, goTool, "build", "-modfile=tools/chains/go.mod", "-o", tmp, t.pkg)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		_ = os.Remove(tmp)
		return "", fmt.Errorf("%w: go build -modfile=tools/chains/go.mod %s in %s: %w\n%s", t.errNo, t.pkg, root, err, lastLines(out, logTailLines))
	}
	if err := os.Rename(tmp, bin); err != nil {
		_ = os.Remove(tmp)
		return "", fmt.Errorf("%w: %w", t.errNo, err)
	}
	return bin, nil
}

func checkExecutable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", p)
	}
	return nil
}

func repoRoot(t tool) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("%w: %w", t.errNo, err)
	}
	for d := dir; ; {
		if _, err := os.Stat(filepath.Join(d, "tools", "chains", "go.mod")); err == nil {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("%w: no tools/chains/go.mod in %s or above; set %s to a %s binary", t.errNo, dir, t.env, t.name)
		}
		d = parent
	}
}

// upToDate reports whether bin exists and is newer than every dep.
func upToDate(bin string, deps ...string) bool {
	fi, err := os.Stat(bin)
	if err != nil || checkExecutable(bin) != nil {
		return false
	}
	for _, d := range deps {
		di, err := os.Stat(d)
		if err != nil || di.ModTime().After(fi.ModTime()) {
			return false
		}
	}
	return true
}

// BtcdOptions configures StartBtcd.
type BtcdOptions struct {
	// Dir holds the node's data, logs and captured output. Empty: a fresh
	// temporary directory, removed by Stop. On regtest btcd deletes its
	// block database at every start, so a node cannot be restarted with
	// its chain, and two nodes must never share a Dir (btcd does not lock
	// it: the second one wipes the first one's chain).
	Dir string
	// MiningAddr receives the coinbase of generated blocks (a regtest
	// address, e.g. Wallet.MiningAddress()). Empty: an address nobody
	// holds the key of, so Generate still works.
	MiningAddr string
	// Listen makes the node accept peers on a free loopback port
	// (P2PAddr); otherwise it runs with --nolisten. Connect needs it on the
	// node being connected to.
	Listen bool
	// Logger receives start and stop events; nil discards them.
	Logger *slog.Logger
	// Args are appended to btcd's command line.
	Args []string
	// Path is the btcd binary. Empty: BtcdPath.
	Path string
}

// Btcd is a running btcd regtest node started by StartBtcd. Its methods
// are safe for concurrent use.
type Btcd struct {
	path    string
	dir     string
	ownDir  bool
	rpcAddr string
	p2pAddr string
	user    string
	pass    string
	client  *http.Client
	process

	stopOnce sync.Once
	stopErr  error
}

// defaultMiningAddr is P2WPKH of sha256("devnet/no-one"): a valid regtest
// address for nodes that were given none.
const defaultMiningAddr = "devnet/no-one"

// StartBtcd starts btcd on regtest with --notls --txindex, RPC on a free
// 127.0.0.1 port with random credentials, and data and logs under
// opts.Dir. It returns once the node answers RPC (polled, no fixed sleep).
// Everything btcd writes goes under the directory; btcd only creates an
// empty ~/.btcd (it finds the home directory in the password database,
// not in $HOME). Start errors wrap ErrStart (or ErrNoBtcd) and end with
// the tail of btcd's log and console output. Call Stop when done.
func StartBtcd(ctx context.Context, opts BtcdOptions) (*Btcd, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	path := opts.Path
	if path == "" {
		p, err := BtcdPath(ctx)
		if err != nil {
			return nil, err
		}
		path = p
	} else if err := checkExecutable(path); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoBtcd, err)
	}
	miningAddr := opts.MiningAddr
	if miningAddr == "" {
		miningAddr = NewWallet(regtestParams(), defaultMiningAddr).MiningAddress()
	}
	dir, ownDir := opts.Dir, false
	if dir == "" {
		d, err := os.MkdirTemp("", "devnet-btcd-")
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrStart, err)
		}
		dir, ownDir = d, true
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStart, err)
	}
	var lastErr error
	for try := 0; try < startTries; try++ {
		b, err := startOnce(ctx, path, dir, miningAddr, opts, logger)
		if err == nil {
			b.ownDir = ownDir
			return b, nil
		}
		lastErr = err
		if ctx.Err() != nil || !strings.Contains(err.Error(), "address already in use") {
			break
		}
		logger.Info("btcd port taken, retrying with new ports", "try", try+1)
	}
	if ownDir {
		_ = os.RemoveAll(dir)
	}
	return nil, lastErr
}

func startOnce(ctx context.Context, path, dir, miningAddr string, opts BtcdOptions, logger *slog.Logger) (*Btcd, error) {
	rpcPort, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStart, err)
	}
	b := &Btcd{
		path:    path,
		dir:     dir,
		rpcAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(rpcPort)),
		user:    "u" + randomHex(8),
		pass:    randomHex(16),
		client: &http.Client{Transport: &http.Transport{
			Proxy:               nil,
			MaxIdleConnsPerHost: 8,
			IdleConnTimeout:     30 * time.Second,
		}},
		process: newProcess("btcd", logger),
	}
	b.output = b.tails
	args := []string{
		"--regtest", "--notls", "--txindex", "--nodnsseed",
		"--datadir=" + filepath.Join(dir, "data"),
		"--logdir=" + filepath.Join(dir, "logs"),
		"--rpclisten=" + b.rpcAddr,
		"--rpcuser=" + b.user,
		"--rpcpass=" + b.pass,
		"--rpcmaxclients=64",
		"--miningaddr=" + miningAddr,
	}
	if opts.Listen {
		p2pPort, err := freePort()
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrStart, err)
		}
		b.p2pAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(p2pPort))
		args = append(args, "--listen="+b.p2pAddr)
	} else {
		args = append(args, "--nolisten")
	}
	args = append(args, opts.Args...)

	out, err := os.OpenFile(b.outFile(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStart, err)
	}
	defer out.Close() // the child keeps its own descriptor
	cmd := exec.Command(path, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, out
	if err := b.launch(cmd); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrStart, path, err)
	}
	logger.Info("btcd started", "pid", cmd.Process.Pid, "rpc", b.rpcAddr, "p2p", b.p2pAddr, "dir", dir)

	if err := b.waitReady(ctx); err != nil {
		_ = b.kill()
		return nil, fmt.Errorf("%w: %s: %w%s", ErrStart, path, err, b.tails())
	}
	return b, nil
}

// waitReady polls getblockcount until it answers (see process.waitReady);
// wrong credentials end the wait at once.
func (b *Btcd) waitReady(ctx context.Context) error {
	return b.process.waitReady(ctx, func(ctx context.Context) error {
		_, err := b.Call(ctx, "getblockcount")
		return err
	}, func(err error) bool { return errors.Is(err, ErrUnauthorized) })
}

// Stop sends SIGINT to the node's process and waits for it to exit,
// sending SIGKILL after 10 s. It removes the node's directory if
// StartBtcd created it. Stop is idempotent; later calls return the first
// result.
func (b *Btcd) Stop() error {
	b.stopOnce.Do(func() {
		b.stopErr = b.stop()
		b.client.CloseIdleConnections()
		if b.ownDir {
			if err := os.RemoveAll(b.dir); err != nil && b.stopErr == nil {
				b.stopErr = fmt.Errorf("devnet: remove %s: %w", b.dir, err)
			}
		}
	})
	return b.stopErr
}

// RPCURL returns http://127.0.0.1:PORT, without credentials.
func (b *Btcd) RPCURL() string { return "http://" + b.rpcAddr }

// User returns the RPC user name.
func (b *Btcd) User() string { return b.user }

// Password returns the RPC password.
func (b *Btcd) Password() string { return b.pass }

// P2PAddr returns the 127.0.0.1:PORT the node accepts peers on, or "" if
// it was started without Listen.
func (b *Btcd) P2PAddr() string { return b.p2pAddr }

// Dir returns the node's directory (data, logs, console output).
func (b *Btcd) Dir() string { return b.dir }

// LogTail returns the last lines of btcd's log file and console output,
// for failure messages.
func (b *Btcd) LogTail() string { return strings.TrimPrefix(b.tails(), "\n") }

func (b *Btcd) logFile() string { return filepath.Join(b.dir, "logs", "regtest", "btcd.log") }
func (b *Btcd) outFile() string { return filepath.Join(b.dir, "btcd.out") }

// tails returns the end of btcd's log file and the lines of its console
// output that are not copies of log lines (flag errors, panics).
func (b *Btcd) tails() string {
	var sb strings.Builder
	if data, err := readTail(b.logFile(), 16<<10); err == nil && len(bytes.TrimSpace(data)) > 0 {
		fmt.Fprintf(&sb, "\n--- end of %s ---\n%s", b.logFile(), lastLines(data, logTailLines))
	}
	if data, err := readTail(b.outFile(), 16<<10); err == nil {
		var other []string
		for _, line := range strings.Split(string(data), "\n") {
			if strings.TrimSpace(line) != "" && !logLine.MatchString(line) {
				other = append(other, line)
			}
		}
		if len(other) > 0 {
			fmt.Fprintf(&sb, "\n--- end of %s ---\n%s", b.outFile(), lastLines([]byte(strings.Join(other, "\n")), logTailLines))
		}
	}
	return sb.String()
}

// logLine matches btcd's log lines, which it also prints to stdout.
var logLine = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \[[A-Z]{3}\] `)

func readTail(name string, n int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if off := fi.Size() - n; off > 0 {
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			return nil, err
		}
	}
	return io.ReadAll(f)
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// freePort asks the kernel for a free loopback TCP port. Another process
// may take it before btcd binds it; StartBtcd retries in that case.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}
