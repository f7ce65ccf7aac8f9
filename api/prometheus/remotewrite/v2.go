package remotewrite

import (
	"fmt"

	"github.com/starling-otel/starling/storage/tsdb"
)

// Remote write 2.0: io.prometheus.write.v2.Request
// (prompb/io/prometheus/write/v2/types.proto in the Prometheus module).
//
//	Request    { reserved 1 to 3; repeated string symbols = 4; repeated TimeSeries timeseries = 5; }
//	TimeSeries { repeated uint32 labels_refs = 1; repeated Sample samples = 2; repeated Histogram histograms = 3;
//	             repeated Exemplar exemplars = 4; Metadata metadata = 5; reserved 6; }
//	Sample     { double value = 1; int64 timestamp = 2; int64 start_timestamp = 3; }
//	Exemplar   { repeated uint32 labels_refs = 1; double value = 2; int64 timestamp = 3; }
//	Metadata   { MetricType type = 1; uint32 help_ref = 3; uint32 unit_ref = 4; }
//
// Strings are references into symbols. The symbols may come after the
// timeseries in the bytes, so a first pass over the top level collects them
// and the timeseries' positions, and a second decodes the timeseries.

const (
	msgRequest      = "io.prometheus.write.v2.Request"
	msgTimeSeriesV2 = "io.prometheus.write.v2.TimeSeries"
	msgSampleV2     = "io.prometheus.write.v2.Sample"
	msgExemplarV2   = "io.prometheus.write.v2.Exemplar"
	msgMetadataV2   = "io.prometheus.write.v2.Metadata"
)

// metaRefs is a series' Metadata message as sent.
type metaRefs struct {
	typ        int32
	help, unit uint32
}

func (d *Decoder) decodeV2(b []byte) error {
	for i, end := 0, len(b); i < end; {
		at := i
		num, wt, j := tag(b, i, end)
		if j < 0 {
			return d.malformed(at, j, msgRequest)
		}
		switch num {
		case 1, 2, 3:
			return &Error{Kind: ErrWrongVersion, Offset: at, Index: -1, Err: fmt.Errorf(
				"field %d is reserved in %s (a field of %s): was a 1.0 body sent as 2.0?", num, MessageV2, MessageV1)}
		case 4, 5:
			if wt != wtBytes {
				field := "symbols"
				if num == 5 {
					field = "timeseries"
				}
				return d.wrongType(at, msgRequest, num, field, wt, wtBytes)
			}
			s, e := span(b, j, end)
			if s < 0 {
				return d.malformed(j, s, msgRequest)
			}
			if num == 4 {
				d.symbols = append(d.symbols, d.str(b, s, e))
				d.symASCII = append(d.symASCII, isASCII(b[s:e]))
			} else {
				d.spans = append(d.spans, [3]int{at, s, e})
			}
			i = e
		default:
			if i = skip(b, j, end, wt); i < 0 {
				return d.malformed(j, i, msgRequest)
			}
		}
	}
	for _, sp := range d.spans {
		if err := d.seriesV2(b, sp[0], sp[1], sp[2]); err != nil {
			return err
		}
	}
	return nil
}

// seriesV2 decodes the TimeSeries in b[s:e] whose tag is at offset at.
func (d *Decoder) seriesV2(b []byte, at, s, e int) error {
	r := d.beginSeries(at)
	d.refs = d.refs[:0]
	var (
		meta    metaRefs
		problem *Error
	)
	for i := s; i < e; {
		p := i
		num, wt, j := tag(b, i, e)
		if j < 0 {
			return d.malformed(p, j, msgTimeSeriesV2)
		}
		if num > 5 {
			if i = skip(b, j, e, wt); i < 0 {
				return d.malformed(j, i, msgTimeSeriesV2)
			}
			continue
		}
		if num == 1 && wt == wtVarint { // one unpacked reference
			var u uint64
			if u, i = uvarint(b, j, e); i < 0 {
				return d.malformed(j, i, msgTimeSeriesV2)
			}
			d.refs = append(d.refs, uint32(u))
			continue
		}
		if wt != wtBytes {
			return d.wrongType(p, msgTimeSeriesV2, num, [...]string{"", "labels_refs", "samples", "histograms", "exemplars", "metadata"}[num], wt, wtBytes)
		}
		fs, fe := span(b, j, e)
		if fs < 0 {
			return d.malformed(j, fs, msgTimeSeriesV2)
		}
		i = fe
		switch num {
		case 1:
			var code, bad int
			if d.refs, code, bad = appendPackedUint32(d.refs, b, fs, fe); code < 0 {
				return d.malformed(bad, code, msgTimeSeriesV2+".labels_refs")
			}
		case 2:
			smp, err := d.sample(b, fs, fe, msgSampleV2)
			if err != nil {
				return err
			}
			d.samples = append(d.samples, smp)
		case 3:
			if err := d.addHistogram(b, p, fs, fe, true, r.hists[0], &problem); err != nil {
				return err
			}
		case 4:
			if err := d.exemplarV2(b, fs, fe, &problem); err != nil {
				return err
			}
		case 5:
			if err := d.metadataV2(b, fs, fe, &meta); err != nil {
				return err
			}
		}
	}
	ascii, rerr := d.refLabels(d.refs, &d.labels, "labels_refs")
	if rerr != nil {
		return rerr // the labels are not known: the error names the series by index
	}
	if problem == nil {
		problem = d.checkMetaRefs(meta)
	}
	name, err := d.endSeries(&r, problem, ascii)
	if err != nil {
		return err
	}
	return d.addMetadataV2(at, name, meta)
}

