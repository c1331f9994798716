package main

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

// TestListenReconnectRefusedLogin: credentials the server refuses end
// listen -reconnect at once; connecting again would not change them.
func TestListenReconnectRefusedLogin(t *testing.T) {
	addr := fakeServer(t)
	e, _, errs := testEnv("")
	if code := runWith(t, e, "listen", "-reconnect", "-addr", addr, "-user", "bad"); code != 1 {
		t.Fatalf("status %d, stderr %q; want 1", code, errs)
	}
	if !strings.Contains(errs.String(), "unauthorized") || strings.Contains(errs.String(), "reconnecting") {
		t.Fatalf("stderr %q; want the refusal and no reconnecting", errs)
	}
}

// TestListenReconnectNoServer: with nothing listening, listen -reconnect
// keeps trying, a line each time, until interrupted, which is a normal
// end.
func TestListenReconnectNoServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	e, _, errs := testEnv("")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() { done <- run(ctx, []string{"bester", "listen", "-reconnect", "-addr", addr, "-user", "G"}, e) }()
	deadline := time.Now().Add(testTimeout)
	for strings.Count(errs.String(), "reconnecting in") < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != 0 || strings.Count(errs.String(), "reconnecting in") < 2 {
		t.Fatalf("status %d, stderr %q; want 0 after two reconnecting lines", code, errs)
	}
	if !strings.Contains(errs.String(), "connection refused") {
		t.Errorf("stderr %q does not say why", errs)
	}
}
