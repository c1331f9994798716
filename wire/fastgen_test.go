package wire

import (
	"encoding/binary"
	"math/rand/v2"
	"strings"
	"testing"
)

// msgGen builds CBOR near the usual form of the messages read and written
// directly: right, wrong and unusual keys, values and encodings, for the
// differential tests.
type msgGen struct{ r *rand.Rand }

func newMsgGen(seed uint64) *msgGen { return &msgGen{rand.New(rand.NewPCG(seed, 1))} }

func (g *msgGen) chance(p float64) bool { return g.r.Float64() < p }

// head writes a head, now and then longer than needed, which decoders take.
func (g *msgGen) head(b []byte, major byte, n uint64) []byte {
	if !g.chance(0.05) {
		return appendHead(b, major, n)
	}
	switch g.r.IntN(4) {
	case 0:
		if n <= 0xff {
			return append(b, major<<5|24, byte(n))
		}
		fallthrough
	case 1:
		if n <= 0xffff {
			return binary.BigEndian.AppendUint16(append(b, major<<5|25), uint16(n))
		}
		fallthrough
	case 2:
		if n <= 0xffffffff {
			return binary.BigEndian.AppendUint32(append(b, major<<5|26), uint32(n))
		}
	}
	return binary.BigEndian.AppendUint64(append(b, major<<5|27), n)
}

func (g *msgGen) text(b []byte, s string) []byte {
	return append(g.head(b, majorText, uint64(len(s))), s...)
}

var genStrings = []string{"", "G", "G2", "relay", "client", "server", "0", "é", "hello, wêreld", "日本",
	"\xff", "a\xc3", "\x00", strings.Repeat("x", 23), strings.Repeat("y", 24), strings.Repeat("é", 150),
	strings.Repeat("z", 256), "id", "data", "type"}

// str picks a string value: mostly short, sometimes long, not ASCII or
// not UTF-8.
func (g *msgGen) str() string {
	if g.chance(0.02) {
		return strings.Repeat("w", 65536+g.r.IntN(3))
	}
	return genStrings[g.r.IntN(len(genStrings))]
}

// uint picks an integer near the edges of head sizes.
func (g *msgGen) uint() uint64 {
	edges := []uint64{0, 1, 23, 24, 255, 256, 65535, 65536, 1<<32 - 1, 1 << 32, 1<<64 - 1}
	if g.chance(0.5) {
		return edges[g.r.IntN(len(edges))]
	}
	return g.r.Uint64() >> g.r.IntN(64)
}

// key writes a map key: name, or now and then a key close to it.
func (g *msgGen) key(b []byte, name string) []byte {
	if !g.chance(0.08) {
		return g.text(b, name)
	}
	switch g.r.IntN(5) {
	case 0:
		return g.text(b, strings.ToUpper(name[:1])+name[1:])
	case 1:
		return g.text(b, name+"x")
	case 2: // a byte string
		return append(appendHead(b, majorBytes, uint64(len(name))), name...)
	case 3: // an indefinite-length text string
		return append(g.text(append(b, 0x7f), name), 0xff)
	}
	return appendHead(b, majorUint, uint64(g.r.IntN(3)))
}

// item writes a random item, plain (see fastReader.skip) most of the time.
func (g *msgGen) item(b []byte, depth int) []byte {
	n := 12
	if depth < 4 {
		n = 20
	}
	switch g.r.IntN(n) {
	case 0, 1:
		return g.head(b, majorUint, g.uint())
	case 2:
		return g.head(b, majorNint, g.uint())
	case 3: // a float, any bits
		switch g.r.IntN(3) {
		case 0:
			return binary.BigEndian.AppendUint16(append(b, 0xf9), uint16(g.r.Uint32()))
		case 1:
			return binary.BigEndian.AppendUint32(append(b, 0xfa), g.r.Uint32())
		}
		return binary.BigEndian.AppendUint64(append(b, 0xfb), g.r.Uint64())
	case 4:
		return append(b, 0xf4+byte(g.r.IntN(4)))
	case 5, 6, 7:
		return g.text(b, g.str())
	case 8:
		s := g.str()
		return append(g.head(b, majorBytes, uint64(len(s))), s...)
	case 9: // other simple values, a break, reserved heads
		odd := [][]byte{{0xe0}, {0xf3}, {0xf8, 0x10}, {0xf8, 0x20}, {0xf8, 0xff}, {0xfc}, {0xff}, {0x1c}, {0x5c}}
		return append(b, odd[g.r.IntN(len(odd))]...)
	case 10: // a tag
		tags := []uint64{0, 1, 2, 3, 24, 55799, 100}
		return g.item(g.head(b, 6, tags[g.r.IntN(len(tags))]), depth+1)
	case 11: // an indefinite length
		switch g.r.IntN(3) {
		case 0:
			return append(g.item(g.item(append(b, 0x9f), depth+1), depth+1), 0xff)
		case 1:
			return append(g.item(g.text(append(b, 0xbf), "k"), depth+1), 0xff)
		}
		return append(g.text(append(b, 0x7f), g.str()), 0xff)
	case 12, 13, 14:
		k := g.r.IntN(4)
		b = g.head(b, majorArray, uint64(k))
		for range k {
			b = g.item(b, depth+1)
		}
		return b
	case 15, 16, 17: // a map, with text keys (repeated now and then) or not
		k := g.r.IntN(4)
		b = g.head(b, majorMap, uint64(k))
		for range k {
			if g.chance(0.8) {
				b = g.text(b, genStrings[g.r.IntN(4)])
			} else {
				b = g.item(b, depth+1)
			}
			b = g.item(b, depth+1)
		}
		return b
	case 18: // arrays nested around the limits
		k := fastMaxDepth - 2 + g.r.IntN(5)
		if g.chance(0.1) {
			k = maxNestedLevels - 5 + g.r.IntN(10)
		}
		for range k {
			b = append(b, 0x81)
		}
		return append(b, 0x00)
	}
	// A wrong count: too many items for what follows, or a huge one.
	if g.chance(0.5) {
		return append(b, 0x82, 0x00)
	}
	return g.head(b, byte(2+g.r.IntN(4)), 1<<62)
}

