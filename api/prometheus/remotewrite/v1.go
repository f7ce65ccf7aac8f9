package remotewrite

import (
	"fmt"

	"github.com/starling-otel/starling/storage/tsdb"
)

// Remote write 1.0: prometheus.WriteRequest (prompb/remote.proto,
// prompb/types.proto in the Prometheus module).
//
//	WriteRequest   { repeated TimeSeries timeseries = 1; reserved 2; repeated MetricMetadata metadata = 3; }
//	TimeSeries     { repeated Label labels = 1; repeated Sample samples = 2; repeated Exemplar exemplars = 3; repeated Histogram histograms = 4; }
//	Label          { string name = 1; string value = 2; }
//	Sample         { double value = 1; int64 timestamp = 2; }
//	Exemplar       { repeated Label labels = 1; double value = 2; int64 timestamp = 3; }
//	MetricMetadata { MetricType type = 1; string metric_family_name = 2; string help = 4; string unit = 5; }

const (
	msgWriteRequest = "prometheus.WriteRequest"
	msgTimeSeries   = "prometheus.TimeSeries"
	msgLabel        = "prometheus.Label"
	msgSample       = "prometheus.Sample"
	msgExemplar     = "prometheus.Exemplar"
	msgMetadata     = "prometheus.MetricMetadata"
)

func (d *Decoder) decodeV1(b []byte) error {
	for i, end := 0, len(b); i < end; {
		at := i
		num, wt, j := tag(b, i, end)
		if j < 0 {
			return d.malformed(at, j, msgWriteRequest)
		}
		switch num {
		case 1, 3:
			if wt != wtBytes {
				field := "timeseries"
				if num == 3 {
					field = "metadata"
				}
				return d.wrongType(at, msgWriteRequest, num, field, wt, wtBytes)
			}
			s, e := span(b, j, end)
			if s < 0 {
				return d.malformed(j, s, msgWriteRequest)
			}
			var err error
			if num == 1 {
				err = d.seriesV1(b, at, s, e)
			} else {
				err = d.metadataV1(b, at, s, e)
			}
			if err != nil {
				return err
			}
			i = e
		case 4, 5:
			return &Error{Kind: ErrWrongVersion, Offset: at, Index: -1, Err: fmt.Errorf(
				"field %d is a field of %s (symbols or timeseries), not of %s: was a 2.0 body sent as 1.0?", num, MessageV2, MessageV1)}
		default:
			if i = skip(b, j, end, wt); i < 0 {
				return d.malformed(j, i, msgWriteRequest)
			}
		}
	}
	return nil
}

// seriesV1 decodes the TimeSeries in b[s:e] whose tag is at offset at.
func (d *Decoder) seriesV1(b []byte, at, s, e int) error {
	r := d.beginSeries(at)
	var problem *Error
	ascii := true
	for i := s; i < e; {
		p := i
		num, wt, j := tag(b, i, e)
		if j < 0 {
			return d.malformed(p, j, msgTimeSeries)
		}
		if num > 4 {
			if i = skip(b, j, e, wt); i < 0 {
				return d.malformed(j, i, msgTimeSeries)
			}
			continue
		}
		if wt != wtBytes {
			return d.wrongType(p, msgTimeSeries, num, [...]string{"", "labels", "samples", "exemplars", "histograms"}[num], wt, wtBytes)
		}
		fs, fe := span(b, j, e)
		if fs < 0 {
			return d.malformed(j, fs, msgTimeSeries)
		}
		i = fe
		switch num {
		case 1:
			l, a, err := d.label(b, fs, fe, msgLabel)
			if err != nil {
				return err
			}
			d.labels = append(d.labels, l)
			ascii = ascii && a
		case 2:
			smp, err := d.sample(b, fs, fe, msgSample)
			if err != nil {
				return err
			}
			d.samples = append(d.samples, smp)
		case 3:
			if err := d.exemplarV1(b, fs, fe); err != nil {
				return err
			}
		case 4:
			if err := d.addHistogram(b, p, fs, fe, false, r.hists[0], &problem); err != nil {
				return err
			}
		}
	}
	_, err := d.endSeries(&r, problem, ascii)
	return err
}

// label decodes a Label in b[i:end]; ascii reports that its name and value
// are known to be ASCII (false: not known).
func (d *Decoder) label(b []byte, i, end int, msg string) (l tsdb.Label, ascii bool, err error) {
	// Fast path: name then value, each shorter than 128 bytes, as senders
	// encode them.
	if end-i >= 4 && b[i] == 1<<3|wtBytes {
		if n := int(b[i+1]); n < 0x80 && i+2+n+2 <= end && b[i+2+n] == 2<<3|wtBytes {
			vs := i + 4 + n
			if m := int(b[vs-1]); m < 0x80 && vs+m == end {
				// Tags and one-byte lengths are ASCII: one check covers both strings.
				return tsdb.Label{Name: d.str(b, i+2, i+2+n), Value: d.str(b, vs, end)}, isASCII(b[i:end]), nil
			}
		}
	}
	for i < end {
		p := i
		num, wt, j := tag(b, i, end)
		if j < 0 {
			return l, false, d.malformed(p, j, msg)
		}
		if num != 1 && num != 2 {
			if i = skip(b, j, end, wt); i < 0 {
				return l, false, d.malformed(j, i, msg)
			}
			continue
		}
		if wt != wtBytes {
			return l, false, d.wrongType(p, msg, num, [...]string{"", "name", "value"}[num], wt, wtBytes)
		}
		s, e := span(b, j, end)
		if s < 0 {
			return l, false, d.malformed(j, s, msg)
		}
		if num == 1 {
			l.Name = d.str(b, s, e)
		} else {
			l.Value = d.str(b, s, e)
		}
		i = e
	}
	return l, false, nil
}

