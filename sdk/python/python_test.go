// Package python_test runs the Python SDK's tests from go test: its unit
// tests, and its end-to-end tests against a besterd built here, with
// Python handlers started from handler blocks. See README.md.
package python_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bester-project/bester/internal/testpython"
)

// pythonTimeout bounds the whole Python suite; it takes seconds.
const pythonTimeout = 5 * time.Minute

func TestPythonSDK(t *testing.T) {
	python := testpython.Interpreter(t)
	// Without cbor2 the Python tests skip their CBOR cases, or fail
	// where testpython.EnvCBORRequired is set: they see the same
	// environment.
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin,
		"github.com/bester-project/bester/cmd/besterd", "github.com/bester-project/bester/cmd/bester")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build besterd and bester: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), pythonTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, "-m", "unittest", "discover", "-v", "-t", ".", "-s", "tests")
	cmd.Dir = testpython.SDKDir()
	cmd.Env = append(os.Environ(),
		"BESTER_TEST_BESTERD="+filepath.Join(bin, "besterd"),
		"BESTER_TEST_BESTER="+filepath.Join(bin, "bester"), // for its development certificates
		"PYTHONPATH="+testpython.SDKDir(),
		"PYTHONDONTWRITEBYTECODE=1", // no __pycache__ in the tree
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s -m unittest: %v\n%s", python, err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "skipped") || strings.HasPrefix(line, "Ran ") {
			t.Log(line)
		}
	}
}

// The package installs offline with the system's setuptools, as the
// README says: pip builds it without fetching anything.
func TestPipInstall(t *testing.T) {
	python := testpython.Interpreter(t)
	if exec.Command(python, "-m", "pip", "--version").Run() != nil {
		t.Skipf("%s has no pip", python)
	}
	// pip builds in the source tree: build a copy.
	src := filepath.Join(t.TempDir(), "src")
	for _, f := range []string{"pyproject.toml", "README.md", "bester"} {
		copyTree(t, filepath.Join(testpython.SDKDir(), f), filepath.Join(src, f))
	}
	target := filepath.Join(t.TempDir(), "site")
	pip := exec.Command(python, "-m", "pip", "install", "--no-build-isolation", "--no-index",
		"--no-cache-dir", "--disable-pip-version-check", "--target", target, src)
	if out, err := pip.CombinedOutput(); err != nil {
		t.Fatalf("pip install: %v\n%s", err, out)
	}
	check := exec.Command(python, "-c", "import bester, sys; print(bester.__file__)")
	check.Env = append(os.Environ(), "PYTHONPATH="+target)
	check.Dir = t.TempDir()
	out, err := check.CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), target) {
		t.Fatalf("import bester from the installed copy: %v\n%s", err, out)
	}
}

// copyTree copies a file, or a directory's regular files and
// subdirectories, skipping Python's caches.
func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "__pycache__" {
			return filepath.SkipDir
		}
		rel, err := filepath.Rel(from, p)
		if err != nil {
			return err
		}
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		t.Fatalf("copy %s: %v", from, err)
	}
}