// refLabels appends the labels that refs (name, value, name, value, …)
// reference to *dst; ascii reports that all their strings are ASCII.
func (d *Decoder) refLabels(refs []uint32, dst *[]tsdb.Label, field string) (ascii bool, _ *Error) {
	if len(refs)%2 != 0 {
		return false, d.invalid(ErrInvalidReference, "%s has an odd length %d", field, len(refs))
	}
	n := uint32(len(d.symbols))
	ascii = true
	for k := 0; k+1 < len(refs); k += 2 {
		name, value := refs[k], refs[k+1]
		if name >= n || value >= n {
			return false, d.invalid(ErrInvalidReference, "%s %d (name) = %d (value) outside of the symbols table (size %d)", field, name, value, n)
		}
		ascii = ascii && d.symASCII[name] && d.symASCII[value]
		*dst = append(*dst, tsdb.Label{Name: d.symbols[name], Value: d.symbols[value]})
	}
	return ascii, nil
}

// exemplarV2 decodes an Exemplar in b[i:end]. A bad reference is a problem
// of the series (*problem), reported once the series' labels are known.
func (d *Decoder) exemplarV2(b []byte, i, end int, problem **Error) error {
	d.exRefs = d.exRefs[:0]
	var v float64
	var t uint64
	for i < end {
		p := i
		num, wt, j := tag(b, i, end)
		if j < 0 {
			return d.malformed(p, j, msgExemplarV2)
		}
		switch {
		case num == 1 && wt == wtVarint:
			var u uint64
			u, i = uvarint(b, j, end)
			d.exRefs = append(d.exRefs, uint32(u))
		case num == 1:
			if wt != wtBytes {
				return d.wrongType(p, msgExemplarV2, num, "labels_refs", wt, wtBytes)
			}
			s, e := span(b, j, end)
			if s < 0 {
				return d.malformed(j, s, msgExemplarV2)
			}
			var code, bad int
			if d.exRefs, code, bad = appendPackedUint32(d.exRefs, b, s, e); code < 0 {
				return d.malformed(bad, code, msgExemplarV2+".labels_refs")
			}
			i = e
		case num == 2:
			if wt != wtFixed64 {
				return d.wrongType(p, msgExemplarV2, num, "value", wt, wtFixed64)
			}
			v, i = double(b, j, end)
		case num == 3:
			if wt != wtVarint {
				return d.wrongType(p, msgExemplarV2, num, "timestamp", wt, wtVarint)
			}
			t, i = uvarint(b, j, end)
		default:
			i = skip(b, j, end, wt)
		}
		if i < 0 {
			return d.malformed(j, i, msgExemplarV2)
		}
	}
	l0 := len(d.exLabels)
	if _, err := d.refLabels(d.exRefs, &d.exLabels, "exemplar labels_refs"); err != nil {
		d.exLabels = d.exLabels[:l0]
		if *problem == nil {
			*problem = err
		}
		return nil
	}
	d.endExemplar(l0, v, int64(t))
	return nil
}

// metadataV2 decodes a Metadata in b[i:end] into m; a field sent twice, or
// a message sent twice, overwrites the earlier value as protobuf merges it.
func (d *Decoder) metadataV2(b []byte, i, end int, m *metaRefs) error {
	for i < end {
		p := i
		num, wt, j := tag(b, i, end)
		if j < 0 {
			return d.malformed(p, j, msgMetadataV2)
		}
		if num == 1 || num == 3 || num == 4 {
			if wt != wtVarint {
				return d.wrongType(p, msgMetadataV2, num, [...]string{"", "type", "", "help_ref", "unit_ref"}[num], wt, wtVarint)
			}
			var u uint64
			u, i = uvarint(b, j, end)
			switch num {
			case 1:
				m.typ = int32(u)
			case 3:
				m.help = uint32(u)
			default:
				m.unit = uint32(u)
			}
		} else {
			i = skip(b, j, end, wt)
		}
		if i < 0 {
			return d.malformed(j, i, msgMetadataV2)
		}
	}
	return nil
}

// checkMetaRefs returns an error when a metadata reference is outside the
// symbols table (as Prometheus, also when no metadata was sent and the table
// is empty; a series with a name has a table).
func (d *Decoder) checkMetaRefs(m metaRefs) *Error {
	n := uint32(len(d.symbols))
	switch {
	case m.unit >= n:
		return d.invalid(ErrInvalidReference, "metadata unit_ref %d outside of the symbols table (size %d)", m.unit, n)
	case m.help >= n:
		return d.invalid(ErrInvalidReference, "metadata help_ref %d outside of the symbols table (size %d)", m.help, n)
	}
	return nil
}

// addMetadataV2 records the metadata of a series named name as its family's,
// unless it is empty (no type, help or unit) or the family has some already
// (the first series wins).
func (d *Decoder) addMetadataV2(at int, name string, m metaRefs) error {
	md := tsdb.Metadata{Type: metricType(m.typ), Help: d.symbols[m.help], Unit: d.symbols[m.unit]}
	if m.typ == 0 && md.Help == "" && md.Unit == "" {
		return nil
	}
	md.Family = familyOf(name, md.Type)
	if _, ok := d.families[md.Family]; ok {
		return nil
	}
	if err := checkMetadata(md); err != nil {
		return &Error{Kind: ErrInvalidMetadata, Offset: at, Index: d.next - 1, Err: err}
	}
	d.families[md.Family] = struct{}{}
	d.meta = append(d.meta, md)
	return nil
}
