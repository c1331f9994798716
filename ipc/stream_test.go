package ipc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bester-project/bester/ipc/internal/rawanswer"
	"github.com/bester-project/bester/wire"
)

type numbered struct {
	N int `cbor:"n" json:"n"`
}

// Requests are pipelined on one connection and released in reverse order:
// the answers must come back in that order, each with its own id.
func TestStreamPipelinedOutOfOrder(t *testing.T) {
	const n = 16
	for _, codec := range codecs {
		t.Run(codec.String(), func(t *testing.T) {
			arrived := make(chan struct{}, n)
			release := make([]chan struct{}, n)
			for i := range release {
				release[i] = make(chan struct{})
			}
			path := start(t, Options{Codec: codec}, func(ctx context.Context, req *Request) (*Response, error) {
				var in numbered
				if err := req.Decode(&in); err != nil {
					return nil, err
				}
				arrived <- struct{}{}
				select {
				case <-release[in.N]:
				case <-ctx.Done():
					return nil, ctx.Err()
				}
				return SendClients([]string{req.From.Name}, map[string]any{"n": in.N, "type": req.Type}), nil
			})
			c := dial(t, path, codec)
			for i := range n {
				c.request(uint64(1000+i), numbered{N: i})
			}
			for range n {
				<-arrived // all n run at the same time
			}
			for i := n - 1; i >= 0; i-- {
				close(release[i])
				r := c.response()
				if r.ID == nil || *r.ID != uint64(1000+i) {
					t.Fatalf("answer for n=%d has id %v", i, r.ID)
				}
				if r.Header.Status != "0" || r.Header.Command == nil ||
					r.Header.Command.Type != wire.CommandSendClients {
					t.Fatalf("header %+v", r.Header)
				}
				var users []string
				c.decode(r.Header.Command.Data, &users)
				if len(users) != 1 || users[0] != "T" {
					t.Fatalf("users %v", users)
				}
				var out struct {
					N    int    `cbor:"n" json:"n"`
					Type string `cbor:"type" json:"type"`
				}
				c.decode(r.Data, &out)
				if out.N != i || out.Type != "t" {
					t.Fatalf("data %+v for n=%d", out, i)
				}
			}
		})
	}
}

