package cluster

import (
	"maps"
	"slices"
	"strings"
	"sync"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// userKey is the etcd key that says member holds a connection of user:
// <users folder><user>/<member id>. A username may contain '/', a member id
// never does, so the id is what follows the last '/'.
func userKey(usersDir, user, member string) string {
	return usersDir + user + "/" + member
}

// parseUserKey splits a key of the users folder into user and member id.
func parseUserKey(usersDir, key string) (user, member string, ok bool) {
	rest, ok := strings.CutPrefix(key, usersDir)
	if !ok {
		return "", "", false
	}
	i := strings.LastIndexByte(rest, '/')
	if i < 0 || i == len(rest)-1 {
		return "", "", false
	}
	return rest[:i], rest[i+1:], true
}

// userCache is a member's copy of the users folder: which members hold
// each user. Reads take a read lock only, as deliveries look users up
// concurrently; the folder's follower is the only writer.
type userCache struct {
	usersDir string
	mu       sync.RWMutex
	members  map[string][]string // user -> ids of the members holding it
}

func newUserCache(usersDir string) *userCache {
	return &userCache{usersDir: usersDir, members: make(map[string][]string)}
}

// locate appends the members holding user, except self, to buf.
func (c *userCache) locate(user, self string, buf []string) []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, member := range c.members[user] {
		if member != self {
			buf = append(buf, member)
		}
	}
	return buf
}

// users lists every user some member holds, unsorted.
func (c *userCache) users() []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return slices.AppendSeq(make([]string, 0, len(c.members)), maps.Keys(c.members))
}

// reset replaces the copy with the folder as read whole.
func (c *userCache) reset(resp *clientv3.GetResponse) {
	members := make(map[string][]string, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		if user, member, ok := parseUserKey(c.usersDir, string(kv.Key)); ok {
			members[user] = append(members[user], member)
		}
	}
	c.mu.Lock()
	c.members = members
	c.mu.Unlock()
}

// apply changes the copy by the folder's events.
func (c *userCache) apply(events []*clientv3.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ev := range events {
		user, member, ok := parseUserKey(c.usersDir, string(ev.Kv.Key))
		if !ok {
			continue
		}
		holders := c.members[user]
		i := slices.Index(holders, member)
		switch {
		case ev.Type == clientv3.EventTypeDelete && i >= 0:
			holders = slices.Delete(holders, i, i+1)
		case ev.Type == clientv3.EventTypePut && i < 0:
			holders = append(holders, member)
		}
		if len(holders) == 0 {
			delete(c.members, user)
		} else {
			c.members[user] = holders
		}
	}
}
