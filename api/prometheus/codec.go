package prometheus

import (
	"io"
	"math"
	"reflect"
	"unsafe"

	jsoniter "github.com/json-iterator/go"
	"github.com/modern-go/reflect2"
	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/util/jsonutil"
)

// jsonCodec encodes responses exactly as Prometheus' JSONCodec
// (web/api/v1/json_codec.go): jsoniter in its standard-library-compatible
// configuration, with hand-written encoders for vectors, matrices, series,
// samples, points, exemplars and label sets. Those encoders write
// timestamps as seconds with exactly the digits of the milliseconds
// ("1.010"), float values as strings switching to exponent notation below
// 1e-6 and from 1e21, histograms as count, sum and non-empty buckets, and
// label values without HTML escaping; promql's own MarshalJSON methods
// differ on several of these, so they are not used.
//
// Prometheus registers its encoders in jsoniter's global registry; here
// they are an extension of a private configuration, so nothing outside the
// API changes how it encodes.
type jsonCodec struct {
	api jsoniter.API
}

func newJSONCodec() jsonCodec {
	// The fields of jsoniter.ConfigCompatibleWithStandardLibrary, which
	// must not be changed itself: it is shared by the whole process.
	api := jsoniter.Config{EscapeHTML: true, SortMapKeys: true, ValidateJsonRawMessage: true}.Froze()
	api.RegisterExtension(&promExtension{})
	return jsonCodec{api: api}
}

func (c jsonCodec) encode(resp *response) ([]byte, error) {
	return c.api.Marshal(resp)
}

// streamFlushBytes is how much encoded JSON a streamed answer holds before
// it goes to the writer: a large matrix is written (and compressed) while
// the rest is encoded.
const streamFlushBytes = 64 << 10

// encodeTo writes the encoding of resp to w as it goes.
func (c jsonCodec) encodeTo(w io.Writer, resp *response) error {
	s := c.api.BorrowStream(w)
	defer c.api.ReturnStream(s)
	s.WriteVal(resp)
	if s.Error != nil {
		return s.Error
	}
	return s.Flush()
}

var (
	typeVector   = reflect.TypeFor[promql.Vector]()
	typeMatrix   = reflect.TypeFor[promql.Matrix]()
	typeSeries   = reflect.TypeFor[promql.Series]()
	typeSample   = reflect.TypeFor[promql.Sample]()
	typeFPoint   = reflect.TypeFor[promql.FPoint]()
	typeHPoint   = reflect.TypeFor[promql.HPoint]()
	typeExemplar = reflect.TypeFor[exemplar.Exemplar]()
	typeLabels   = reflect.TypeFor[labels.Labels]()
)

// promExtension hands jsoniter the encoders of the promql types.
type promExtension struct{ jsoniter.DummyExtension }

func (*promExtension) CreateEncoder(typ reflect2.Type) jsoniter.ValEncoder {
	switch typ.Type1() {
	case typeVector:
		return encoder{encode: func(p unsafe.Pointer, s *jsoniter.Stream) { writeVector(*(*promql.Vector)(p), s) }}
	case typeMatrix:
		return encoder{encode: func(p unsafe.Pointer, s *jsoniter.Stream) { writeMatrix(*(*promql.Matrix)(p), s) }}
	case typeSeries:
		return encoder{encode: func(p unsafe.Pointer, s *jsoniter.Stream) { writeSeries(*(*promql.Series)(p), s) }}
	case typeSample:
		return encoder{encode: func(p unsafe.Pointer, s *jsoniter.Stream) { writeSample(*(*promql.Sample)(p), s) }}
	case typeFPoint:
		return encoder{encode: func(p unsafe.Pointer, s *jsoniter.Stream) { writeFPoint(*(*promql.FPoint)(p), s) }}
	case typeHPoint:
		return encoder{encode: func(p unsafe.Pointer, s *jsoniter.Stream) { writeHPoint(*(*promql.HPoint)(p), s) }}
	case typeExemplar:
		return encoder{encode: func(p unsafe.Pointer, s *jsoniter.Stream) { writeExemplar(*(*exemplar.Exemplar)(p), s) }}
	case typeLabels:
		return encoder{
			encode:  func(p unsafe.Pointer, s *jsoniter.Stream) { writeLabels(*(*labels.Labels)(p), s) },
			isEmpty: func(p unsafe.Pointer) bool { return (*labels.Labels)(p).IsEmpty() },
		}
	}
	return nil
}

// encoder is a jsoniter.ValEncoder from functions. Without isEmpty the
// value is never empty: Prometheus renders an empty vector as [], not by
// omitting it.
type encoder struct {
	encode  func(unsafe.Pointer, *jsoniter.Stream)
	isEmpty func(unsafe.Pointer) bool
}

func (e encoder) Encode(p unsafe.Pointer, s *jsoniter.Stream) { e.encode(p, s) }

func (e encoder) IsEmpty(p unsafe.Pointer) bool { return e.isEmpty != nil && e.isEmpty(p) }

// writeVector writes `[sample,sample,...]`; an empty vector is `[]`.
func writeVector(v promql.Vector, s *jsoniter.Stream) {
	s.WriteArrayStart()
	for i, smp := range v {
		if i > 0 {
			s.WriteMore()
		}
		writeSample(smp, s)
	}
	s.WriteArrayEnd()
}

