package statusview

// increase is how much a counter grew from before to now; a counter that
// went down started again from zero (the server restarted, or a reload
// replaced its handler).
func increase(before, now float64) float64 {
	if now < before {
		return now
	}
	return now - before
}

// since is the observations of h made after before, bucket by bucket. A
// histogram of which any bucket holds fewer observations than before
// started again (the server restarted, and may have observed more since
// than before in all): then it is all new. A nil before is an empty
// histogram.
func (h *Histogram) since(before *Histogram) *Histogram {
	if before == nil || h.restartedSince(before) {
		return h
	}
	out := &Histogram{Count: h.Count - before.Count, Buckets: make([]Bucket, len(h.Buckets))}
	for i, b := range h.Buckets {
		out.Buckets[i] = Bucket{UpperBound: b.UpperBound, Count: b.Count - before.Buckets[i].Count}
	}
	return out
}

// restartedSince says whether h is not before with observations added:
// other buckets, or a bucket (the +Inf one too) that holds fewer of them.
func (h *Histogram) restartedSince(before *Histogram) bool {
	if len(before.Buckets) != len(h.Buckets) {
		return true
	}
	var below, belowBefore float64
	for i, b := range h.Buckets {
		was := before.Buckets[i]
		if b.UpperBound != was.UpperBound || b.Count-below < was.Count-belowBefore {
			return true
		}
		below, belowBefore = b.Count, was.Count
	}
	return h.Count-below < before.Count-belowBefore
}

// Quantile estimates the q-quantile (0 ≤ q ≤ 1) of h's observations as
// Prometheus's histogram_quantile does: it finds the bucket of the rank
// and interpolates linearly inside it, from 0 for the first bucket. A
// rank above the highest finite bucket gets that bucket's bound, the
// most the histogram can tell. It returns false for no observations.
func (h *Histogram) Quantile(q float64) (float64, bool) {
	if h == nil || h.Count <= 0 || len(h.Buckets) == 0 {
		return 0, false
	}
	rank := q * h.Count
	lower, below := 0.0, 0.0
	for _, b := range h.Buckets {
		if b.Count >= rank && b.Count > below {
			return lower + (b.UpperBound-lower)*(rank-below)/(b.Count-below), true
		}
		lower, below = b.UpperBound, b.Count
	}
	return lower, true
}
