package main

import (
	"slices"
	"testing"

	"github.com/bester-project/bester/loadgen"
)

// TestColumnsAndRatios: a cluster target is a column per placement, and
// each cluster column is compared with its own single server as well as
// with the first column.
func TestColumnsAndRatios(t *testing.T) {
	cols := columns([]string{"bester", "bester-cluster", "nats", "nats-cluster-one"},
		[]loadgen.Placement{loadgen.PlacementCross, loadgen.PlacementMixed})
	var names []string
	for _, c := range cols {
		names = append(names, c.String())
	}
	want := []string{"bester", "bester-cluster:cross", "bester-cluster:mixed", "nats", "nats-cluster-one:cross", "nats-cluster-one:mixed"}
	if !slices.Equal(names, want) {
		t.Fatalf("columns %v, want %v", names, want)
	}
	var ratios []string
	for _, r := range ratioColumns(cols) {
		ratios = append(ratios, r[0].String()+"/"+r[1].String())
	}
	want = []string{"bester-cluster:cross/bester", "bester-cluster:mixed/bester", "nats/bester", "nats-cluster-one:cross/bester",
		"nats-cluster-one:mixed/bester", "nats-cluster-one:cross/nats", "nats-cluster-one:mixed/nats"}
	if !slices.Equal(ratios, want) {
		t.Fatalf("ratios %v, want %v", ratios, want)
	}
}