// writeMatrix writes `[series,series,...]`; an empty matrix is `[]`.
func writeMatrix(m promql.Matrix, s *jsoniter.Stream) {
	s.WriteArrayStart()
	for i, ser := range m {
		if i > 0 {
			s.WriteMore()
		}
		writeSeries(ser, s)
		if s.Buffered() > streamFlushBytes {
			_ = s.Flush() // a write error sticks in the stream
		}
	}
	s.WriteArrayEnd()
}

// writeSeries writes {"metric":{…},"values":[[t,"v"],…],"histograms":[[t,{…}],…]},
// leaving out an empty "values" or "histograms".
func writeSeries(ser promql.Series, s *jsoniter.Stream) {
	s.WriteObjectStart()
	s.WriteObjectField(`metric`)
	writeLabels(ser.Metric, s)
	var last floatMemo
	for i, p := range ser.Floats {
		s.WriteMore()
		if i == 0 {
			s.WriteObjectField(`values`)
			s.WriteArrayStart()
		}
		s.WriteArrayStart()
		jsonutil.MarshalTimestamp(p.T, s)
		s.WriteMore()
		last.write(p.F, s)
		s.WriteArrayEnd()
	}
	if len(ser.Floats) > 0 {
		s.WriteArrayEnd()
	}
	for i, p := range ser.Histograms {
		s.WriteMore()
		if i == 0 {
			s.WriteObjectField(`histograms`)
			s.WriteArrayStart()
		}
		writeHPoint(p, s)
	}
	if len(ser.Histograms) > 0 {
		s.WriteArrayEnd()
	}
	s.WriteObjectEnd()
}

// writeSample writes {"metric":{…},"value":[t,"v"]} or, for a histogram,
// {"metric":{…},"histogram":[t,{…}]}.
func writeSample(smp promql.Sample, s *jsoniter.Stream) {
	s.WriteObjectStart()
	s.WriteObjectField(`metric`)
	writeLabels(smp.Metric, s)
	s.WriteMore()
	if smp.H == nil {
		s.WriteObjectField(`value`)
	} else {
		s.WriteObjectField(`histogram`)
	}
	s.WriteArrayStart()
	jsonutil.MarshalTimestamp(smp.T, s)
	s.WriteMore()
	if smp.H == nil {
		jsonutil.MarshalFloat(smp.F, s)
	} else {
		jsonutil.MarshalHistogram(smp.H, s)
	}
	s.WriteArrayEnd()
	s.WriteObjectEnd()
}

// floatMemo writes a series' float values, copying the bytes of the one
// before when a value repeats it (a steady rate, a constant gauge): the
// formatting is most of an answer's encoding. The bytes it points to are
// in the stream's buffer, which writeSeries does not flush.
type floatMemo struct {
	bits       uint64
	start, end int // the last value's bytes in the buffer; end 0: none
}

func (m *floatMemo) write(f float64, s *jsoniter.Stream) {
	bits := math.Float64bits(f)
	buf := s.Buffer()
	if m.end > 0 && bits == m.bits {
		s.SetBuffer(append(buf, buf[m.start:m.end]...))
		return
	}
	m.bits, m.start = bits, len(buf)
	jsonutil.MarshalFloat(f, s)
	m.end = len(s.Buffer())
}

// writeFPoint writes `[t,"v"]`.
func writeFPoint(p promql.FPoint, s *jsoniter.Stream) {
	s.WriteArrayStart()
	jsonutil.MarshalTimestamp(p.T, s)
	s.WriteMore()
	jsonutil.MarshalFloat(p.F, s)
	s.WriteArrayEnd()
}

// writeHPoint writes `[t,{"count":"…","sum":"…","buckets":[…]}]`.
func writeHPoint(p promql.HPoint, s *jsoniter.Stream) {
	s.WriteArrayStart()
	jsonutil.MarshalTimestamp(p.T, s)
	s.WriteMore()
	jsonutil.MarshalHistogram(p.H, s)
	s.WriteArrayEnd()
}

// writeExemplar writes {"labels":{…},"value":"v","timestamp":t}.
func writeExemplar(e exemplar.Exemplar, s *jsoniter.Stream) {
	s.WriteObjectStart()
	s.WriteObjectField(`labels`)
	writeLabels(e.Labels, s)
	s.WriteMore()
	s.WriteObjectField(`value`)
	jsonutil.MarshalFloat(e.Value, s)
	s.WriteMore()
	s.WriteObjectField(`timestamp`)
	jsonutil.MarshalTimestamp(e.Ts, s)
	s.WriteObjectEnd()
}

// writeLabels writes {"name":"value",…} in label order. Like Prometheus,
// it does not escape <, > and & (jsoniter's WriteString).
func writeLabels(ls labels.Labels, s *jsoniter.Stream) {
	s.WriteObjectStart()
	i := 0
	ls.Range(func(l labels.Label) {
		if i != 0 {
			s.WriteMore()
		}
		i++
		s.WriteString(l.Name)
		s.WriteRaw(`:`)
		s.WriteString(l.Value)
	})
	s.WriteObjectEnd()
}
