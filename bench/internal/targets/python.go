package targets

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
)

// Python is the interpreter the bester-python target runs its relay
// handler with: Debian's, whose python3-cbor2 package gives the handler
// the server's default codec.
const Python = "/usr/bin/python3"

// The Python relay handler, on the Python SDK, in the Bester module.
const (
	pythonRelay = "examples/python/relay.py"
	pythonSDK   = "sdk/python"
)

// PythonMissing says why the bester-python target cannot run, or is nil
// when Python can run its handler in CBOR.
func PythonMissing() error {
	out, err := exec.Command(Python, "-c", "import cbor2").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s cannot import cbor2, which the handler needs for CBOR (Debian: apt-get install python3 python3-cbor2): %v %s", Python, err, out)
	}
	return nil
}

// startBesterPython starts besterd with the Python relay as its relay
// handler, in stream mode and CBOR, the server's defaults.
func startBesterPython(ctx context.Context, b *Binaries, o Options) (*Running, error) {
	so := besterOptions(b, o)
	so.Handler, so.HandlerArgs = Python, []string{filepath.Join(b.mainDir, pythonRelay)}
	so.HandlerEnv = map[string]string{"PYTHONPATH": filepath.Join(b.mainDir, pythonSDK)}
	return runBester(ctx, "bester-python", so, b, o, false)
}
