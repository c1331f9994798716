package version

import (
	"runtime/debug"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	const rev = "0123456789abcdef0123456789abcdef01234567"
	vcs := func(modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev},
			{Key: "vcs.modified", Value: modified}}
	}
	cases := []struct {
		main     string
		settings []debug.BuildSetting
		want     string
	}{
		{"v1.2.0", vcs("false"), "v1.2.0 (commit 0123456789ab)"},
		{"v0.0.0-20261207154943-0123456789ab+dirty", vcs("true"),
			"v0.0.0-20261207154943-0123456789ab+dirty (commit 0123456789ab, modified)"},
		{"(devel)", nil, "devel (commit unknown)"},
		{"", nil, "devel (commit unknown)"}, // a test binary
	}
	for _, tc := range cases {
		bi := &debug.BuildInfo{Main: debug.Module{Path: "github.com/bester-project/bester", Version: tc.main}, Settings: tc.settings}
		if got := fromBuildInfo(bi).String(); got != tc.want {
			t.Errorf("version %q: got %q, want %q", tc.main, got, tc.want)
		}
	}
}
