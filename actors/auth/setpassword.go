package auth

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"unicode"

	"golang.org/x/crypto/bcrypt"
)

// newFileMode is the permission of an htpasswd file SetPassword creates:
// readable by its owner only, since hashes can be attacked offline.
const newFileMode fs.FileMode = 0o600

// SetPassword adds username to the htpasswd file at path, or changes the
// password of an existing entry, with a bcrypt hash at bcrypt.DefaultCost.
// A missing file is created with mode 0600; an existing one keeps its mode
// and all its other lines. The new content replaces the old in one rename,
// so a server reading the file never sees half of it. Concurrent calls on one
// file may lose each other's change.
func SetPassword(path, username, password string) error {
	if err := checkUsername(username); err != nil {
		return err
	}
	switch {
	case password == "":
		return errors.New("set password: the password is empty")
	case len(password) > maxPasswordBytes:
		return fmt.Errorf("set password: the password is longer than %d bytes, which bcrypt cannot use", maxPasswordBytes)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return fmt.Errorf("set password: hash: %w", err)
	}

	// Write through a symbolic link rather than replace it.
	if target, err := filepath.EvalSymlinks(path); err == nil {
		path = target
	}
	old, mode, err := readExisting(path)
	if err != nil {
		return err
	}
	content := withEntry(old, username, string(hash))
	if err := writeAtomic(path, content, mode); err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	return nil
}

// checkUsername refuses names an htpasswd line cannot hold unambiguously.
func checkUsername(username string) error {
	switch {
	case username == "":
		return errors.New("set password: the username is empty")
	case strings.ContainsRune(username, ':'):
		return fmt.Errorf("set password: username %q contains ':'", username)
	case strings.IndexFunc(username, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return fmt.Errorf("set password: username %q contains white space or control characters", username)
	}
	return nil
}

// readExisting returns the current content and permission of an htpasswd
// file, or nothing and newFileMode when it does not exist yet.
func readExisting(path string) ([]byte, fs.FileMode, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, newFileMode, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("set password: read: %w", err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, 0, fmt.Errorf("set password: %w", err)
	}
	return data, st.Mode().Perm(), nil
}

// withEntry returns old with the line of username replaced by
// username:hash, or the line appended. Any further lines for the same user
// are dropped, so the result has exactly one; so are blank lines.
func withEntry(old []byte, username, hash string) []byte {
	entry := username + ":" + hash
	var out []string
	done := false
	for _, line := range strings.Split(string(old), "\n") {
		if user, _, ok := strings.Cut(strings.TrimSpace(line), ":"); ok && user == username {
			if !done {
				out = append(out, entry)
				done = true
			}
			continue
		}
		if strings.TrimSpace(line) != "" {
			out = append(out, line)
		}
	}
	if !done {
		out = append(out, entry)
	}
	return []byte(strings.Join(out, "\n") + "\n")
}

// writeAtomic replaces path with content: it writes a temporary file in the
// same directory, flushes it to disk, and renames it over path.
func writeAtomic(path string, content []byte, mode fs.FileMode) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("create temporary file: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := keepOwner(tmp, path); err != nil {
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		return fmt.Errorf("chmod %s: %w", tmp.Name(), err)
	}
	if _, err := tmp.Write(content); err != nil {
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("rename into place: %w", err)
	}
	return syncDir(dir)
}

// keepOwner gives tmp the owner and group of the file it replaces: a
// server running as a service user that may read the file through its
// group must still read it after root changed a password.
func keepOwner(tmp *os.File, path string) error {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("stat %s: %w", path, err)
	}
	owner, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if err := tmp.Chown(int(owner.Uid), int(owner.Gid)); err != nil {
		return fmt.Errorf("keep the owner %d:%d of %s (run as its owner or root): %w", owner.Uid, owner.Gid, path, err)
	}
	return nil
}

// syncDir flushes a directory, so that a rename in it survives a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