// sample decodes a Sample of either version in b[i:end] (2.0's
// start_timestamp, field 3, is checked and dropped).
func (d *Decoder) sample(b []byte, i, end int, msg string) (tsdb.Sample, error) {
	// Fast path: value then timestamp, as every sender encodes them.
	if end-i >= 11 && b[i] == 1<<3|wtFixed64 && b[i+9] == 2<<3|wtVarint {
		v, _ := double(b, i+1, end)
		t, j := uvarint(b, i+10, end)
		if j == end {
			return tsdb.Sample{T: int64(t), V: v}, nil
		}
	}
	return d.sampleSlow(b, i, end, msg)
}

func (d *Decoder) sampleSlow(b []byte, i, end int, msg string) (tsdb.Sample, error) {
	var smp tsdb.Sample
	v2 := msg == msgSampleV2
	for i < end {
		p := i
		num, wt, j := tag(b, i, end)
		if j < 0 {
			return smp, d.malformed(p, j, msg)
		}
		switch {
		case num == 1:
			if wt != wtFixed64 {
				return smp, d.wrongType(p, msg, num, "value", wt, wtFixed64)
			}
			smp.V, i = double(b, j, end)
		case num == 2 || num == 3 && v2:
			if wt != wtVarint {
				return smp, d.wrongType(p, msg, num, [...]string{"", "", "timestamp", "start_timestamp"}[num], wt, wtVarint)
			}
			var t uint64
			t, i = uvarint(b, j, end)
			if num == 2 {
				smp.T = int64(t)
			}
		default:
			i = skip(b, j, end, wt)
		}
		if i < 0 {
			return smp, d.malformed(j, i, msg)
		}
	}
	return smp, nil
}

// exemplarV1 decodes an Exemplar in b[i:end].
func (d *Decoder) exemplarV1(b []byte, i, end int) error {
	l0 := len(d.exLabels)
	var v float64
	var t uint64
	for i < end {
		p := i
		num, wt, j := tag(b, i, end)
		if j < 0 {
			return d.malformed(p, j, msgExemplar)
		}
		switch num {
		case 1:
			if wt != wtBytes {
				return d.wrongType(p, msgExemplar, num, "labels", wt, wtBytes)
			}
			s, e := span(b, j, end)
			if s < 0 {
				return d.malformed(j, s, msgExemplar)
			}
			l, _, err := d.label(b, s, e, msgLabel)
			if err != nil {
				return err
			}
			d.exLabels = append(d.exLabels, l)
			i = e
		case 2:
			if wt != wtFixed64 {
				return d.wrongType(p, msgExemplar, num, "value", wt, wtFixed64)
			}
			v, i = double(b, j, end)
		case 3:
			if wt != wtVarint {
				return d.wrongType(p, msgExemplar, num, "timestamp", wt, wtVarint)
			}
			t, i = uvarint(b, j, end)
		default:
			i = skip(b, j, end, wt)
		}
		if i < 0 {
			return d.malformed(j, i, msgExemplar)
		}
	}
	d.endExemplar(l0, v, int64(t))
	return nil
}

// metadataV1 decodes the MetricMetadata in b[i:end] whose tag is at offset
// at; one without a family name is skipped.
func (d *Decoder) metadataV1(b []byte, at, i, end int) error {
	var m tsdb.Metadata
	var typ uint64
	for i < end {
		p := i
		num, wt, j := tag(b, i, end)
		if j < 0 {
			return d.malformed(p, j, msgMetadata)
		}
		switch num {
		case 1:
			if wt != wtVarint {
				return d.wrongType(p, msgMetadata, num, "type", wt, wtVarint)
			}
			typ, i = uvarint(b, j, end)
		case 2, 4, 5:
			if wt != wtBytes {
				return d.wrongType(p, msgMetadata, num, [...]string{"", "", "metric_family_name", "", "help", "unit"}[num], wt, wtBytes)
			}
			s, e := span(b, j, end)
			if s < 0 {
				return d.malformed(j, s, msgMetadata)
			}
			switch num {
			case 2:
				m.Family = d.str(b, s, e)
			case 4:
				m.Help = d.str(b, s, e)
			default:
				m.Unit = d.str(b, s, e)
			}
			i = e
		default:
			i = skip(b, j, end, wt)
		}
		if i < 0 {
			return d.malformed(j, i, msgMetadata)
		}
	}
	if m.Family == "" {
		return nil
	}
	m.Type = metricType(int32(typ))
	if err := checkMetadata(m); err != nil {
		return &Error{Kind: ErrInvalidMetadata, Offset: at, Index: -1, Err: err}
	}
	d.meta = append(d.meta, m)
	return nil
}
