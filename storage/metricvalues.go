package storage

import (
	"math"

	"github.com/starling-otel/starling/storage/tsdb"
)

// Value encodings of metric keys (versioned by their first byte).
//
//	series    [2][labels uvarint] labels × ([name][value])            strings: [len uvarint][bytes]
//	metadata  [1][type][help][unit]
//	exemplar  [1][value fixed64][labels uvarint] labels × ([name][value])
const (
	seriesFormat   byte = 2 // 1 was the OTLP series definition of entry format 1
	metadataFormat byte = 1
	exemplarFormat byte = 1
)

func appendLabels(dst []byte, ls []tsdb.Label) []byte {
	dst = appendUvarint(dst, uint64(len(ls)))
	for _, l := range ls {
		dst = appendString(dst, l.Name)
		dst = appendString(dst, l.Value)
	}
	return dst
}

func (d *decoder) labels() []tsdb.Label {
	n := d.count(2)
	ls := make([]tsdb.Label, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		ls = append(ls, tsdb.Label{Name: d.string(), Value: d.string()})
	}
	return ls
}

func encodeSeriesDef(dst []byte, ls []tsdb.Label) []byte {
	return appendLabels(append(dst, seriesFormat), ls)
}

// decodeSeriesDef returns the labels of a series definition.
func decodeSeriesDef(v []byte) ([]tsdb.Label, error) {
	d := decoder{b: v}
	if d.byte() != seriesFormat {
		return nil, ErrUnknownFormat
	}
	ls := d.labels()
	return ls, d.done()
}

func encodeMetadata(dst []byte, m tsdb.Metadata) []byte {
	dst = append(dst, metadataFormat)
	dst = appendString(dst, string(m.Type))
	dst = appendString(dst, m.Help)
	return appendString(dst, m.Unit)
}

func decodeMetadata(family string, v []byte) (tsdb.Metadata, error) {
	d := decoder{b: v}
	if d.byte() != metadataFormat {
		return tsdb.Metadata{}, ErrUnknownFormat
	}
	m := tsdb.Metadata{Family: family, Type: tsdb.MetricType(d.string()), Help: d.string(), Unit: d.string()}
	return m, d.done()
}

func encodeExemplar(dst []byte, e tsdb.Exemplar) []byte {
	dst = append(dst, exemplarFormat)
	dst = appendFixed64(dst, math.Float64bits(e.V))
	return appendLabels(dst, e.Labels)
}

func decodeExemplar(v []byte) (tsdb.Exemplar, error) {
	d := decoder{b: v}
	if d.byte() != exemplarFormat {
		return tsdb.Exemplar{}, ErrUnknownFormat
	}
	e := tsdb.Exemplar{V: d.float64(), HasT: true}
	e.Labels = d.labels()
	return e, d.done()
}