// Many requests over several connections all get their own answer.
func TestStreamManyConnections(t *testing.T) {
	const conns, perConn = 4, 200
	path := start(t, Options{MaxInFlight: 8}, func(ctx context.Context, req *Request) (*Response, error) {
		return SendClients([]string{"G"}, req.Data), nil
	})
	errs := make(chan error, conns)
	for k := range conns {
		c := dial(t, path, wire.CodecCBOR)
		go func() {
			got := make(map[uint64]bool)
			for i := range perConn {
				c.request(uint64(i), numbered{N: k*perConn + i})
			}
			for range perConn {
				body, err := wire.ReadFrame(c.conn, wire.DefaultMaxFrame, nil)
				if err != nil {
					errs <- err
					return
				}
				var r wire.HandlerResponse
				var in numbered
				if err := wire.CodecCBOR.UnmarshalMap(body, &r); err != nil {
					errs <- err
					return
				}
				if err := wire.CodecCBOR.Unmarshal(r.Data, &in); err != nil {
					errs <- err
					return
				}
				if r.ID == nil || in.N != k*perConn+int(*r.ID) || got[*r.ID] {
					errs <- fmt.Errorf("bad or repeated answer id %v data %d", r.ID, in.N)
					return
				}
				got[*r.ID] = true
			}
			errs <- nil
		}()
	}
	for range conns {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

func TestStreamHandlerErrorAndPanic(t *testing.T) {
	for _, codec := range codecs {
		t.Run(codec.String(), func(t *testing.T) {
			path := start(t, Options{Codec: codec}, func(ctx context.Context, req *Request) (*Response, error) {
				var in struct {
					Do string `cbor:"do" json:"do"`
				}
				if err := req.Decode(&in); err != nil {
					return nil, err
				}
				switch in.Do {
				case "error":
					return nil, errors.New("no such user")
				case "panic":
					panic("boom")
				case "nil":
					return nil, nil
				case "fail":
					return Fail("", "refused"), nil
				}
				return SendHandler("next", wire.RawValue(req.Data)), nil
			})
			c := dial(t, path, codec)
			for i, tc := range []struct{ do, status, text string }{
				{"error", "1", "no such user"},
				{"panic", "1", "handler panicked: boom"},
				{"nil", "1", errNoResponse.Error()},
				{"fail", "1", "refused"},
			} {
				c.request(uint64(i), map[string]string{"do": tc.do})
				r := c.response()
				var text string
				c.decode(r.Data, &text)
				if *r.ID != uint64(i) || r.Header.Status != tc.status || r.Header.Command != nil || text != tc.text {
					t.Errorf("%s: got id %d status %q command %v data %q", tc.do, *r.ID,
						r.Header.Status, r.Header.Command, text)
				}
			}
			// The connection survived them all.
			c.request(9, map[string]string{"do": "ok"})
			r := c.response()
			var next string
			c.decode(r.Header.Command.Data, &next)
			if *r.ID != 9 || r.Header.Status != "0" || r.Header.Command.Type != wire.CommandSendHandler || next != "next" {
				t.Fatalf("after failures: %+v", r)
			}
			var data map[string]string
			c.decode(r.Data, &data)
			if data["do"] != "ok" {
				t.Fatalf("data passed through as %v", data)
			}
		})
	}
}

// A frame over the limit closes its connection and no other.
func TestStreamOversizedFrameClosesOnlyThatConnection(t *testing.T) {
	const max = 1024
	path := start(t, Options{MaxFrame: max}, func(ctx context.Context, req *Request) (*Response, error) {
		return SendClients([]string{"G"}, req.Data), nil
	})
	good := dial(t, path, wire.CodecCBOR)
	bad := dial(t, path, wire.CodecCBOR)
	good.request(1, "before")
	good.response()
	bad.write(make([]byte, max+1))
	bad.expectClosed()
	good.request(2, "after")
	if r := good.response(); *r.ID != 2 {
		t.Fatalf("id %d", *r.ID)
	}
}

func TestStreamBadRequestsCloseConnection(t *testing.T) {
	path := start(t, Options{}, func(ctx context.Context, req *Request) (*Response, error) {
		return SendClients(nil, nil), nil
	})
	for name, frame := range map[string][]byte{
		"empty frame": {0, 0, 0, 0},
		"not a map":   wire.AppendFrame(nil, []byte{0x82, 0x01, 0x02}),
		"wrong codec": wire.AppendFrame(nil, []byte(`{"id":1}`)),
		"cut short":   {10, 0, 0, 0, 0xa0},
	} {
		t.Run(name, func(t *testing.T) {
			c := dial(t, path, wire.CodecCBOR)
			if _, err := c.conn.Write(frame); err != nil {
				t.Fatal(err)
			}
			if name == "cut short" {
				c.conn.(interface{ CloseWrite() error }).CloseWrite()
			}
			c.expectClosed()
		})
	}
}

func TestResponseTooLargeBecomesFailure(t *testing.T) {
	const max = 256
	path := start(t, Options{MaxFrame: max}, func(ctx context.Context, req *Request) (*Response, error) {
		return SendClients([]string{"G"}, strings.Repeat("x", max+wire.EnvelopeHeadroom)), nil
	})
	c := dial(t, path, wire.CodecCBOR)
	c.request(5, nil)
	r := c.response()
	var text string
	c.decode(r.Data, &text)
	if *r.ID != 5 || r.Header.Status != "1" || !strings.Contains(text, "exceeds") {
		t.Fatalf("got %+v %q", r.Header, text)
	}
}

// A rawanswer.Frame is written unchanged; a rawanswer.HangUp is written,
// then the connection closes.
func TestEscapeHatches(t *testing.T) {
	path := start(t, Options{}, func(ctx context.Context, req *Request) (*Response, error) {
		var s string
		if err := req.Decode(&s); err != nil {
			return nil, err
		}
		if s == "raw" {
			return &Response{Data: rawanswer.Frame{0xff, 0x00}}, nil
		}
		return &Response{Data: rawanswer.HangUp{100, 0, 0, 0, 0xa1}}, nil
	})
	c := dial(t, path, wire.CodecCBOR)
	c.request(1, "raw")
	body, err := wire.ReadFrame(c.conn, wire.DefaultMaxFrame, nil)
	if err != nil || string(body) != "\xff\x00" {
		t.Fatalf("raw frame %x, %v", body, err)
	}
	c.request(2, "hangup")
	if _, err := wire.ReadFrame(c.conn, wire.DefaultMaxFrame, nil); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("after hang-up: %v", err)
	}
}

// Cancelling the context stops requests in flight, answers them, and
// returns.
func TestShutdownAnswersRequestsInFlight(t *testing.T) {
	o := Options{Socket: socketPath(t)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- ServeConfig(ctx, o, func(ctx context.Context, req *Request) (*Response, error) {
			close(started)
			<-ctx.Done()
			return nil, ctx.Err()
		})
	}()
	waitListening(t, o.Socket, done)
	c := dial(t, o.Socket, wire.CodecCBOR)
	c.request(3, nil)
	<-started
	cancel()
	r := c.response()
	if *r.ID != 3 || r.Header.Status != "1" {
		t.Fatalf("answer %+v", r)
	}
	c.expectClosed()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A request's origin reaches the handler as Request.Origin, in both
// codecs; a request without one, from a server older than protocol v1.1,
// leaves it empty.
func TestStreamOrigin(t *testing.T) {
	for _, codec := range codecs {
		t.Run(codec.String(), func(t *testing.T) {
			path := start(t, Options{Codec: codec}, func(ctx context.Context, req *Request) (*Response, error) {
				return SendServers([]string{req.Origin.Server}, req.Origin.User), nil
			})
			c := dial(t, path, codec)
			for _, origin := range []wire.Address{{Server: "A", User: "T"}, {}} {
				c.write(c.encode(wire.HandlerRequest{ID: 1, Type: "t", Origin: origin,
					From: wire.From{Scope: wire.FromServer, Name: "K", Server: "K"}, Data: c.encode(nil)}))
				r := c.response()
				var servers []string
				var user string
				c.decode(r.Header.Command.Data, &servers)
				c.decode(r.Data, &user)
				if len(servers) != 1 || servers[0] != origin.Server || user != origin.User {
					t.Fatalf("origin %+v reached the handler as server %v, user %q", origin, servers, user)
				}
			}
		})
	}
}

// A request whose handler blocks does not hold up the requests behind it
// on the same connection: the reader that runs it is replaced, and the
// later requests are answered while it still blocks.
func TestStreamSlowRequestDoesNotBlockOthers(t *testing.T) {
	release := make(chan struct{})
	path := start(t, Options{}, func(ctx context.Context, req *Request) (*Response, error) {
		var in numbered
		if err := req.Decode(&in); err != nil {
			return nil, err
		}
		if in.N == 0 {
			select {
			case <-release:
			case <-ctx.Done():
			}
		}
		return SendClients([]string{"G"}, in.N), nil
	})
	c := dial(t, path, wire.CodecCBOR)
	const n = 50
	for i := range n {
		c.request(uint64(i), numbered{N: i})
	}
	for want := 1; want < n; want++ {
		if r := c.response(); *r.ID == 0 {
			t.Fatal("the blocked request was answered before it was released")
		}
	}
	close(release)
	if r := c.response(); *r.ID != 0 {
		t.Fatalf("last answer has id %d, want 0", *r.ID)
	}
}

// Many requests that each wait for all the others, on one connection,
// run at the same time and are all answered: slow handlers get as many
// goroutines as there are requests in flight.
func TestStreamManySlowRequestsRunTogether(t *testing.T) {
	const n = 100
	var arrived sync.WaitGroup
	arrived.Add(n)
	all := make(chan struct{})
	go func() { arrived.Wait(); close(all) }()
	path := start(t, Options{}, func(ctx context.Context, req *Request) (*Response, error) {
		arrived.Done()
		select {
		case <-all:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return SendClients([]string{"G"}, req.ID), nil
	})
	c := dial(t, path, wire.CodecCBOR)
	for i := range n {
		c.request(uint64(i), nil)
	}
	seen := make(map[uint64]bool)
	for range n {
		r := c.response()
		if r.Header.Status != wire.HandlerStatusOK || seen[*r.ID] {
			t.Fatalf("answer %d: status %q, seen before: %v", *r.ID, r.Header.Status, seen[*r.ID])
		}
		seen[*r.ID] = true
	}
}

// Under load, with quick requests run by the readers and slow ones by
// workers at the same time, every request is answered exactly once, with
// its own data.
func TestStreamMixedLoadAnsweredOnce(t *testing.T) {
	const conns, perConn = 4, 2000
	path := start(t, Options{}, func(ctx context.Context, req *Request) (*Response, error) {
		var in numbered
		if err := req.Decode(&in); err != nil {
			return nil, err
		}
		if in.N%500 == 0 {
			time.Sleep(20 * time.Millisecond) // long enough to be handed to a worker
		}
		return SendClients([]string{"G"}, in.N), nil
	})
	var wg sync.WaitGroup
	for k := range conns {
		c := dial(t, path, wire.CodecCBOR)
		var frames []byte
		for i := range perConn {
			frames = wire.AppendFrame(frames, c.encode(wire.HandlerRequest{ID: uint64(i), Type: "t",
				Data: c.encode(numbered{N: k*perConn + i})}))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.conn.Write(frames); err != nil {
				t.Error(err)
			}
		}()
		wg.Add(1)
		go func() {
			defer wg.Done()
			seen := make([]bool, perConn)
			for range perConn {
				body, err := wire.ReadFrame(c.conn, wire.DefaultMaxFrame, nil)
				if err != nil {
					t.Error(err)
					return
				}
				var r wire.HandlerResponse
				var n int
				if err := wire.CodecCBOR.UnmarshalMap(body, &r); err != nil || r.ID == nil || *r.ID >= perConn {
					t.Errorf("answer %x: %v", body, err)
					return
				}
				if err := wire.CodecCBOR.Unmarshal(r.Data, &n); err != nil || n != k*perConn+int(*r.ID) || seen[*r.ID] {
					t.Errorf("answer %d: data %d (%v), seen before: %v", *r.ID, n, err, seen[*r.ID])
					return
				}
				seen[*r.ID] = true
			}
		}()
	}
	wg.Wait()
}

// The watchdog sleeps while no connection needs it, and a reader that
// gets stuck wakes it: the requests behind the stuck one are answered.
func TestStreamWatchdogWakes(t *testing.T) {
	release := make(chan struct{})
	s := startWithWatchdog(t, func(ctx context.Context, req *Request) (*Response, error) {
		if req.ID == 0 {
			select {
			case <-release:
			case <-ctx.Done():
			}
		}
		return SendClients([]string{"G"}, nil), nil
	})
	c := dial(t, s.opts.Socket, wire.CodecCBOR)
	c.request(9, nil)
	c.response()
	waitAsleep(t, s.wd)
	c.request(0, nil) // stuck until released
	c.request(1, nil)
	if r := c.response(); *r.ID != 1 {
		t.Fatalf("answer %d before the stuck request was released", *r.ID)
	}
	close(release)
	if r := c.response(); *r.ID != 0 {
		t.Fatalf("answer %d, want 0", *r.ID)
	}
}

// startWithWatchdog runs a server whose watchdog test code can reach,
// until the test ends.
func startWithWatchdog(t *testing.T, h HandlerFunc) *server {
	t.Helper()
	s, ln, err := newServer(Options{Socket: socketPath(t)}, h)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.run(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		ln.Close()
		s.wd.close()
	})
	return s
}

// waitAsleep waits until the watchdog sleeps, which it does only once no
// connection has a reader in a handler or is in a slow spell.
func waitAsleep(t *testing.T, w *watchdog) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !w.asleep.Load() {
		if time.Now().After(deadline) {
			t.Fatal("the watchdog never went to sleep")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// onlyConn is the one stream connection s has.
func onlyConn(t *testing.T, s *server) *streamConn {
	t.Helper()
	s.wd.mu.Lock()
	defer s.wd.mu.Unlock()
	if len(s.wd.conns) != 1 {
		t.Fatalf("%d connections, want 1", len(s.wd.conns))
	}
	for c := range s.wd.conns {
		return c
	}
	return nil
}

// A worker that finds its call was slow starts a new slow spell; when the
// watchdog slept meanwhile, its ticks stood still, and the spell must
// still end: the connection goes back to running requests on its reader.
func TestStreamSlowSpellEndsAfterWatchdogSlept(t *testing.T) {
	release := map[uint64]chan struct{}{0: make(chan struct{}), 2: make(chan struct{})}
	s := startWithWatchdog(t, func(ctx context.Context, req *Request) (*Response, error) {
		if ch := release[req.ID]; ch != nil {
			select {
			case <-ch:
			case <-ctx.Done():
			}
		}
		return SendClients([]string{"G"}, nil), nil
	})
	c := dial(t, s.opts.Socket, wire.CodecCBOR)
	// 0 holds the reader until the watchdog gives the reading to another,
	// which starts a slow spell before it reads 1 and 2: they go to
	// workers.
	var frames []byte
	for id := range uint64(3) {
		frames = wire.AppendFrame(frames, c.encode(wire.HandlerRequest{ID: id, Type: "t"}))
	}
	if _, err := c.conn.Write(frames); err != nil {
		t.Fatal(err)
	}
	if r := c.response(); *r.ID != 1 {
		t.Fatalf("answer %d, want 1", *r.ID)
	}
	close(release[0])
	if r := c.response(); *r.ID != 0 {
		t.Fatalf("answer %d, want 0", *r.ID)
	}
	waitAsleep(t, s.wd) // the spell is over; 2 still runs on its worker
	close(release[2])
	if r := c.response(); *r.ID != 2 {
		t.Fatalf("answer %d, want 2", *r.ID)
	}
	sc := onlyConn(t, s)
	deadline := time.Now().Add(testTimeout)
	for s.wd.now() < sc.slowUntil.Load() {
		if time.Now().After(deadline) {
			t.Fatalf("the slow spell never ended: tick %d, spell until %d", s.wd.now(), sc.slowUntil.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
