// Package testpython finds the Python interpreter that tests run the
// Python SDK and its handlers with, and says where the SDK is, so that
// every test picks the same interpreter and fails or skips alike.
package testpython

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// EnvPython names the variable that chooses the interpreter (.ci/run sets
// the system's /usr/bin/python3); without it, python3 on PATH.
const EnvPython = "BESTER_TEST_PYTHON"

// EnvCBORRequired names the variable that, set to any non-empty value
// (.ci/run sets it), turns a missing cbor2 package into a test failure
// instead of a skip.
const EnvCBORRequired = "BESTER_TEST_CBOR_REQUIRED"

// Interpreter returns the path of the Python to test with, skipping the
// test when there is none.
func Interpreter(t testing.TB) string {
	t.Helper()
	name := os.Getenv(EnvPython)
	if name == "" {
		name = "python3"
	}
	path, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("no Python interpreter %q: %v (set %s to choose one)", name, err, EnvPython)
	}
	return path
}

// RequireCBOR skips the test, or fails it where EnvCBORRequired is set,
// when python cannot import cbor2.
func RequireCBOR(t testing.TB, python string) {
	t.Helper()
	if exec.Command(python, "-c", "import cbor2").Run() == nil {
		return
	}
	why := python + " has no cbor2 package (Debian: python3-cbor2), which the SDK needs for CBOR"
	if os.Getenv(EnvCBORRequired) != "" {
		t.Fatal(why + "; it is required here (" + EnvCBORRequired + " is set)")
	}
	t.Skip(why)
}

// SDKDir is the absolute path of sdk/python, the directory to put on
// PYTHONPATH.
func SDKDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "sdk", "python")
}
