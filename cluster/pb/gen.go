// Package pb holds the protobuf messages that members of a cluster send
// each other. The .pb.go files are generated (go generate) and committed.
package pb

//go:generate go run ../internal/protogen -I . bester_cluster.proto
