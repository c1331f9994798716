package loadgen

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// RSS is the resident memory of process pid, in bytes, from
// /proc/PID/status (VmRSS).
func RSS(pid int) (int64, error) { return statusBytes(pid, "VmRSS") }

// HWM is the peak resident memory of process pid since it started, in
// bytes, from /proc/PID/status (VmHWM).
func HWM(pid int) (int64, error) { return statusBytes(pid, "VmHWM") }

// statusBytes reads one "Name: N kB" field of /proc/PID/status.
func statusBytes(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			var kb int64
			if _, err := fmt.Sscan(v, &kb); err != nil {
				return 0, fmt.Errorf("%s %q: %w", field, strings.TrimSpace(v), err)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// RSSPeak samples a process's resident memory until Stop and keeps the
// largest value seen: VmHWM covers the process's whole life, not one
// phase of a run.
type RSSPeak struct {
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex
	peak int64
	err  error
}

// SampleRSS starts sampling pid's VmRSS every interval.
func SampleRSS(pid int, interval time.Duration) *RSSPeak {
	p := &RSSPeak{stop: make(chan struct{}), done: make(chan struct{})}
	go p.run(pid, interval)
	return p
}

func (p *RSSPeak) run(pid int, interval time.Duration) {
	defer close(p.done)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		p.sample(pid)
		select {
		case <-p.stop:
			p.sample(pid)
			return
		case <-tick.C:
		}
	}
}

func (p *RSSPeak) sample(pid int) {
	rss, err := RSS(pid)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		p.err = err
		return
	}
	p.peak = max(p.peak, rss)
}

// Stop ends the sampling and returns the peak, or the last error when no
// sample could be read.
func (p *RSSPeak) Stop() (int64, error) {
	close(p.stop)
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.peak == 0 {
		return 0, fmt.Errorf("server memory: %w", p.err)
	}
	return p.peak, nil
}

// ListeningPID finds the process listening on the TCP address addr
// (host:port) on this machine: the socket's inode from /proc/net/tcp or
// tcp6, then the process holding it among /proc/*/fd. Only processes
// whose descriptors this user may read are found.
func ListeningPID(addr string) (int, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, fmt.Errorf("address %q: %w", addr, err)
	}
	pn, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return 0, fmt.Errorf("port %q: %w", port, err)
	}
	ip := net.ParseIP(host)
	if host == "localhost" {
		ip = net.IPv4(127, 0, 0, 1)
	}
	var inodes []string
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		found, err := listeningInodes(table, ip, uint16(pn))
		if err == nil {
			inodes = append(inodes, found...)
		}
	}
	if len(inodes) == 0 {
		return 0, fmt.Errorf("no socket listening on %s in /proc/net/tcp", addr)
	}
	return socketOwner(inodes)
}

// tcpListen is the state column of a listening socket in /proc/net/tcp.
const tcpListen = "0A"

// listeningInodes lists the inodes of sockets in table listening on
// port, at ip or at any address.
func listeningInodes(table string, ip net.IP, port uint16) ([]string, error) {
	f, err := os.Open(table)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var inodes []string
	sc := bufio.NewScanner(f)
	sc.Scan() // the column names
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 || fields[3] != tcpListen {
			continue
		}
		local, lport, ok := parseProcAddr(fields[1])
		if ok && lport == port && (ip == nil || local.IsUnspecified() || local.Equal(ip)) {
			inodes = append(inodes, fields[9])
		}
	}
	return inodes, sc.Err()
}

// parseProcAddr reads "0100007F:08AF": the address as the kernel stores
// it (32-bit words in host order, little-endian here) and the port.
func parseProcAddr(s string) (net.IP, uint16, bool) {
	h, p, ok := strings.Cut(s, ":")
	raw, err1 := hex.DecodeString(h)
	port, err2 := strconv.ParseUint(p, 16, 16)
	if !ok || err1 != nil || err2 != nil || len(raw)%4 != 0 {
		return nil, 0, false
	}
	for i := 0; i < len(raw); i += 4 {
		raw[i], raw[i+1], raw[i+2], raw[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
	}
	return net.IP(raw), uint16(port), true
}

// socketOwner finds the process with a descriptor on one of the socket
// inodes.
func socketOwner(inodes []string) (int, error) {
	want := map[string]bool{}
	for _, in := range inodes {
		want["socket:["+in+"]"] = true
	}
	fds, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	for _, fd := range fds {
		if link, err := os.Readlink(fd); err == nil && want[link] {
			pid, err := strconv.Atoi(strings.Split(fd, "/")[2])
			if err == nil {
				return pid, nil
			}
		}
	}
	return 0, fmt.Errorf("no process of this user holds the listening socket (inode %s)", strings.Join(inodes, ", "))
}
