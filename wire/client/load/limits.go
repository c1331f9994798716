package load

import (
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
)

// RaiseOpenFileLimit raises this process's open-file limit to its hard
// limit and returns the limit in force, which processes it starts
// inherit.
func RaiseOpenFileLimit() (uint64, error) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, fmt.Errorf("open-file limit: %w", err)
	}
	if l.Cur < l.Max {
		l.Cur = l.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
			return 0, fmt.Errorf("raise the open-file limit to %d: %w", l.Max, err)
		}
	} else {
		// Setting it, even unchanged, makes processes started from here
		// inherit it rather than the limit this process started with.
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
	return l.Cur, nil
}

// ReservedFiles is how many open files a load generator keeps for
// itself besides its connections.
const ReservedFiles = 64

// EphemeralPorts is the system's range of source ports for outgoing
// connections.
func EphemeralPorts() (lo, hi int, err error) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0, 0, err
	}
	if _, err := fmt.Sscan(string(b), &lo, &hi); err != nil {
		return 0, 0, fmt.Errorf("ip_local_port_range %q: %w", strings.TrimSpace(string(b)), err)
	}
	return lo, hi, nil
}

// portsPerSource is the share of the ephemeral range counted on for one
// source address: other programs use some of it too.
const portsPerSource = 0.8

// PlanSources chooses the source addresses for conns connections to
// target (host:port). With force > 0 it uses that many; otherwise as many
// as the ephemeral port range needs. A nil address lets the system choose
// (127.0.0.1 for a loopback target); the others are 127.0.0.2,
// 127.0.0.3, ..., all on the loopback interface. It returns nil when one
// is enough, and a note for people when it used more or could not.
func PlanSources(target string, conns, force int) ([]net.IP, string, error) {
	lo, hi, err := EphemeralPorts()
	ports := hi - lo + 1
	need := force
	if force <= 0 {
		if err != nil {
			return nil, "", nil // no range to plan with: one source
		}
		need = int(float64(conns)/(float64(ports)*portsPerSource)) + 1
	}
	if need <= 1 {
		return nil, "", nil
	}
	host, _, err := net.SplitHostPort(target)
	if err != nil {
		return nil, "", fmt.Errorf("target %q: %w", target, err)
	}
	ip := net.ParseIP(host)
	if host == "localhost" {
		ip = net.IPv4(127, 0, 0, 1)
	}
	if ip == nil || ip.To4() == nil || !ip.IsLoopback() {
		if force > 0 {
			return nil, "", fmt.Errorf("-sources needs an IPv4 loopback target, not %s", target)
		}
		return nil, fmt.Sprintf("%d connections may exhaust the %d ephemeral ports of one source address; "+
			"several source addresses need an IPv4 loopback target", conns, ports), nil
	}
	if need > 254 {
		return nil, "", fmt.Errorf("%d source addresses: at most 254", need)
	}
	srcs := []net.IP{nil}
	for i := 2; i <= need; i++ {
		srcs = append(srcs, net.IPv4(127, 0, 0, byte(i)))
	}
	return srcs, fmt.Sprintf("dialing from %d loopback source addresses (127.0.0.1 to 127.0.0.%d) for %d connections; "+
		"ephemeral ports %d-%d", need, need, conns, lo, hi), nil
}

// RSS is the resident memory of process pid, in bytes, from
// /proc/PID/status (VmRSS).
func RSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int64
			if _, err := fmt.Sscan(v, &kb); err != nil {
				return 0, fmt.Errorf("VmRSS %q: %w", strings.TrimSpace(v), err)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}
