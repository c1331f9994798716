package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

const (
	// maxTxnOps is the most operations one etcd transaction carries:
	// etcd's default --max-txn-ops (3.4 and 3.5).
	maxTxnOps = 128
	// Failed writes are retried after a pause that doubles from
	// minRetryPause up to maxRetryPause.
	minRetryPause = 100 * time.Millisecond
	maxRetryPause = 5 * time.Second
	// failureLogEvery is how often a run of failed writes is logged again.
	failureLogEvery = 30 * time.Second
)

// keyState is what the writer knows of a user's key in etcd.
type keyState uint8

const (
	keyPresent keyState = iota + 1
	// keyUnknown: a write failed (it may have been applied anyway) or the
	// lease changed; the next write of the user goes to etcd whatever it is.
	keyUnknown
)

// userWrite is one key to put (present) or delete.
type userWrite struct {
	user    string
	present bool
}

// userWriter keeps this member's keys in etcd in step with its local
// users. want records what should be in etcd and returns at once; run
// writes the difference in transactions of at most maxTxnOps operations,
// so that a burst of logins costs a few raft writes, and a Register
// followed by an Unregister before the write costs nothing.
type userWriter struct {
	provider *etcdProvider
	usersDir string
	self     string
	log      *slog.Logger
	wake     chan struct{}

	mu      sync.Mutex
	wanted  map[string]struct{} // the users this member holds now
	pending map[string]struct{} // users whose key may differ from wanted
	written map[string]keyState // what etcd holds; absent: no key
	closed  bool
}

func newUserWriter(p *etcdProvider, usersDir, self string, log *slog.Logger) *userWriter {
	return &userWriter{
		provider: p, usersDir: usersDir, self: self, log: log,
		wake:    make(chan struct{}, 1),
		wanted:  make(map[string]struct{}),
		pending: make(map[string]struct{}),
		written: make(map[string]keyState),
	}
}

// want records that this member holds user (present) or not.
func (w *userWriter) want(user string, present bool) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	if present {
		w.wanted[user] = struct{}{}
	} else {
		delete(w.wanted, user)
	}
	w.pending[user] = struct{}{}
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default: // the writer is awake already
	}
}

// local lists the users this member holds.
func (w *userWriter) local() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Collect(maps.Keys(w.wanted))
}

// close makes later want calls do nothing.
func (w *userWriter) close() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
}

// run writes until ctx ends: batches while there are differences, then
// waits for a want or a new lease. A failed batch is retried after a
// growing pause; a new lease means every local user is put again.
func (w *userWriter) run(ctx context.Context) {
	pause := minRetryPause
	var failures failureLog
	for ctx.Err() == nil {
		select {
		case <-w.provider.renewed:
			w.rewriteAll()
		default:
		}
		batch := w.next()
		if len(batch) == 0 {
			select {
			case <-ctx.Done():
			case <-w.wake:
			case <-w.provider.renewed:
				w.rewriteAll()
			}
			continue
		}
		if err := w.commit(ctx, batch); err != nil {
			w.failed(batch)
			if ctx.Err() != nil {
				return
			}
			failures.failed(w.log, len(batch), err)
			select {
			case <-ctx.Done():
			case <-time.After(pause):
			case <-w.provider.renewed:
				w.rewriteAll()
			}
			pause = min(2*pause, maxRetryPause)
			continue
		}
		w.done(batch)
		failures.succeeded(w.log)
		pause = minRetryPause
	}
}

// next takes up to maxTxnOps pending users whose key differs from what
// this member wants.
func (w *userWriter) next() []userWrite {
	w.mu.Lock()
	defer w.mu.Unlock()
	var batch []userWrite
	for user := range w.pending {
		if len(batch) == maxTxnOps {
			break
		}
		delete(w.pending, user)
		_, want := w.wanted[user]
		state := w.written[user]
		if (want && state == keyPresent) || (!want && state == 0) {
			continue
		}
		batch = append(batch, userWrite{user: user, present: want})
	}
	if len(w.pending) == 0 {
		// A map keeps the buckets of a burst; scanning them for the last
		// few users would cost more than a new map.
		w.pending = make(map[string]struct{})
	}
	return batch
}

// commit writes batch in one transaction under the current lease.
func (w *userWriter) commit(ctx context.Context, batch []userWrite) error {
	lease := w.provider.currentLease()
	ops := make([]clientv3.Op, len(batch))
	for i, write := range batch {
		key := userKey(w.usersDir, write.user, w.self)
		if write.present {
			ops[i] = clientv3.OpPut(key, "", clientv3.WithLease(lease))
		} else {
			ops[i] = clientv3.OpDelete(key)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, w.provider.cfg.DialTimeout)
	defer cancel()
	if _, err := w.provider.client.Txn(ctx).Then(ops...).Commit(); err != nil {
		return fmt.Errorf("writing %d users under lease %x: %w", len(batch), lease, err)
	}
	return nil
}

// done records a committed batch.
func (w *userWriter) done(batch []userWrite) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, write := range batch {
		if write.present {
			w.written[write.user] = keyPresent
		} else {
			delete(w.written, write.user)
		}
	}
}

// failed puts a batch back: etcd may or may not have applied it.
func (w *userWriter) failed(batch []userWrite) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, write := range batch {
		w.written[write.user] = keyUnknown
		w.pending[write.user] = struct{}{}
	}
}

// rewriteAll writes every user again after the lease changed: keys under
// the old lease are gone, or go when it expires.
func (w *userWriter) rewriteAll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for user := range w.written {
		w.written[user] = keyUnknown
		w.pending[user] = struct{}{}
	}
	for user := range w.wanted {
		w.written[user] = keyUnknown
		w.pending[user] = struct{}{}
	}
	w.log.Info("etcd lease renewed: writing every local user again", "users", len(w.wanted))
}

// failureLog logs a run of failed writes: its first failure, then a line
// per failureLogEvery while it lasts, and its end.
type failureLog struct {
	count     int
	lastLogAt time.Time
}

func (f *failureLog) failed(log *slog.Logger, users int, err error) {
	f.count++
	if f.count > 1 && time.Since(f.lastLogAt) < failureLogEvery {
		return
	}
	f.lastLogAt = time.Now()
	log.Warn("user directory not written to etcd; retrying", "users", users, "failures", f.count, "error", err)
}

func (f *failureLog) succeeded(log *slog.Logger) {
	if f.count > 0 {
		log.Info("user directory written to etcd again", "after_failures", f.count)
	}
	*f = failureLog{}
}
