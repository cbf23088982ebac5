package devnet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// process is a node process the harness started (btcd, geth): the
// command, a channel closed when it has exited, and how it exited.
type process struct {
	name    string // "btcd", "geth"
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited
	waitErr error         // valid after done
	logger  *slog.Logger
	// output returns the end of the node's logs, for error messages.
	output func() string
}

func newProcess(name string, logger *slog.Logger) process {
	return process{name: name, done: make(chan struct{}), logger: logger}
}

// launch starts cmd and watches for its exit.
func (p *process) launch(cmd *exec.Cmd) error {
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return err
	}
	p.cmd = cmd
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	return nil
}

// waitReady polls probe until it succeeds, the process exits, ctx ends or
// startTimeout passes. An error for which fatal reports true ends the wait
// at once (wrong credentials will not get better).
func (p *process) waitReady(ctx context.Context, probe func(context.Context) error, fatal func(error) bool) error {
	deadline := time.NewTimer(startTimeout)
	defer deadline.Stop()
	delay := 10 * time.Millisecond
	var lastErr error
	for {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := probe(cctx)
		cancel()
		if err == nil {
			return nil
		}
		lastErr = err
		if fatal != nil && fatal(err) {
			return err
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited: %s", p.name, p.exitStatus())
		case <-ctx.Done():
			return fmt.Errorf("waiting for rpc: %w", ctx.Err())
		case <-deadline.C:
			return fmt.Errorf("%w: no rpc answer after %v: %w", ErrTimeout, startTimeout, lastErr)
		case <-time.After(delay):
		}
		delay = min(2*delay, 200*time.Millisecond)
	}
}

// kill stops the process at once and waits for it.
func (p *process) kill() error {
	if p.cmd == nil || p.cmd.Process == nil {
		return nil
	}
	_ = p.cmd.Process.Kill()
	<-p.done
	return nil
}

// stop sends SIGINT and waits for the process to exit, killing it after
// stopGrace.
func (p *process) stop() error {
	select {
	case <-p.done:
		return nil // already gone
	default:
	}
	pid := p.cmd.Process.Pid
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("devnet: signal %s %d: %w", p.name, pid, err)
	}
	timer := time.NewTimer(stopGrace)
	defer timer.Stop()
	select {
	case <-p.done:
		p.logger.Info(p.name+" stopped", "pid", pid)
		return nil
	case <-timer.C:
	}
	_ = p.cmd.Process.Kill()
	<-p.done
	p.logger.Warn(p.name+" killed after grace period", "pid", pid, "grace", stopGrace)
	return fmt.Errorf("devnet: %s %d ignored SIGINT for %v and was killed%s", p.name, pid, stopGrace, p.output())
}

func (p *process) exitStatus() string {
	if p.waitErr != nil {
		return p.waitErr.Error()
	}
	return "exit status 0"
}

// PID returns the node's process id.
func (p *process) PID() int { return p.cmd.Process.Pid }
