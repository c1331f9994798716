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
		{`{"to": [], "body": 1}`, nil},
		{`{"body": 1}`, nil},
		{`{"to": 7}`, nil},
	} {
		req := &ipc.Request{Codec: wire.CodecJSON, Data: wire.RawValue(tc.data)}
		resp, err := relay(context.Background(), req)
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