// genField is a field of a message: its key and how to write its value.
type genField struct {
	key   string
	value func(b []byte) []byte
}

// object writes a map of some of fields, in any order, now and then with
// an unknown, a repeated or a wrong key, a wrong value, a self-described
// CBOR tag before the value (which the strict decoder drops), a wrong
// count or an indefinite length.
func (g *msgGen) object(b []byte, fields ...genField) []byte {
	var pairs [][]byte
	for _, f := range fields {
		if g.chance(0.85) {
			var p []byte
			if g.chance(0.02) {
				p = append(p, 0xd9, 0xd9, 0xf7)
			}
			if g.chance(0.05) {
				p = g.item(p, 1)
			} else {
				p = f.value(p)
			}
			pairs = append(pairs, append(g.key(nil, f.key), p...))
		}
	}
	if g.chance(0.04) {
		pairs = append(pairs, g.item(g.text(nil, "extra"), 1))
	}
	if len(pairs) > 0 && g.chance(0.04) {
		pairs = append(pairs, pairs[g.r.IntN(len(pairs))])
	}
	g.r.Shuffle(len(pairs), func(i, j int) { pairs[i], pairs[j] = pairs[j], pairs[i] })
	n := uint64(len(pairs))
	indef := g.chance(0.02)
	switch {
	case indef:
		b = append(b, 0xbf)
	case g.chance(0.02):
		b = g.head(b, majorMap, n+1)
	default:
		b = g.head(b, majorMap, n)
	}
	for _, p := range pairs {
		b = append(b, p...)
	}
	if indef {
		b = append(b, 0xff)
	}
	return b
}

// The values of fields.
func (g *msgGen) strValue(b []byte) []byte  { return g.text(b, g.str()) }
func (g *msgGen) uintValue(b []byte) []byte { return g.head(b, majorUint, g.uint()) }
func (g *msgGen) rawValue(b []byte) []byte  { return g.item(b, 0) }

// nullOr writes null, undefined or what value writes.
func (g *msgGen) nullOr(value func([]byte) []byte) func([]byte) []byte {
	return func(b []byte) []byte {
		switch g.r.IntN(8) {
		case 0:
			return append(b, 0xf6)
		case 1:
			return append(b, 0xf7)
		}
		return value(b)
	}
}

func (g *msgGen) envelope(b []byte) []byte {
	header := func(b []byte) []byte {
		if g.chance(0.7) {
			return append(b, 0xf6)
		}
		return g.object(b, genField{"scope", g.strValue},
			genField{"authentication", g.nullOr(func(b []byte) []byte {
				return g.object(b, genField{"username", g.strValue}, genField{"password", g.strValue})
			})},
			genField{"origin", g.nullOr(func(b []byte) []byte {
				return g.object(b, genField{"server", g.strValue}, genField{"user", g.strValue})
			})},
			genField{"hops", g.uintValue})
	}
	payload := g.nullOr(func(b []byte) []byte {
		return g.object(b, genField{"type", g.strValue}, genField{"id", g.strValue}, genField{"data", g.rawValue})
	})
	return g.object(b, genField{"header", header}, genField{"payload", payload})
}

