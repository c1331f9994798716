package statusview

// The cluster metrics the view reads.
const (
	metricBatchesSent     = "bester_cluster_batches_sent_total"
	metricBatchesFailed   = "bester_cluster_batches_failed_total"
	metricMemberRoundTrip = "bester_cluster_member_round_trip_seconds"
)

// shortID is how many characters of a member id the lines show: enough
// to tell the members of one cluster apart.
const shortID = 8

// ClusterStatus is the cluster part of /status: the member the endpoint
// belongs to and the member list as it sees it.
type ClusterStatus struct {
	Member  string         `json:"member"`
	Address string         `json:"address"`
	Members []MemberStatus `json:"members"`
}

// MemberStatus is a member of the list in /status; Unacked is absent for
// the member itself, which has no link to itself.
type MemberStatus struct {
	ID      string `json:"id"`
	Address string `json:"address"`
	State   string `json:"state"`
	Unacked int64  `json:"unacked"`
}

// ClusterView is the member the endpoint belongs to, the batches it sent
// to the others in the interval, and its member list.
type ClusterView struct {
	Member  string `json:"member"`
	Address string `json:"address"`
	// BatchesSent are the deliveries sent to other members, one batch per
	// member and handler response; BatchesFailed those that got no
	// acknowledgement, by code.
	BatchesSent   float64            `json:"batches_sent_per_second"`
	BatchesFailed map[string]float64 `json:"batches_failed_per_second"`
	Members       []MemberView       `json:"members"`
}

// MemberView is a member of the list: its state, its batches waiting
// for an acknowledgement, and those acknowledged in the interval, with
// their round trips' p99 (null when none was).
type MemberView struct {
	ID      string   `json:"id"`
	Address string   `json:"address"`
	State   string   `json:"state"`
	Unacked int64    `json:"unacked"`
	Acked   float64  `json:"acked_per_second"`
	P99     *float64 `json:"p99_round_trip_seconds"`
}

// clusterOf is the cluster part of the view of the interval from before
// to now, nil when the server is not a member of a cluster.
func clusterOf(before, now *Sample, secs float64) *ClusterView {
	c := now.Status.Cluster
	if c == nil {
		return nil
	}
	v := &ClusterView{Member: c.Member, Address: c.Address,
		BatchesSent:   perSecond(now.Metrics.IncreaseBy(before.Metrics, metricBatchesSent, "")[""], secs),
		BatchesFailed: map[string]float64{}, Members: []MemberView{}}
	for code, n := range now.Metrics.IncreaseBy(before.Metrics, metricBatchesFailed, "code") {
		v.BatchesFailed[code] = perSecond(n, secs)
	}
	for _, m := range c.Members {
		trips := intervalOf(before, now, metricMemberRoundTrip, "member", m.ID)
		var acked float64
		if trips != nil {
			acked = perSecond(trips.Count, secs)
		}
		v.Members = append(v.Members, MemberView{ID: m.ID, Address: m.Address, State: m.State, Unacked: m.Unacked,
			Acked: acked, P99: quantile(trips, 0.99)})
	}
	return v
}

// short is the beginning of a member id, which the lines show.
func short(id string) string {
	if len(id) > shortID {
		return id[:shortID]
	}
	return id
}
