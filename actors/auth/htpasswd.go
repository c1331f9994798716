package auth

import (
	"bytes"
	"fmt"
	"maps"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/crypto/bcrypt"
)

// maxPasswordBytes is the longest password bcrypt uses, in bytes; it
// silently ignores the rest, so longer passwords are refused instead.
const maxPasswordBytes = 72

// errBadCredentials is the one failure for an unknown user and a wrong
// password alike, so the answer does not tell which it was.
var errBadCredentials = fmt.Errorf("bad username or password: %w", ErrUnauthorized)

// Htpasswd authenticates against an htpasswd file of bcrypt hashes, as
// written by SetPassword or `htpasswd -B`. It is safe for concurrent use.
type Htpasswd struct {
	path string
	// users is the current table; Reload swaps in a new one atomically.
	users atomic.Pointer[table]
	// reload serialises Reload calls, so two reads of the file cannot
	// finish in the wrong order.
	reload sync.Mutex
	// slots bounds concurrent bcrypt comparisons (see comparisonSlots).
	slots chan struct{}
}

// table is one reading of the file.
type table struct {
	// hashes is each user's bcrypt hash.
	hashes map[string][]byte
	// dummy is compared against for unknown users; see dummyFor.
	dummy []byte
}

// comparisonSlots is how many bcrypt comparisons run at once: half the
// processors the runtime uses, at least one. With every processor busy
// comparing, 200 concurrent bad logins cut the messages of logged-in users
// from 70,000 to 2,000 per second; half leaves the rest to them.
func comparisonSlots() int {
	return max(1, runtime.GOMAXPROCS(0)/2)
}

// LoadHtpasswd reads the htpasswd file at path. Every entry must be a bcrypt
// hash; any other line is an error naming its line number and user.
func LoadHtpasswd(path string) (*Htpasswd, error) {
	h := &Htpasswd{path: path, slots: make(chan struct{}, comparisonSlots())}
	if err := h.Reload(); err != nil {
		return nil, err
	}
	return h, nil
}

// Reload reads the file again and, only if all of it is valid, replaces the
// users. On error the previous users stay in effect.
func (h *Htpasswd) Reload() error {
	h.reload.Lock()
	defer h.reload.Unlock()
	hashes, costs, err := readUsers(h.path)
	if err != nil {
		return err
	}
	dummy, err := dummyFor(costs)
	if err != nil {
		return fmt.Errorf("htpasswd %s: %w", h.path, err)
	}
	h.users.Store(&table{hashes: hashes, dummy: dummy})
	return nil
}

// CheckHtpasswd reads the htpasswd file at path and reports what
// LoadHtpasswd would refuse in it, without the work of serving it.
func CheckHtpasswd(path string) error {
	_, _, err := readUsers(path)
	return err
}

// Authenticate checks a username and password against the file. It blocks
// while all comparison slots are busy. An unknown user costs one bcrypt
// comparison too, so usernames cannot be probed by timing.
func (h *Htpasswd) Authenticate(username, password string) error {
	if strings.TrimSpace(username) == "" {
		return errEmptyUsername
	}
	if len(password) > maxPasswordBytes {
		return fmt.Errorf("password longer than %d bytes: %w", maxPasswordBytes, ErrUnauthorized)
	}
	h.slots <- struct{}{}
	defer func() { <-h.slots }()
	t := h.users.Load()
	hash, ok := t.hashes[username]
	if !ok {
		_ = bcrypt.CompareHashAndPassword(t.dummy, []byte(password))
		return errBadCredentials
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil {
		return errBadCredentials
	}
	return nil
}

// SameUsers reports whether h and o hold the same users with the same
// hashes.
func (h *Htpasswd) SameUsers(o *Htpasswd) bool {
	return maps.EqualFunc(h.users.Load().hashes, o.users.Load().hashes, bytes.Equal)
}