func (g *msgGen) handlerResponse(b []byte) []byte {
	command := g.nullOr(func(b []byte) []byte {
		return g.object(b, genField{"type", g.strValue}, genField{"data", g.rawValue})
	})
	header := func(b []byte) []byte {
		return g.object(b, genField{"status", g.strValue}, genField{"command", command})
	}
	return g.object(b, genField{"id", g.nullOr(g.uintValue)}, genField{"header", header},
		genField{"data", g.rawValue})
}

func (g *msgGen) handlerRequest(b []byte) []byte {
	from := func(b []byte) []byte {
		return g.object(b, genField{"scope", g.strValue}, genField{"name", g.strValue},
			genField{"server", g.strValue})
	}
	origin := func(b []byte) []byte {
		return g.object(b, genField{"server", g.strValue}, genField{"user", g.strValue})
	}
	return g.object(b, genField{"id", g.uintValue}, genField{"type", g.strValue},
		genField{"from", from}, genField{"data", g.rawValue}, genField{"origin", g.nullOr(origin)})
}

// incoming writes what a server writes to a client: a status report, a
// delivery or a dummy reply, with the fields of the others now and then,
// and null or undefined for any field.
func (g *msgGen) incoming(b []byte) []byte {
	var header, payload []genField
	str := func(name string, values ...string) genField {
		return genField{name, g.nullOr(func(b []byte) []byte {
			if g.chance(0.7) {
				return g.text(b, values[g.r.IntN(len(values))])
			}
			return g.strValue(b)
		})}
	}
	undelivered := genField{"undelivered", g.nullOr(func(b []byte) []byte {
		k := g.r.IntN(4)
		if g.chance(0.02) {
			k = 300
		}
		b = g.head(b, majorArray, uint64(k))
		for range k {
			switch {
			case g.chance(0.03):
				b = append(b, 0xf6+byte(g.r.IntN(2)))
			case g.chance(0.03):
				b = g.item(b, 1)
			default:
				b = g.strValue(b)
			}
		}
		return b
	})}
	from := genField{"from", g.nullOr(func(b []byte) []byte {
		return g.object(b, genField{"server", g.strValue}, genField{"user", g.strValue})
	})}
	kind := g.r.IntN(4)
	switch kind {
	case 0: // a good report
		header = []genField{str("messageType", MessageTypeStatusReport), str("status", StatusGood)}
		payload = []genField{str("id", "m-1", IDAuth)}
	case 1: // a bad report
		header = []genField{str("messageType", MessageTypeStatusReport), str("status", StatusBad),
			str("error", string(CodeUndelivered), string(CodeBadMessage), "new_code"), str("detail", "x", "")}
		payload = []genField{str("id", "m-1", ""), undelivered}
	case 2: // a delivery
		header = []genField{str("messageType", MessageTypeReceived), from}
		payload = []genField{str("type", "relay"), {"data", g.rawValue}}
	default: // a dummy reply
		header = []genField{str("status", HandlerStatusOK)}
		payload = []genField{str("type", TypeDummy), str("id", "p"), {"data", g.nullOr(g.rawValue)}}
	}
	if g.chance(0.1) { // a field of another kind of message
		header = append(header, []genField{from, str("error", "loop"), str("detail", "d")}[g.r.IntN(3)])
	}
	if g.chance(0.1) {
		payload = append(payload, []genField{undelivered, {"data", g.rawValue}, str("type", "relay")}[g.r.IntN(3)])
	}
	return g.object(b, genField{"header", g.nullOr(func(b []byte) []byte { return g.object(b, header...) })},
		genField{"payload", g.nullOr(func(b []byte) []byte { return g.object(b, payload...) })})
}

// body writes one of the messages, now and then cut short or followed by
// a stray byte.
func (g *msgGen) body() []byte {
	var b []byte
	switch g.r.IntN(4) {
	case 0:
		b = g.envelope(nil)
	case 1:
		b = g.handlerResponse(nil)
	case 2:
		b = g.handlerRequest(nil)
	default:
		b = g.incoming(nil)
	}
	switch {
	case g.chance(0.02):
		b = b[:g.r.IntN(len(b))]
	case g.chance(0.02):
		b = append(b, byte(g.r.IntN(256)))
	}
	return b
}

// mustCBOR encodes v with the strict encoder.
func mustCBOR(t testing.TB, v any) RawValue {
	t.Helper()
	b, err := encMode.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sampleData is the data of a typical relay message.
func sampleData(t testing.TB) RawValue {
	t.Helper()
	const js = `{"to":["G","G2"],"body":"hello, wêreld","n":42,"big":18446744073709551615,"neg":-1,"ratio":0.25,"nested":{"ok":true,"none":null,"list":[1,2.5,"x"]}}`
	v, err := Convert(RawValue(js), CodecJSON, CodecCBOR)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
