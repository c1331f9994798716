package statusview

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestComputeCluster: a member's view names it, rates its batches, sent
// and failed by code, and lists its members with what each acknowledged
// in the interval; a member that left is simply not there.
func TestComputeCluster(t *testing.T) {
	s := newServer(t)
	sent := prometheus.NewCounter(prometheus.CounterOpts{Name: metricBatchesSent})
	failed := prometheus.NewCounterVec(prometheus.CounterOpts{Name: metricBatchesFailed}, []string{"code"})
	trips := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: metricMemberRoundTrip,
		Buckets: []float64{0.001, 0.01, 0.1, 1}}, []string{"member"})
	s.reg.MustRegister(sent, failed, trips)
	const self, other, gone = "aaaaaaaa-self", "bbbbbbbb-other", "cccccccc-gone"
	status := func(members ...MemberStatus) Status {
		return Status{Name: "J", Cluster: &ClusterStatus{Member: self, Address: "127.0.0.1:7001", Members: members}}
	}
	me := MemberStatus{ID: self, Address: "127.0.0.1:7001", State: "self"}
	sent.Add(100)
	failed.WithLabelValues("overloaded").Add(5)
	failed.WithLabelValues("peer_unavailable").Add(1)
	observe(trips.WithLabelValues(other), 50, 0.5)
	t0 := time.Unix(1000, 0)
	before := s.sample(t0, status(me, MemberStatus{ID: other, Address: "127.0.0.1:7002", State: "up"},
		MemberStatus{ID: gone, Address: "127.0.0.1:7003", State: "up", Unacked: 3}))

	sent.Add(40)
	failed.WithLabelValues("peer_unavailable").Add(4)
	observe(trips.WithLabelValues(other), 20, 0.005)
	v := Compute(before, s.sample(t0.Add(2*time.Second), status(me, MemberStatus{ID: other, Address: "127.0.0.1:7002", State: "up", Unacked: 2})))

	c := v.Cluster
	if c == nil || c.Member != self || c.Address != "127.0.0.1:7001" {
		t.Fatalf("cluster %+v", c)
	}
	if c.BatchesSent != 20 || c.BatchesFailed["peer_unavailable"] != 2 || c.BatchesFailed["overloaded"] != 0 {
		t.Fatalf("batches sent %v, failed %v; want 20, peer_unavailable 2, overloaded 0", c.BatchesSent, c.BatchesFailed)
	}
	if len(c.Members) != 2 {
		t.Fatalf("members %+v, want self and other", c.Members)
	}
	if m := c.Members[0]; m.ID != self || m.State != "self" || m.Acked != 0 || m.P99 != nil {
		t.Errorf("self: %+v", m)
	}
	if m := c.Members[1]; m.ID != other || m.State != "up" || m.Unacked != 2 || m.Acked != 10 || !near(m.P99, 0.00991) {
		t.Errorf("other: %+v, want 2 unacked, 10 acked/s, p99 0.00991", m)
	}

	text := strings.Join(v.Lines(), "\n")
	for _, want := range []string{"J  member aaaaaaaa 127.0.0.1:7001  ", "batches/s  sent 20.0  failed peer_unavailable 2.0\n",
		"aaaaaaaa  127.0.0.1:7001  self ", "bbbbbbbb  127.0.0.1:7002  up     2        10.0"} {
		if !strings.Contains(text, want) {
			t.Errorf("no %q in:\n%s", want, text)
		}
	}
	if strings.Contains(text, "cccccccc") {
		t.Errorf("the member that left is shown:\n%s", text)
	}
}

// TestComputeWithoutCluster: a server that is no member has no cluster
// part, in the lines or in JSON.
func TestComputeWithoutCluster(t *testing.T) {
	s := newServer(t)
	t0 := time.Unix(1000, 0)
	v := Compute(s.sample(t0, Status{Name: "J"}), s.sample(t0.Add(time.Second), Status{Name: "J"}))
	if v.Cluster != nil {
		t.Fatalf("cluster %+v", v.Cluster)
	}
	text := strings.Join(v.Lines(), "\n")
	if strings.Contains(text, "member") || strings.Contains(text, "batches") {
		t.Fatalf("cluster lines for a server that is no member:\n%s", text)
	}
}
