package actors

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/bester-project/bester/actors/config"
	"github.com/bester-project/bester/internal/procattr"
	"github.com/bester-project/bester/internal/unixsock"
	"github.com/bester-project/bester/wire"
)

const (
	// stopGrace is how long a handler process has to exit after SIGTERM
	// before its process group is killed.
	stopGrace = 5 * time.Second
	// outputWaitDelay bounds how long Wait keeps copying a dead handler's
	// output when something it started still holds the pipe.
	outputWaitDelay = time.Second
)

// handlerProcess is a started handler command. It runs in its own process
// group so that wrappers such as `go run` or a shell take their children
// down with them.
type handlerProcess struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when Wait returned
	err  error         // Wait's result, valid after done

	// mu orders signals with the process's end: once it has ended, its
	// id, that of its group, may be given to another process, which no
	// signal must reach.
	mu     sync.Mutex
	exited bool
}

// startHandlerProcess starts h's command with the environment of protocol
// §5, logging its output through log.
func startHandlerProcess(h *config.Handler, informer string, log hclog.Logger) (*handlerProcess, error) {
	if len(h.Command) == 0 {
		return nil, errors.New("handler has no command")
	}
	if err := unixsock.RemoveFile(h.Socket); err != nil {
		return nil, err
	}
	cmd := exec.Command(h.Command[0], h.Command[1:]...)
	cmd.Dir = h.Dir
	cmd.Env = append(os.Environ(),
		wire.EnvSocket+"="+h.Socket,
		wire.EnvType+"="+h.Name,
		wire.EnvMode+"="+string(h.Mode),
		wire.EnvCodec+"="+h.Codec.String(),
	)
	if informer != "" {
		cmd.Env = append(cmd.Env, wire.EnvInformer+"="+informer)
	}
	for k, v := range h.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out := &lineLogger{log: log}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = procattr.OwnGroup()
	cmd.WaitDelay = outputWaitDelay
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start handler %q: %w", h.Name, err)
	}
	p := &handlerProcess{cmd: cmd, done: make(chan struct{})}
	go func() {
		// What the handler started goes with it: a wrapper such as `go run`
		// killed alone would leave the real handler holding its exchanges
		// and its socket, an orphan nobody supervises. The group is killed
		// as soon as the process exits, before it is reaped (its id, the
		// group's, stays its own until then) and before Wait, which may
		// wait outputWaitDelay for pipes the leftovers hold.
		awaited := procattr.AwaitExit(cmd.Process.Pid)
		if awaited == nil {
			p.ended(true)
		}
		p.err = cmd.Wait()
		// Where an unreaped wait is not supported, the group is killed now,
		// reaped; should the wait have failed otherwise, the id may be
		// another's already, and nothing is killed.
		p.ended(errors.Is(awaited, errors.ErrUnsupported))
		close(p.done)
	}()
	return p, nil
}

// maxOutputLine bounds one logged line of handler output, in bytes; longer
// lines are logged in pieces.
const maxOutputLine = 4 << 10

// lineLogger logs a handler's output one line at a time, whatever the
// sizes of the writes it arrives in. os/exec calls it from one goroutine.
type lineLogger struct {
	log     hclog.Logger
	partial []byte
}

func (w *lineLogger) Write(b []byte) (int, error) {
	w.partial = append(w.partial, b...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 && len(w.partial) < maxOutputLine {
			break
		}
		if i < 0 {
			i = maxOutputLine
		}
		if line := bytes.TrimRight(w.partial[:i], "\r"); len(line) > 0 {
			w.log.Info("handler output", "line", string(line))
		}
		w.partial = w.partial[min(i+1, len(w.partial)):]
	}
	if len(w.partial) == 0 {
		w.partial = nil // do not keep a long line's buffer
	}
	return len(b), nil
}

func (p *handlerProcess) pid() int { return p.cmd.Process.Pid }

// signal sends sig to the process's whole group, unless the process has
// ended.
func (p *handlerProcess) signal(sig syscall.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.exited {
		syscall.Kill(-p.cmd.Process.Pid, sig)
	}
}

// ended records that the process has ended, which keeps any later signal
// from its id; the first time, it kills what is left of its group when
// killGroup is set.
func (p *handlerProcess) ended(killGroup bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.exited {
		if killGroup {
			syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		}
		p.exited = true
	}
}

// terminate asks the process group to exit and kills it after stopGrace.
// It returns once the process has exited and the rest of its group was
// killed.
func (p *handlerProcess) terminate() {
	p.signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(stopGrace):
		p.signal(syscall.SIGKILL)
		<-p.done
	}
}
