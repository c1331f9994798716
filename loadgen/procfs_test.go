package loadgen

import (
	"net"
	"os"
	"testing"
	"time"
)

func TestListeningPID(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	pid, err := ListeningPID(ln.Addr().String())
	if err != nil || pid != os.Getpid() {
		t.Fatalf("ListeningPID(%s) = %d, %v; want %d", ln.Addr(), pid, err, os.Getpid())
	}
	free, err := FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	if pid, err := ListeningPID(free); err == nil {
		t.Fatalf("ListeningPID(%s) = %d for a port nobody listens on", free, pid)
	}
}

func TestRSSPeak(t *testing.T) {
	p := SampleRSS(os.Getpid(), time.Millisecond)
	time.Sleep(5 * time.Millisecond)
	peak, err := p.Stop()
	if err != nil || peak <= 0 {
		t.Fatalf("peak %d, %v", peak, err)
	}
	// The kernel keeps both figures in per-processor counters that it
	// sums only now and then, so the high-water mark can read a few pages
	// under an earlier VmRSS: half the peak still tells a wrong field or
	// unit (kB for bytes) from a right one.
	hwm, err := HWM(os.Getpid())
	if err != nil || hwm < peak/2 {
		t.Fatalf("VmHWM %d, %v; want about the sampled peak %d or more", hwm, err, peak)
	}
	if _, err := SampleRSS(-1, time.Millisecond).Stop(); err == nil {
		t.Fatal("no error for a process that does not exist")
	}
}
