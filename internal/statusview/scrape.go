// Package statusview reads a Bester server's monitor endpoint, /metrics
// and /status, and turns two readings into what `bester status` shows:
// rates over the interval between them, handler and peer latencies from
// their histograms' buckets, and the state /status gives.
package statusview

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// maxBody bounds what one answer of the endpoint may be.
const maxBody = 16 << 20

// ErrSpeaksHTTPS is why an endpoint that speaks HTTPS only refused a
// request in plain HTTP.
var ErrSpeaksHTTPS = errors.New("the monitor speaks HTTPS")

// httpToHTTPS is how Go's HTTPS servers answer a plain HTTP request.
const httpToHTTPS = "HTTP request to an HTTPS server"

// Status is what the view uses of /status.
type Status struct {
	Name       string           `json:"name"`
	Clients    int              `json:"clients"`
	Listeners  []ListenerStatus `json:"listeners"`
	Handlers   []HandlerStatus  `json:"handlers"`
	Peers      []PeerStatus     `json:"peers"`
	TopSenders []TopSender      `json:"top_senders"`
	// Cluster is nil for a server without a cluster block.
	Cluster *ClusterStatus `json:"cluster"`
}

// ListenerStatus is a listener in /status.
type ListenerStatus struct {
	Name        string `json:"name"`
	Connections int    `json:"connections"`
}

// HandlerStatus is a handler in /status.
type HandlerStatus struct {
	Name     string `json:"name"`
	State    string `json:"state"`
	Queued   int    `json:"queued"`
	InFlight int    `json:"in_flight"`
	Restarts int    `json:"restarts"`
}

// PeerStatus is a peer link in /status.
type PeerStatus struct {
	Name     string `json:"name"`
	State    string `json:"state"`
	Queued   int    `json:"queued"`
	InFlight int    `json:"in_flight"`
}

// TopSender is a user /status names among the fastest senders.
type TopSender struct {
	User string  `json:"user"`
	Rate float64 `json:"messages_per_second"`
}

// Sample is one reading of the endpoint.
type Sample struct {
	At      time.Time
	Metrics Metrics
	Status  Status
}

// Client reads one monitor endpoint.
type Client struct {
	// HTTP makes the requests; its Transport holds the TLS settings.
	HTTP *http.Client
	// Base is the endpoint's URL without a path, such as
	// https://127.0.0.1:8223.
	Base string
}

// Scrape reads /metrics and /status.
func (c *Client) Scrape(ctx context.Context) (*Sample, error) {
	s := &Sample{At: time.Now()}
	if err := c.get(ctx, "/metrics", func(r io.Reader) (err error) {
		s.Metrics, err = ParseMetrics(r)
		return err
	}); err != nil {
		return nil, err
	}
	if err := c.get(ctx, "/status", func(r io.Reader) error { return json.NewDecoder(r).Decode(&s.Status) }); err != nil {
		return nil, err
	}
	return s, nil
}

// get asks for path and hands the body of a 200 answer to read.
func (c *Client) get(ctx context.Context, path string, read func(io.Reader) error) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.Base+path, nil)
	if err != nil {
		return err
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return answerError(path, resp)
	}
	if err := read(io.LimitReader(resp.Body, maxBody)); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// answerError is the error of an answer other than 200 to path, with the
// first line of its body, which says why.
func answerError(path string, resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	why, _, _ := strings.Cut(strings.TrimSpace(string(body)), "\n")
	if strings.Contains(why, httpToHTTPS) {
		return fmt.Errorf("%s: %s: %w", path, resp.Status, ErrSpeaksHTTPS)
	}
	if why == "" {
		return fmt.Errorf("%s: %s", path, resp.Status)
	}
	return fmt.Errorf("%s: %s: %s", path, resp.Status, why)
}
