package loadgen

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
// as the ephemeral port range needs, and as keep each address within
// perAddress connections (a server's limit per source address; 0 for
// none). A nil address lets the system choose (127.0.0.1 for a loopback
// target); the others are 127.0.0.2, 127.0.0.3, ..., all on the loopback
// interface. It returns nil when one is enough, and a note for people when
// it used more or could not.
func PlanSources(target string, conns, force, perAddress int) ([]net.IP, string, error) {
	lo, hi, err := EphemeralPorts()
	ports := hi - lo + 1
	need := force
	if force <= 0 {
		if err == nil {
			need = int(float64(conns)/(float64(ports)*portsPerSource)) + 1
		}
		if perAddress > 0 {
			need = max(need, (conns+perAddress-1)/perAddress)
		}
	}
	if need <= 1 {
		return nil, "", nil
	}
	loopback, err := loopbackIPv4(target)
	if err != nil {
		return nil, "", err
	}
	if !loopback {
		if force > 0 {
			return nil, "", fmt.Errorf("-sources needs an IPv4 loopback target, not %s", target)
		}
		return nil, fmt.Sprintf("%d connections may exhaust the ephemeral ports of one source address, or the "+
			"server's connections per address; several source addresses need an IPv4 loopback target", conns), nil
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

// AttackSources are the source addresses attack connections are spread
// over: 127.0.0.2 to 127.0.0.(n+1), so that a server's limits per source
// address (or its penalties for failed logins) fall on them and not on
// 127.0.0.1, where the canary connects from. It returns nil, and a note,
// when target is not an IPv4 loopback address.
func AttackSources(target string, n int) ([]net.IP, string, error) {
	if n < 1 || n > 253 {
		return nil, "", fmt.Errorf("%d attack source addresses: want 1 to 253", n)
	}
	loopback, err := loopbackIPv4(target)
	if err != nil {
		return nil, "", err
	}
	if !loopback {
		return nil, fmt.Sprintf("the attack dials from one source address: %s is not an IPv4 loopback address", target), nil
	}
	srcs := make([]net.IP, n)
	for i := range srcs {
		srcs[i] = net.IPv4(127, 0, 0, byte(i+2))
	}
	return srcs, "", nil
}

// loopbackIPv4 tells whether target (host:port) is on an IPv4 loopback
// address, where any 127.x.y.z can be dialled from.
func loopbackIPv4(target string) (bool, error) {
	host, _, err := net.SplitHostPort(target)
	if err != nil {
		return false, fmt.Errorf("target %q: %w", target, err)
	}
	ip := net.ParseIP(host)
	if host == "localhost" {
		ip = net.IPv4(127, 0, 0, 1)
	}
	return ip != nil && ip.To4() != nil && ip.IsLoopback(), nil
}
