package pb

import (
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// The remote layer finds a message's type by its full name in the global
// registry when it decodes; a batch survives the trip byte for byte.
func TestDeliverBatchRoundTripsByRegisteredName(t *testing.T) {
	sent := &DeliverBatch{
		BatchId: 7, Type: "relay", From: &Origin{Server: "J", User: "alice"},
		Users: []string{"G1", "G2"}, Data: []byte{0xa1, 0x61, 0x78, 0x01}, Codec: "cbor", Hops: 1,
	}
	raw, err := proto.Marshal(sent)
	if err != nil {
		t.Fatal(err)
	}
	mt, err := protoregistry.GlobalTypes.FindMessageByName("bester.cluster.DeliverBatch")
	if err != nil {
		t.Fatalf("DeliverBatch is not registered under its full name: %v", err)
	}
	got := mt.New().Interface()
	if err := proto.Unmarshal(raw, got); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(sent, got) {
		t.Fatalf("got %v, sent %v", got, sent)
	}
}
