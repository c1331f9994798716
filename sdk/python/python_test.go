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

// The package installs offline as the README says, both ways: pip builds
// it with the interpreter's own setuptools and wheel, without fetching
// anything, into a directory for PYTHONPATH or into a venv that sees the
// system's packages.
func TestPipInstall(t *testing.T) {
	python := testpython.Interpreter(t)
	if exec.Command(python, "-m", "pip", "--version").Run() != nil {
		t.Skipf("%s has no pip", python)
	}
	if out, err := exec.Command(python, "-c", "import setuptools, wheel").CombinedOutput(); err != nil {
		t.Skipf("%s cannot build the package offline without setuptools and wheel (Debian: python3-setuptools, python3-wheel): %v\n%s",
			python, err, out)
	}
	// pip builds in the source tree: build a copy.
	src := filepath.Join(t.TempDir(), "src")
	for _, f := range []string{"pyproject.toml", "README.md", "bester"} {
		copyTree(t, filepath.Join(testpython.SDKDir(), f), filepath.Join(src, f))
	}
	pipInstall := []string{"-m", "pip", "install", "--no-build-isolation", "--no-index",
		"--no-cache-dir", "--disable-pip-version-check"}

	t.Run("target", func(t *testing.T) {
		target := filepath.Join(t.TempDir(), "site")
		mustRun(t, python, append(pipInstall, "--target", target, src)...)
		importFrom(t, python, target, "PYTHONPATH="+target)
	})

	t.Run("venv", func(t *testing.T) {
		if exec.Command(python, "-c", "import ensurepip").Run() != nil {
			t.Skipf("%s cannot make a venv with pip (Debian: python3-venv)", python)
		}
		venv := filepath.Join(t.TempDir(), "venv")
		mustRun(t, python, "-m", "venv", "--system-site-packages", venv)
		venvPython := filepath.Join(venv, "bin", "python")
		mustRun(t, venvPython, append(pipInstall, src)...)
		importFrom(t, venvPython, venv, "PYTHONPATH=")
	})
}

// mustRun runs python with args, failing the test with its output if it
// fails.
func mustRun(t *testing.T, python string, args ...string) {
	t.Helper()
	if out, err := exec.Command(python, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", python, strings.Join(args, " "), err, out)
	}
}

// importFrom checks that python, with env added to the environment,
// imports the bester package from under dir rather than the source tree.
func importFrom(t *testing.T, python, dir string, env ...string) {
	t.Helper()
	check := exec.Command(python, "-c", "import bester; print(bester.__file__)")
	check.Env = append(os.Environ(), env...)
	check.Dir = t.TempDir()
	out, err := check.CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), dir) {
		t.Fatalf("import bester from the copy installed under %s: %v\n%s", dir, err, out)
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
