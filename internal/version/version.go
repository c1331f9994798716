// Package version says which source a program was built from, as the Go
// toolchain recorded it: the module version and the VCS commit.
package version

import (
	"fmt"
	"runtime/debug"
)

// Info is what the build recorded about the program's source.
type Info struct {
	// Version is the main module's version: a tag, a pseudo-version
	// derived from the commit, or "devel" when the toolchain recorded
	// none (`go run`, `go build -buildvcs=false`, or a test binary).
	Version string
	// Revision is the commit the program was built from, or "" when
	// the build did not stamp VCS information.
	Revision string
	// Modified tells whether the working tree had changes the commit
	// does not hold.
	Modified bool
}

// Read returns what the running program's build recorded.
func Read() Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Info{Version: "devel"}
	}
	return fromBuildInfo(bi)
}

// fromBuildInfo picks the module version and the vcs.* settings out of bi.
func fromBuildInfo(bi *debug.BuildInfo) Info {
	info := Info{Version: bi.Main.Version}
	if info.Version == "" || info.Version == "(devel)" {
		info.Version = "devel"
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Revision = s.Value
		case "vcs.modified":
			info.Modified = s.Value == "true"
		}
	}
	return info
}

// String is the version for people: `v1.2.0 (commit 0123456789ab)`,
// `devel (commit 0123456789ab, modified)` or `devel (commit unknown)`.
func (i Info) String() string {
	commit := "unknown"
	if i.Revision != "" {
		commit = i.Revision[:min(len(i.Revision), 12)]
	}
	if i.Modified {
		commit += ", modified"
	}
	return fmt.Sprintf("%s (commit %s)", i.Version, commit)
}
