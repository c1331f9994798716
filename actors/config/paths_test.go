package config

import "testing"

// TestDefaultClientSocket: the default configuration's unix listener is
// where clients without an address look for it.
func TestDefaultClientSocket(t *testing.T) {
	cfg, err := Load("../../config.hcl")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range cfg.Listeners {
		if l.Network == "unix" {
			if l.Address != DefaultClientSocket() {
				t.Fatalf("config.hcl's unix listener is %s; DefaultClientSocket is %s", l.Address, DefaultClientSocket())
			}
			return
		}
	}
	t.Fatal("config.hcl has no unix listener")
}

// TestDefaultMonitorAddress: the default configuration's monitor is where
// `bester status` looks without an address.
func TestDefaultMonitorAddress(t *testing.T) {
	cfg, err := Load("../../config.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Monitor == nil || cfg.Monitor.Address != DefaultMonitorAddress {
		t.Fatalf("config.hcl's monitor is %+v; DefaultMonitorAddress is %s", cfg.Monitor, DefaultMonitorAddress)
	}
}
