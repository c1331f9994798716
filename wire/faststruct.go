package wire

import (
	"encoding"
	"math"
	"reflect"
	"strings"
	"sync"

	"github.com/fxamacker/cbor/v2"
)

// A handler decodes its data, usually a small map, into a struct of its
// own (the relay's {"to": Names, "body": RawValue}). The strict decoder
// does that by reflection over a deep stack, which costs more than the
// rest of a handler's work. The structs whose fields are all strings,
// integers, booleans, Names and RawValues are read here directly, by the
// rule of fastdec.go: only a body the strict decoder takes, giving
// exactly what it gives, and false for anything else (a key that is no
// field, a null, a value of another type, ...), which the strict decoder
// then decodes, errors included.

// fieldKind is how a field of a plain struct is read.
type fieldKind uint8

const (
	kindString fieldKind = iota
	kindInt
	kindUint
	kindBool
	kindNames
	kindRaw
)

// structPlan is how to read a plain struct: its fields' keys, kinds and
// indexes, in the same order.
type structPlan struct {
	keys  []string
	kinds []fieldKind
	index []int
}

// structPlans holds the plan of every struct type looked at, nil for one
// that is not plain.
var structPlans sync.Map // reflect.Type -> *structPlan

var (
	typeNames     = reflect.TypeFor[Names]()
	typeRawValue  = reflect.TypeFor[RawValue]()
	typeCBORUnm   = reflect.TypeFor[cbor.Unmarshaler]()
	typeTextUnm   = reflect.TypeFor[encoding.TextUnmarshaler]()
	typeBinaryUnm = reflect.TypeFor[encoding.BinaryUnmarshaler]()
)

// planOf returns the plan of struct type t, nil when it is not plain.
func planOf(t reflect.Type) *structPlan {
	if p, ok := structPlans.Load(t); ok {
		return p.(*structPlan)
	}
	p := makePlan(t)
	structPlans.Store(t, p)
	return p
}

// makePlan plans t when every field is exported, not embedded, of a kind
// read here and named by a plain key (the name in its cbor tag, or without
// one, or an empty one, its json tag, or the field's own name), no two alike. A tag with
// options other than omitempty and omitzero, which do not change decoding,
// or "-", a field the strict decoder ignores, leaves the struct to it.
func makePlan(t reflect.Type) *structPlan {
	p := &structPlan{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() || f.Anonymous {
			return nil
		}
		tag := f.Tag.Get("cbor")
		if tag == "" {
			tag = f.Tag.Get("json") // as the strict decoder does
		}
		name, opts, _ := strings.Cut(tag, ",")
		for opt := range strings.SplitSeq(opts, ",") {
			if opt != "" && opt != "omitempty" && opt != "omitzero" {
				return nil
			}
		}
		if name == "-" {
			return nil
		}
		if name == "" {
			name = f.Name
		}
		kind, ok := kindOf(f.Type)
		if !ok || len(p.keys) == fastMaxFields {
			return nil
		}
		for _, k := range p.keys {
			if k == name {
				return nil
			}
		}
		p.keys = append(p.keys, name)
		p.kinds = append(p.kinds, kind)
		p.index = append(p.index, i)
	}
	return p
}

// fastMaxFields is the most fields a plain struct has: fastReader.fields
// notes the keys it has read in the bits of a uint.
const fastMaxFields = 64

func kindOf(t reflect.Type) (fieldKind, bool) {
	switch t {
	case typeNames:
		return kindNames, true
	case typeRawValue:
		return kindRaw, true
	}
	pt := reflect.PointerTo(t)
	if pt.Implements(typeCBORUnm) || pt.Implements(typeTextUnm) || pt.Implements(typeBinaryUnm) {
		return 0, false
	}
	switch t.Kind() {
	case reflect.String:
		return kindString, true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return kindInt, true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return kindUint, true
	case reflect.Bool:
		return kindBool, true
	}
	return 0, false
}

// fastUnmarshalStruct reads b into v directly when v points to a plain
// struct that holds its zero value (the strict decoder merges into what
// v holds). False leaves v untouched.
func fastUnmarshalStruct(b []byte, v any) bool {
	return readStruct(fastReader{b: b}, v)
}

// UnmarshalPlainData is Unmarshal for the data of a request that
// UnmarshalHandlerRequest read as plain, b, unchanged since: its text is
// not checked for valid UTF-8 again, and the raw values read from it
// share b's memory rather than copies of it, so b must not change while
// they are in use.
func (c Codec) UnmarshalPlainData(b []byte, v any) error {
	if c == CodecCBOR && readStruct(fastReader{b: b, checked: true, copied: b}, v) {
		return nil
	}
	return c.Unmarshal(b, v)
}

// readStruct is fastUnmarshalStruct with r, which reads b.
func readStruct(r fastReader, v any) bool {
	b := r.b
	if len(b) == 0 || b[0]>>5 != majorMap {
		return false
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return false
	}
	dst := rv.Elem()
	p := planOf(dst.Type())
	if p == nil || !dst.IsZero() {
		return false
	}
	ok := r.fields(p.keys, func(key string) bool {
		i := 0
		for p.keys[i] != key {
			i++
		}
		return r.field(dst.Field(p.index[i]), p.kinds[i])
	})
	if !ok || r.off != len(b) {
		dst.SetZero() // as it was
		return false
	}
	return true
}

// field reads one value of kind k into f.
func (r *fastReader) field(f reflect.Value, k fieldKind) bool {
	switch k {
	case kindString:
		s, ok := r.text()
		if ok {
			f.SetString(string(s))
		}
		return ok
	case kindRaw: // through a pointer, which needs no allocation to pass as any
		return r.raw(f.Addr().Interface().(*RawValue))
	case kindNames:
		return r.names(f.Addr().Interface().(*Names))
	case kindBool:
		if r.off < len(r.b) && (r.b[r.off] == 0xf4 || r.b[r.off] == 0xf5) {
			f.SetBool(r.b[r.off] == 0xf5)
			r.off++
			return true
		}
		return false
	}
	major, n, ok := r.head()
	if !ok {
		return false
	}
	switch {
	case k == kindUint && major == majorUint && !f.OverflowUint(n):
		f.SetUint(n)
		return true
	case k == kindInt && major == majorUint && n <= math.MaxInt64 && !f.OverflowInt(int64(n)):
		f.SetInt(int64(n))
		return true
	case k == kindInt && major == majorNint && n <= math.MaxInt64 && !f.OverflowInt(-1-int64(n)):
		f.SetInt(-1 - int64(n))
		return true
	}
	return false
}

// names reads a Names as Names.UnmarshalCBOR does: one text string, or an
// array of them.
func (r *fastReader) names(v *Names) bool {
	if r.off < len(r.b) && r.b[r.off]>>5 == majorText {
		s, ok := r.text()
		if ok {
			*v = Names{string(s)}
		}
		return ok
	}
	start := r.off
	if !r.skip(0) {
		return false
	}
	list, ok := CBORTextArray(r.b[start:r.off])
	*v = list
	return ok
}
