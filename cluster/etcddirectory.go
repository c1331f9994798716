package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// relistUsersEvery is how often a member reads the whole users folder
// again even when its watch reported nothing. Longer than the member
// list's: the folder holds every connected user.
const relistUsersEvery = 30 * time.Second

// etcdDirectory is the directory of a cluster with etcd membership. Each
// member puts a key per local user, <Prefix>/<cluster>/users/<user>/<member
// id>, under its membership lease, and every member follows the whole
// users folder in memory (see folder). Locate is a map read; a member that
// dies takes its users with its lease; a member that stops gracefully
// revokes the lease, which removes them at once.
//
// Register and Unregister only record what this member wants in etcd (see
// userWriter); a goroutine writes it.
type etcdDirectory struct {
	self   string
	cache  *userCache
	users  *folder
	writer *userWriter

	stop    context.CancelFunc
	stopped sync.WaitGroup
}

// newEtcdDirectory reads the users folder once, so that Locate answers
// from the start, and then follows it and writes this member's users,
// both with the membership's client and lease.
func newEtcdDirectory(p *etcdProvider, self string, log *slog.Logger) (*etcdDirectory, error) {
	usersDir := p.clusterDir + "users/"
	cache := newUserCache(usersDir)
	d := &etcdDirectory{
		self:  self,
		cache: cache,
		users: &folder{
			client: p.client, prefix: usersDir, what: "the user directory",
			timeout: p.cfg.DialTimeout, relist: relistUsersEvery, log: log,
			reset: cache.reset, apply: cache.apply,
		},
		writer: newUserWriter(p, usersDir, self, log),
	}
	ctx, stop := context.WithCancel(context.Background())
	rev, err := d.users.load(ctx)
	if err != nil {
		stop()
		return nil, fmt.Errorf("starting the user directory: %w", err)
	}
	d.stop = stop
	d.stopped.Add(2)
	go func() {
		defer d.stopped.Done()
		d.users.follow(ctx, rev)
	}()
	go func() {
		defer d.stopped.Done()
		d.writer.run(ctx)
	}()
	return d, nil
}

func (d *etcdDirectory) Register(user string) { d.writer.want(user, true) }

func (d *etcdDirectory) Unregister(user string) { d.writer.want(user, false) }

func (d *etcdDirectory) Locate(user string, buf []string) []string {
	return d.cache.locate(user, d.self, buf)
}

// Users answers from the cache, with this member's own users added: those
// registered a moment ago are not in etcd yet.
func (d *etcdDirectory) Users() ([]string, bool) {
	users := append(d.cache.users(), d.writer.local()...)
	slices.Sort(users)
	return slices.Compact(users), true
}

// Close stops writing and following; what is not written by then stays
// unwritten, and the keys go away with the lease when the member leaves.
func (d *etcdDirectory) Close() {
	d.writer.close()
	d.stop()
	d.stopped.Wait()
}
