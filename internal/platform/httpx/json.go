package httpx

import (
	stdjson "encoding/json"
	"io"
	"sync"
	"time"
	"unsafe"

	ginjson "github.com/gin-gonic/gin/codec/json"
	jsoniter "github.com/json-iterator/go"
	"github.com/modern-go/reflect2"
)

// TimeFormat is the one format of every time in a JSON answer: RFC 3339 in
// UTC with exactly three fraction digits, e.g. 2026-11-01T02:00:00.000Z.
// Fixed width, so times sort as strings and a front end parses one shape;
// milliseconds, because that is what both databases keep.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// FormatTime renders t the way every JSON answer does.
func FormatTime(t time.Time) string {
	return t.UTC().Truncate(time.Millisecond).Format(TimeFormat)
}

// installJSON makes gin render every answer (c.JSON and friends) with a codec
// that writes time.Time in TimeFormat and is otherwise encoding/json's.
// gin reads its codec from a package variable, the one piece of global
// state here, so it is set once however many engines are built.
var installJSON = sync.OnceFunc(func() { ginjson.API = jsonCodec{api: newJSONAPI()} })

func newJSONAPI() jsoniter.API {
	api := jsoniter.Config{
		EscapeHTML:             true,
		SortMapKeys:            true,
		ValidateJsonRawMessage: true,
	}.Froze()
	api.RegisterExtension(&timeExtension{})
	return api
}

var (
	timeType    = reflect2.TypeOf(time.Time{})
	timePtrType = reflect2.TypeOf((*time.Time)(nil))
)

// timeExtension encodes time.Time and *time.Time (null when nil) in
// TimeFormat. The pointer needs its own encoder: jsoniter would otherwise
// find *time.Time's MarshalJSON before looking at the element type.
type timeExtension struct{ jsoniter.DummyExtension }

func (timeExtension) CreateEncoder(typ reflect2.Type) jsoniter.ValEncoder {
	switch typ {
	case timeType:
		return timeEncoder{}
	case timePtrType:
		return timePtrEncoder{}
	}
	return nil
}

type timePtrEncoder struct{}

func (timePtrEncoder) IsEmpty(ptr unsafe.Pointer) bool { return *(**time.Time)(ptr) == nil }

func (timePtrEncoder) Encode(ptr unsafe.Pointer, stream *jsoniter.Stream) {
	t := *(**time.Time)(ptr)
	if t == nil {
		stream.WriteNil()
		return
	}
	stream.WriteString(FormatTime(*t))
}

type timeEncoder struct{}

func (timeEncoder) IsEmpty(ptr unsafe.Pointer) bool { return false }

func (timeEncoder) Encode(ptr unsafe.Pointer, stream *jsoniter.Stream) {
	stream.WriteString(FormatTime(*(*time.Time)(ptr)))
}

// jsonCodec is gin's codec: encoding goes through the time-aware API,
// decoding stays encoding/json's so request parsing is unchanged.
type jsonCodec struct{ api jsoniter.API }

func (c jsonCodec) Marshal(v any) ([]byte, error) { return c.api.Marshal(v) }

func (c jsonCodec) MarshalIndent(v any, prefix, indent string) ([]byte, error) {
	return c.api.MarshalIndent(v, prefix, indent)
}

func (c jsonCodec) NewEncoder(w io.Writer) ginjson.Encoder { return c.api.NewEncoder(w) }

func (jsonCodec) Unmarshal(data []byte, v any) error { return stdjson.Unmarshal(data, v) }

func (jsonCodec) NewDecoder(r io.Reader) ginjson.Decoder { return stdjson.NewDecoder(r) }

// MarshalJSON encodes v exactly as the engine's answers are encoded, for
// answers prepared ahead of time (a cached body served with c.Data).
func MarshalJSON(v any) ([]byte, error) {
	installJSON()
	return ginjson.API.Marshal(v)
}
