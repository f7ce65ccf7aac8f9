package traceql

import (
	"encoding/binary"
	"math"
	"slices"
	"strings"
)

// The binary form of a Metrics partial, version 1:
//
//	"TQLM" 0x01
//	uvarint length, the query's normalised text
//	varint start, end, step
//	uvarint number of series, then per series (in key order):
//	    the by() values (appendValue), as many as the query has
//	    per step: uvarint count
//	    sum, avg: per step varint integer sum and float64 float sum
//	    min, max: per step with a count, float64
//	    quantile, histogram: uvarint number of buckets, then per bucket
//	        uvarint step, varint bucket, uvarint count
//
// Floats are little-endian IEEE 754 bits. The decoder checks every length
// against the bytes left, so a corrupt input cannot make it allocate more
// than a small multiple of its own size.

const (
	codecMagic   = "TQLM"
	codecVersion = 1
)

// MarshalBinary encodes the partial.
func (m *Metrics) MarshalBinary() ([]byte, error) {
	if m.q == nil {
		return nil, ErrNotMetrics
	}
	b := append([]byte(codecMagic), codecVersion)
	b = binary.AppendUvarint(b, uint64(len(m.q.text)))
	b = append(b, m.q.text...)
	b = binary.AppendVarint(b, m.start)
	b = binary.AppendVarint(b, m.end)
	b = binary.AppendVarint(b, m.step)
	keys := make([]string, 0, len(m.series))
	for k := range m.series {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = binary.AppendUvarint(b, uint64(len(keys)))
	fn := m.q.metrics.fn
	for _, k := range keys {
		a := m.series[k]
		for _, l := range a.labels {
			b = appendValue(b, l.Value)
		}
		for _, n := range a.count {
			b = binary.AppendUvarint(b, n)
		}
		switch fn {
		case metricsSum, metricsAvg:
			for i := range a.count {
				b = binary.AppendVarint(b, a.isum[i])
				b = binary.LittleEndian.AppendUint64(b, math.Float64bits(a.fsum[i]))
			}
		case metricsMin, metricsMax:
			vals := a.min
			if fn == metricsMax {
				vals = a.max
			}
			for i, n := range a.count {
				if n > 0 {
					b = binary.LittleEndian.AppendUint64(b, math.Float64bits(vals[i]))
				}
			}
		case metricsQuantile, metricsHistogram:
			hk := make([]histKey, 0, len(a.hist))
			for h := range a.hist {
				hk = append(hk, h)
			}
			slices.SortFunc(hk, func(x, y histKey) int {
				if x.step != y.step {
					return int(x.step) - int(y.step)
				}
				return int(x.bucket) - int(y.bucket)
			})
			b = binary.AppendUvarint(b, uint64(len(hk)))
			for _, h := range hk {
				b = binary.AppendUvarint(b, uint64(h.step))
				b = binary.AppendVarint(b, int64(h.bucket))
				b = binary.AppendUvarint(b, a.hist[h])
			}
		}
	}
	return b, nil
}

// UnmarshalBinary decodes a partial. On a Metrics from NewMetrics the
// bytes must be of the same query and range (ErrIncompatible otherwise);
// on a zero Metrics the query is parsed from the bytes. The decoded
// series replace m's.
func (m *Metrics) UnmarshalBinary(data []byte) error {
	d := decoder{b: data}
	if !strings.HasPrefix(string(d.bytes(len(codecMagic))), codecMagic) {
		return ErrCorrupt
	}
	if v := d.byte(); d.bad || v != codecVersion {
		if d.bad {
			return ErrCorrupt
		}
		return ErrVersion
	}
	text := string(d.bytes(d.length()))
	start, end, step := d.varint(), d.varint(), d.varint()
	if d.bad {
		return ErrCorrupt
	}
	q := m.q
	if q == nil {
		parsed, err := Parse(text)
		if err != nil || !parsed.IsMetrics() || parsed.text != text {
			return ErrCorrupt
		}
		q = parsed
	} else if q.text != text || m.start != start || m.end != end || m.step != step {
		return ErrIncompatible
	}
	fresh, err := q.NewMetrics(start, end, step)
	if err != nil {
		return ErrCorrupt
	}
	nseries := d.length()
	fn := q.metrics.fn
	for s := 0; s < nseries && !d.bad; s++ {
		labels := make([]Attr, len(q.byNames))
		key := []byte(nil)
		for j := range labels {
			v := d.value()
			labels[j] = Attr{Key: q.byNames[j], Value: v}
			key = appendValue(key, v)
		}
		if _, dup := fresh.series[string(key)]; dup || d.bad {
			return ErrCorrupt
		}
		a := fresh.newAccum(labels)
		if d.left() < fresh.n {
			return ErrCorrupt
		}
		for i := range a.count {
			a.count[i] = d.uvarint()
		}
		switch fn {
		case metricsSum, metricsAvg:
			for i := range a.count {
				a.isum[i] = d.varint()
				a.fsum[i] = d.float()
			}
		case metricsMin, metricsMax:
			vals := a.min
			if fn == metricsMax {
				vals = a.max
			}
			for i, n := range a.count {
				if n > 0 {
					vals[i] = d.float()
				}
			}
		case metricsQuantile, metricsHistogram:
			sums := make([]uint64, fresh.n)
			for e, ne := 0, d.length(); e < ne && !d.bad; e++ {
				st, bk, n := d.uvarint(), d.varint(), d.uvarint()
				if st >= uint64(fresh.n) || n == 0 || bk < zeroBucket || bk > 1025 || (bk < -1100 && bk != zeroBucket) {
					return ErrCorrupt
				}
				h := histKey{step: int32(st), bucket: int16(bk)}
				if _, dup := a.hist[h]; dup {
					return ErrCorrupt
				}
				a.hist[h] = n
				sums[st] += n
			}
			if !slices.Equal(sums, a.count) {
				return ErrCorrupt
			}
		}
		fresh.series[string(key)] = a
	}
	if d.bad || d.left() != 0 {
		return ErrCorrupt
	}
	*m = *fresh
	return nil
}

// decoder reads the binary form; any error sets bad and makes every
// later read return zero.
type decoder struct {
	b   []byte
	bad bool
}

func (d *decoder) left() int { return len(d.b) }

func (d *decoder) bytes(n int) []byte {
	if d.bad || n < 0 || n > len(d.b) {
		d.bad = true
		return nil
	}
	out := d.b[:n]
	d.b = d.b[n:]
	return out
}

func (d *decoder) byte() byte {
	if b := d.bytes(1); b != nil {
		return b[0]
	}
	return 0
}

func (d *decoder) uvarint() uint64 {
	if d.bad {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.bad = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.bad {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.bad = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

// length reads a count that cannot exceed the bytes left.
func (d *decoder) length() int {
	v := d.uvarint()
	if v > uint64(len(d.b)) {
		d.bad = true
		return 0
	}
	return int(v)
}

func (d *decoder) float() float64 {
	b := d.bytes(8)
	if b == nil {
		return 0
	}
	return math.Float64frombits(binary.LittleEndian.Uint64(b))
}

// value reads what appendValue wrote.
func (d *decoder) value() Value {
	t := ValueType(d.byte())
	if d.bad {
		return Value{}
	}
	switch t {
	case TypeNil:
		return Value{}
	case TypeString:
		return StringValue(string(d.bytes(d.length())))
	case TypeInt:
		return IntValue(d.varint())
	case TypeFloat:
		return FloatValue(d.float())
	case TypeBool:
		v := d.varint()
		if v != 0 && v != 1 {
			d.bad = true
		}
		return BoolValue(v == 1)
	case TypeDuration, TypeStatus, TypeKind:
		return Value{n: uint64(d.varint()), t: t}
	case TypeStringArray:
		a := make([]string, d.length())
		for i := range a {
			a[i] = string(d.bytes(d.length()))
		}
		return StringArrayValue(a)
	case TypeIntArray:
		a := make([]int64, d.length())
		for i := range a {
			a[i] = d.varint()
		}
		return IntArrayValue(a)
	case TypeFloatArray:
		a := make([]float64, d.length())
		for i := range a {
			a[i] = d.float()
		}
		return FloatArrayValue(a)
	case TypeBoolArray:
		a := make([]bool, d.length())
		for i := range a {
			switch d.byte() {
			case 0:
			case 1:
				a[i] = true
			default:
				d.bad = true
			}
		}
		return BoolArrayValue(a)
	}
	d.bad = true
	return Value{}
}
