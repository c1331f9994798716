package monitor

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
)

// source answers as a server that is ready and says nothing else.
type source struct{}

func (source) Status() any                   { return map[string]string{} }
func (source) Ready() (bool, any)            { return true, map[string]string{"status": "ready"} }
func (source) Gatherer() prometheus.Gatherer { return prometheus.NewRegistry() }

// TestMaxConnections: while MaxConnections connections are open, another
// client waits; once one closes, it is answered.
func TestMaxConnections(t *testing.T) {
	e, err := Listen("127.0.0.1:0", hclog.NewNullLogger(), nil)
	if err != nil {
		t.Fatal(err)
	}
	e.Serve(Handler(source{}, false, hclog.NewNullLogger()))
	t.Cleanup(func() { e.Close(context.Background()) })
	addr := e.Addr().String()

	held := make([]net.Conn, MaxConnections)
	for i := range held {
		if held[i], err = net.Dial("tcp", addr); err != nil {
			t.Fatal(err)
		}
		defer held[i].Close()
	}
	// Each held connection has been accepted once a request on it is
	// answered; then the next client finds no room.
	for _, c := range held {
		if _, err := c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 12)
		c.SetReadDeadline(time.Now().Add(time.Minute))
		if _, err := c.Read(buf); err != nil || string(buf) != "HTTP/1.1 200" {
			t.Fatalf("a held connection: %q, %v", buf, err)
		}
	}
	get := func(timeout time.Duration) error {
		c := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := c.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	if err := get(300 * time.Millisecond); err == nil {
		t.Fatalf("answered with %d connections open", MaxConnections)
	}
	held[0].Close()
	if err := get(time.Minute); err != nil {
		t.Fatalf("not answered once a connection closed: %v", err)
	}
}
