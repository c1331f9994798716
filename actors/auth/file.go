package auth

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// bcryptPrefixes are the bcrypt hash versions an htpasswd file may hold:
// `$2y$` is what Apache's `htpasswd -B` writes, `$2a$` what Go writes.
// x/crypto/bcrypt compares them all alike: it keeps the version letter of
// a hash but does not let it change the computation.
var bcryptPrefixes = []string{"$2a$", "$2b$", "$2x$", "$2y$"}

// readUsers reads an htpasswd file and checks every line, returning each
// user's hash and how many entries use each bcrypt cost. Blank lines are
// skipped. Messages never quote a hash.
func readUsers(path string) (hashes map[string][]byte, costs map[int]int, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read htpasswd: %w", err)
	}
	hashes = map[string][]byte{}
	costs = map[int]int{}
	seen := map[string]int{}
	for i, raw := range strings.Split(string(data), "\n") {
		n := i + 1
		line := strings.TrimSpace(raw)
		if line == "" {
			continue
		}
		user, hash, ok := strings.Cut(line, ":")
		if !ok {
			return nil, nil, fmt.Errorf("htpasswd %s line %d: no ':' between user and hash", path, n)
		}
		if user == "" {
			return nil, nil, fmt.Errorf("htpasswd %s line %d: empty user name", path, n)
		}
		if prev := seen[user]; prev != 0 {
			return nil, nil, fmt.Errorf("htpasswd %s line %d: user %q already defined on line %d", path, n, user, prev)
		}
		seen[user] = n
		cost, err := bcryptCost(hash)
		if err != nil {
			return nil, nil, fmt.Errorf("htpasswd %s line %d: user %q: %w (create entries with `htpasswd -B`)", path, n, user, err)
		}
		hashes[user] = []byte(hash)
		costs[cost]++
	}
	return hashes, costs, nil
}

// bcryptHashLen is the length of a bcrypt hash, $2y$10$ and 53 characters
// of salt and digest; bcryptAlphabet holds the characters of those 53.
const (
	bcryptHashLen  = 60
	bcryptAlphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
)

// bcryptCost checks that hash is a well-formed bcrypt hash with one of the
// prefixes above, and returns its cost.
func bcryptCost(hash string) (int, error) {
	for _, p := range bcryptPrefixes {
		if strings.HasPrefix(hash, p) {
			// bcrypt.Cost reads only the prefix and the cost: a hash with
			// junk after it, or outside bcrypt's alphabet, must not load.
			if len(hash) != bcryptHashLen || strings.Trim(hash[7:], bcryptAlphabet) != "" {
				return 0, errors.New("malformed bcrypt hash: not 60 characters of bcrypt's alphabet")
			}
			cost, err := bcrypt.Cost([]byte(hash))
			if err != nil {
				return 0, fmt.Errorf("malformed bcrypt hash: %w", err)
			}
			return cost, nil
		}
	}
	return 0, fmt.Errorf("not a bcrypt hash; only bcrypt entries are accepted")
}
