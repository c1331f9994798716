package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// folder keeps a copy of one etcd folder (every key under a prefix) up to
// date for its owner: it reads the folder whole at a revision, then
// watches it from the next revision on, and reads it whole again after a
// watch error (a compaction, etcd lost) and every relist, so that a lost
// event cannot leave the copy wrong for long. Every etcd call has a
// deadline. The member list and the user directory both follow their
// folders this way.
type folder struct {
	client  *clientv3.Client
	prefix  string
	what    string        // what the folder holds, for log lines
	timeout time.Duration // deadline of each read
	relist  time.Duration
	log     *slog.Logger
	// reset replaces the copy with the folder as read whole.
	reset func(*clientv3.GetResponse)
	// apply changes the copy by events that came after the last reset.
	apply func([]*clientv3.Event)
}

// load reads the folder whole, hands it to reset, and returns the revision
// it was read at.
func (f *folder) load(ctx context.Context) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	resp, err := f.client.Get(ctx, f.prefix, clientv3.WithPrefix())
	if err != nil {
		return 0, fmt.Errorf("reading %s from etcd: %w", f.what, err)
	}
	f.reset(resp)
	return resp.Header.Revision, nil
}

// follow watches the folder from the revision after rev, which load
// returned, until ctx ends.
func (f *folder) follow(ctx context.Context, rev int64) {
	relist := time.NewTicker(f.relist)
	defer relist.Stop()
	for ctx.Err() == nil {
		watchCtx, cancelWatch := context.WithCancel(clientv3.WithRequireLeader(ctx))
		changes := f.client.Watch(watchCtx, f.prefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1))
		rev = f.watch(ctx, changes, relist.C, rev)
		cancelWatch()
	}
}

// watch applies the events of changes and reloads on each tick; it returns
// the newest revision the copy holds when the watch fails or ctx ends.
func (f *folder) watch(ctx context.Context, changes clientv3.WatchChan, tick <-chan time.Time, rev int64) int64 {
	for {
		select {
		case <-ctx.Done():
			return rev
		case resp, ok := <-changes:
			if !ok || resp.Err() != nil {
				if ctx.Err() == nil {
					f.log.Warn("etcd watch ended; reading the folder again", "folder", f.what, "error", resp.Err())
				}
				return f.reload(ctx, rev)
			}
			rev = f.applyAfter(resp.Events, rev)
		case <-tick:
			rev = f.reload(ctx, rev)
		}
	}
}

// applyAfter applies the events newer than rev (a reload may have read
// past the watch) and returns the newest revision applied.
func (f *folder) applyAfter(events []*clientv3.Event, rev int64) int64 {
	newer := events[:0:0]
	for _, ev := range events {
		if ev.Kv.ModRevision > rev {
			newer = append(newer, ev)
		}
	}
	if len(newer) == 0 {
		return rev
	}
	f.apply(newer)
	return newer[len(newer)-1].Kv.ModRevision
}

// reload is load for a running follower: a failure is logged (unless ctx
// ended) and keeps the revision the copy holds.
func (f *folder) reload(ctx context.Context, rev int64) int64 {
	newRev, err := f.load(ctx)
	if err != nil {
		if ctx.Err() == nil {
			f.log.Warn("etcd folder not read again", "folder", f.what, "error", err)
		}
		return rev
	}
	return newRev
}
