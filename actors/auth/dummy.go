package auth

import (
	"crypto/rand"
	"fmt"

	"golang.org/x/crypto/bcrypt"
)

// dummyHash is a bcrypt hash, at bcrypt.DefaultCost, of a random string
// nobody knows. Unknown users are compared against it, so that they cost as
// long as a wrong password.
const dummyHash = "$2a$10$46MdIZHU/SOjx.0.9Km5l.XN5w0s/KOgBTUbAh2N66RDaAz.9jNJ6"

// dummyFor returns a hash to compare unknown users against, at the cost most
// entries of the file use (the higher one on a tie), so that the time of a
// failure does not tell whether the user exists. `htpasswd -B` writes cost 5
// by default, SetPassword bcrypt.DefaultCost; only a cost other than the
// default needs a new hash, made once per reading of the file.
func dummyFor(costs map[int]int) ([]byte, error) {
	cost, most := bcrypt.DefaultCost, 0
	for c, n := range costs {
		if n > most || (n == most && c > cost) {
			cost, most = c, n
		}
	}
	if cost == bcrypt.DefaultCost {
		return []byte(dummyHash), nil
	}
	h, err := bcrypt.GenerateFromPassword([]byte(rand.Text()), cost)
	if err != nil {
		return nil, fmt.Errorf("make a hash for unknown users at cost %d: %w", cost, err)
	}
	return h, nil
}
