package auth

import (
	"errors"
	"fmt"
	"strings"
)

// Authenticator checks credentials. Implementations are safe for concurrent
// use and may block (a bcrypt comparison takes tens of milliseconds), so
// callers should not call them on a goroutine that must stay responsive.
type Authenticator interface {
	// Authenticate returns nil when the credentials are good, and an error
	// wrapping ErrUnauthorized when they are not.
	Authenticate(username, password string) error
}

// ErrUnauthorized is wrapped by every credential failure, so callers can
// tell bad credentials (answer `unauthorized`) from other errors.
var ErrUnauthorized = errors.New("unauthorized")

// errEmptyUsername is the failure for a username that is empty or only
// white space.
var errEmptyUsername = fmt.Errorf("empty username: %w", ErrUnauthorized)

// Open returns an Authenticator that accepts any non-empty username and
// ignores the password. It exists for local development only.
func Open() Authenticator { return openAuth{} }

// openAuth is the Authenticator returned by Open.
type openAuth struct{}

// Authenticate accepts any username that is not blank.
func (openAuth) Authenticate(username, _ string) error {
	if strings.TrimSpace(username) == "" {
		return errEmptyUsername
	}
	return nil
}
