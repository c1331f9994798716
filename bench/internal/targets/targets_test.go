package targets

import (
	"context"
	"testing"
	"time"

	"github.com/bester-project/bester/loadgen"
)

// TestSingleServersAccountForEveryID: each single-server target relays
// messages to one recipient and fans them out to several, with every id
// acknowledged once and delivered once to each recipient, whichever way
// its driver takes its messages (NATS's callbacks, Bester's and raw's
// reads); bester-python too, when its Python can speak CBOR.
func TestSingleServersAccountForEveryID(t *testing.T) {
	ctx, bins := built(t)
	for _, name := range append(Names, HandlerNames...) {
		if err := PythonMissing(); err != nil && name == "bester-python" {
			t.Logf("%s left out: %v", name, err)
			continue
		}
		r, err := Start(ctx, name, bins, Options{Window: 8, Pending: 1024, NATSHandlerConnections: 2})
		if err != nil {
			t.Fatal(err)
		}
		for _, cfg := range []loadgen.Config{
			{Workload: "relay", Senders: 4, Recipients: 1, Window: 8, Messages: 2000},
			{Workload: "fanout", Senders: 1, Recipients: 5, SharedRecipients: true, Window: 8, Messages: 400},
		} {
			cfg.Driver, cfg.Size = r.Driver, 64
			res, err := loadgen.Run(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			want := res.Accounting.Sent * uint64(cfg.Recipients)
			if a := res.Accounting; !a.Complete || a.Good != a.Sent || a.Delivered != want || a.Sent < uint64(cfg.Messages) {
				t.Errorf("%s %s: accounting %+v, want %d deliveries", name, cfg.Workload, a, want)
			}
		}
		if err := r.Stop(); err != nil {
			t.Error(err)
		}
	}
}

// built builds every program for a test that starts servers (skipped
// with -short), and gives the context that bounds the test.
func built(t *testing.T) (context.Context, *Binaries) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and starts servers")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute) // a cold build is slow
	t.Cleanup(cancel)
	bins, err := Build(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bins.Remove)
	return ctx, bins
}
