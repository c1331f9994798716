package main

import (
	"context"
	"slices"
	"testing"

	"github.com/bester-project/bester/ipc"
	"github.com/bester-project/bester/wire"
)

func TestRelay(t *testing.T) {
	for _, tc := range []struct {
		data  string
		users []string // nil: a failure is expected
	}{
		{`{"to": "G", "body": {"text": "hi"}}`, []string{"G"}},
		{`{"to": ["G", "H"], "body": [1, 2]}`, []string{"G", "H"}},
		{`{"to": ["G@J", "H"], "body": 1}`, []string{"G", "H"}}, // J is this server
		{`{"to": [], "body": 1}`, nil},
		{`{"body": 1}`, nil},
		{`{"to": 7}`, nil},
		{`{"to": ["G", "H@K"], "body": 1}`, nil}, // local and remote mixed
	} {
		req := &ipc.Request{Codec: wire.CodecJSON, Data: wire.RawValue(tc.data),
			From: wire.From{Scope: wire.FromClient, Name: "T", Server: "J"}}
		r := &relayer{server: "J"}
		resp, err := r.relay(context.Background(), req)
		if tc.users == nil {
			if err == nil {
				t.Errorf("%s: accepted", tc.data)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.data, err)
		}
		if resp.Command.Type != wire.CommandSendClients || !slices.Equal(resp.Command.Data.([]string), tc.users) {
			t.Errorf("%s: command %+v", tc.data, resp.Command)
		}
		var body wire.RawValue
		if err := req.Decode(&struct {
			Body *wire.RawValue `json:"body"`
		}{&body}); err != nil {
			t.Fatal(err)
		}
		if string(resp.Data.(wire.RawValue)) != string(body) {
			t.Errorf("%s: body %s", tc.data, resp.Data)
		}
	}
}

func TestRelayToOtherServers(t *testing.T) {
	req := &ipc.Request{Codec: wire.CodecJSON, Data: wire.RawValue(`{"to": ["G@K", "H@L", "I@K"], "body": "hi"}`),
		From: wire.From{Scope: wire.FromClient, Name: "T", Server: "J"}}
	resp, err := (&relayer{server: "J"}).relay(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Command.Type != wire.CommandSendServers || !slices.Equal(resp.Command.Data.([]string), []string{"K", "L"}) {
		t.Fatalf("command %+v", resp.Command)
	}
	fwd := resp.Data.(message)
	if !slices.Equal(fwd.To, wire.Names{"G@K", "H@L", "I@K"}) || string(fwd.Body) != `"hi"` {
		t.Fatalf("data for the peers %+v", fwd)
	}
}

func TestRelayFromAPeer(t *testing.T) {
	for _, tc := range []struct {
		server, data string
		users        []string // nil: a failure is expected
	}{
		{"K", `{"to": ["G@K", "H@L", "I@K"], "body": 1}`, []string{"G", "I"}},
		{"K", `{"to": "H@L", "body": 1}`, nil},
		{"", `{"to": ["G@K", "H@L"], "body": 1}`, []string{"G", "H"}}, // no informer: every name is local
	} {
		req := &ipc.Request{Codec: wire.CodecJSON, Data: wire.RawValue(tc.data),
			From: wire.From{Scope: wire.FromServer, Name: "J", Server: "J"}}
		resp, err := (&relayer{server: tc.server}).relay(context.Background(), req)
		if tc.users == nil {
			if err == nil {
				t.Errorf("%s: accepted", tc.data)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.data, err)
		}
		if resp.Command.Type != wire.CommandSendClients || !slices.Equal(resp.Command.Data.([]string), tc.users) {
			t.Errorf("%s on %q: command %+v", tc.data, tc.server, resp.Command)
		}
	}
}
