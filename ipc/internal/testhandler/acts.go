package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/bester-project/bester/ipc"
	"github.com/bester-project/bester/ipc/internal/rawanswer"
	"github.com/bester-project/bester/wire"
)

// crashStatus is the exit status of the crash act.
const crashStatus = 3

func relay(_ context.Context, _ *ipc.Request, in *input) (*ipc.Response, error) {
	if len(in.To) == 0 {
		return nil, errors.New(`testhandler: relay: "to" names no user`)
	}
	return ipc.SendClients(in.To, in.Body), nil
}

func echo(_ context.Context, req *ipc.Request, _ *input) (*ipc.Response, error) {
	return ipc.SendClients([]string{req.From.Name}, req.Data), nil
}

func fail(context.Context, *ipc.Request, *input) (*ipc.Response, error) {
	return ipc.Fail(ipc.FailStatus, "fail requested"), nil
}

func garbage(_ context.Context, req *ipc.Request, in *input) (*ipc.Response, error) {
	switch in.Junk {
	case "invalid":
		return &ipc.Response{Data: rawanswer.Frame([]byte{0xff, 0x00})}, nil
	case "text":
		return badText(req)
	}
	body, err := req.Codec.Marshal([]int{1, 2})
	if err != nil {
		return nil, fmt.Errorf("testhandler: garbage: %w", err)
	}
	return &ipc.Response{Data: rawanswer.Frame(body)}, nil
}

// badText is a well-formed response to req, with its id, whose data is
// text that is not UTF-8.
func badText(req *ipc.Request) (*ipc.Response, error) {
	const mark = "MARK"
	body, err := req.Codec.Marshal(map[string]any{"id": req.ID, "header": map[string]any{"status": "0"}, "data": mark})
	if err != nil {
		return nil, fmt.Errorf("testhandler: garbage: %w", err)
	}
	return &ipc.Response{Data: rawanswer.Frame(bytes.Replace(body, []byte(mark), []byte("MA\xffK"), 1))}, nil
}

// late answers after "ms" milliseconds: to the users in "to" when it
// names any, else to the sender.
func late(ctx context.Context, req *ipc.Request, in *input) (*ipc.Response, error) {
	t := time.NewTimer(time.Duration(in.Ms) * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
		if len(in.To) > 0 {
			return relay(ctx, req, in)
		}
		return echo(ctx, req, in)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func never(ctx context.Context, _ *ipc.Request, _ *input) (*ipc.Response, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// hangUp writes half of a well-formed response frame and closes.
func hangUp(_ context.Context, req *ipc.Request, _ *input) (*ipc.Response, error) {
	body, err := req.Codec.Marshal(map[string]any{
		"id":     req.ID,
		"header": map[string]any{"status": wire.HandlerStatusOK},
		"data":   "this answer is cut in half",
	})
	if err != nil {
		return nil, fmt.Errorf("testhandler: close: %w", err)
	}
	frame := wire.AppendFrame(nil, body)
	return &ipc.Response{Data: rawanswer.HangUp(frame[:len(frame)/2])}, nil
}

func crash(context.Context, *ipc.Request, *input) (*ipc.Response, error) {
	os.Exit(crashStatus)
	return nil, nil
}

func forward(_ context.Context, req *ipc.Request, in *input) (*ipc.Response, error) {
	if in.Next == "" {
		return nil, errors.New(`testhandler: forward: no "next" handler`)
	}
	data, err := withAct(req, in.Then, "echo")
	if err != nil {
		return nil, err
	}
	return ipc.SendHandler(in.Next, data), nil
}

func byteString(_ context.Context, req *ipc.Request, _ *input) (*ipc.Response, error) {
	return ipc.SendClients([]string{req.From.Name}, []byte{0xde, 0xad, 0xbe, 0xef}), nil
}

func info(_ context.Context, req *ipc.Request, _ *input) (*ipc.Response, error) {
	inf, err := ipc.DialInformer(req.Informer, req.Codec)
	if err != nil {
		return nil, err
	}
	defer inf.Close()
	clients, err := inf.ListClients()
	if err != nil {
		return nil, err
	}
	if clients == nil {
		clients = []string{}
	}
	return ipc.SendClients([]string{req.From.Name}, map[string]any{"clients": clients}), nil
}

func servers(_ context.Context, req *ipc.Request, in *input) (*ipc.Response, error) {
	data, err := withAct(req, in.Then, "relay")
	if err != nil {
		return nil, err
	}
	return ipc.SendServers(in.Peers, data), nil
}

// reply answers the writer of a message that a peer server passed on,
// through their own server, knowing only the request's origin.
func reply(_ context.Context, req *ipc.Request, _ *input) (*ipc.Response, error) {
	if req.Origin.Server == "" {
		return nil, errors.New("testhandler: reply: the request names no origin")
	}
	data, err := withAct(req, "toorigin", "")
	if err != nil {
		return nil, err
	}
	return ipc.SendServers([]string{req.Origin.Server}, data), nil
}

func toOrigin(_ context.Context, req *ipc.Request, _ *input) (*ipc.Response, error) {
	if req.Origin.User == "" {
		return nil, errors.New("testhandler: toorigin: the request names no origin")
	}
	return ipc.SendClients([]string{req.Origin.User}, req.Data), nil
}

// route passes the request on along "route": sendServers to its first
// peer with the rest of the route as the new "route", or, once the route is
// empty, behaves as the act "then" (default relay).
func route(ctx context.Context, req *ipc.Request, in *input) (*ipc.Response, error) {
	if len(in.Route) == 0 {
		then := in.Then
		if then == "" || then == "route" {
			then = "relay"
		}
		a, ok := acts[then]
		if !ok {
			return nil, fmt.Errorf("testhandler: route: unknown act %q", then)
		}
		return a(ctx, req, in)
	}
	data, err := withField(req, "route", []string(in.Route[1:]))
	if err != nil {
		return nil, err
	}
	return ipc.SendServers(in.Route[:1], data), nil
}

// withAct returns the request data with its "act" set to then, or to def
// when then is empty; every other field stays encoded as it came.
func withAct(req *ipc.Request, then, def string) (map[string]wire.RawValue, error) {
	if then == "" {
		then = def
	}
	return withField(req, "act", then)
}

// withField returns the request data with field key set to v; every other
// field stays encoded as it came.
func withField(req *ipc.Request, key string, v any) (map[string]wire.RawValue, error) {
	var m map[string]wire.RawValue
	if err := req.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		m = make(map[string]wire.RawValue)
	}
	raw, err := req.Codec.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("testhandler: encode %s: %w", key, err)
	}
	m[key] = raw
	return m, nil
}
