// Package auth checks client credentials: against an htpasswd file of bcrypt
// hashes, or, for local development only, not at all. It also writes
// htpasswd entries, so that operators need no Apache tools, and reads the
// groups file that puts users in groups for permissions.
package auth
