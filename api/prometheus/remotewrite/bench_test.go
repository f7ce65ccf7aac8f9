package remotewrite

import (
	"fmt"
	"testing"
	"time"

	"github.com/golang/snappy"
	ksnappy "github.com/klauspost/compress/snappy"
	"github.com/prometheus/prometheus/prompb"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"
)

// BenchmarkDecode decodes seeded realistic 10,000-sample requests, in the
// two shapes senders produce (1,000 series × 10 samples; 10,000 series × 1,
// Prometheus' usual shape), in both versions, next to gogo's generated
// Unmarshal of the same bytes (alone, and followed by the conversion a
// decoder over it would do) and to the snappy layer alone. ours-proto is
// the steady state of a reused Decoder, ours-proto-copy the same with
// strings copied instead of aliased, ours-fresh-decoder the one-shot Decode
// (snappy included, nothing reused). Each reports ns/sample and
// cpu-ns/sample (process CPU time, the figure to compare on a shared
// machine); allocs/op are per request.
func BenchmarkDecode(b *testing.B) {
	for _, shape := range []struct{ series, per int }{{1000, 10}, {10000, 1}} {
		c := genContent(shape.series, shape.per, 7)
		samples := shape.series * shape.per
		for _, v := range []Version{V1, V2} {
			var raw []byte
			if v == V1 {
				raw = mustMarshal(b, c.v1())
			} else {
				raw = mustMarshal(b, c.v2())
			}
			body := snappy.Encode(nil, raw)
			checkBench(b, raw, v)
			name := fmt.Sprintf("%dx%d/v%d", shape.series, shape.per, v)
			// perSample reports wall and process CPU time per sample; on a
			// shared machine the CPU figure is the one to compare.
			var cpu0 time.Duration
			start := func() { cpu0 = cpuTime() }
			perSample := func(b *testing.B) {
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*samples), "ns/sample")
				b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N*samples), "cpu-ns/sample")
			}
			run := func(sub string, op func() error) {
				b.Run(name+"/"+sub, func(b *testing.B) {
					b.SetBytes(int64(len(raw)))
					b.ReportAllocs()
					for start(); b.Loop(); {
						if err := op(); err != nil {
							b.Fatal(err)
						}
					}
					perSample(b)
				})
			}
			decode := func(d *Decoder, in []byte, proto bool) func() error {
				return func() error {
					var err error
					if proto {
						_, err = d.DecodeProto(in, v)
					} else {
						_, err = d.Decode(in, v)
					}
					return err
				}
			}
			run("ours-proto", decode(newTestDecoder(b), raw, true))
			copying := newTestDecoder(b)
			copying.copyStrings = true
			run("ours-proto-copy", decode(copying, raw, true))
			run("ours-fresh-decoder", func() error { _, err := Decode(body, v, 0); return err })
			run("ours-snappy+proto", decode(newTestDecoder(b), body, false))
			if v == V1 {
				buf := make([]byte, len(raw))
				run("snappy-golang", func() error { _, err := snappy.Decode(buf, body); return err })
				run("snappy-klauspost", func() error { _, err := ksnappy.Decode(buf, body); return err })
			}
			run("gogo-unmarshal", func() error { return gogoUnmarshal(raw, v) })
			run("gogo-unmarshal+convert", func() error {
				if v == V1 {
					var req prompb.WriteRequest
					if err := req.Unmarshal(raw); err != nil {
						return err
					}
					_ = refV1(&req)
					return nil
				}
				var req writev2.Request
				if err := req.Unmarshal(raw); err != nil {
					return err
				}
				_, err := refV2(&req)
				return err
			})
		}
	}
}

func gogoUnmarshal(raw []byte, v Version) error {
	if v == V1 {
		var req prompb.WriteRequest
		return req.Unmarshal(raw)
	}
	var req writev2.Request
	return req.Unmarshal(raw)
}

// checkBench checks the round trip before anything is timed.
func checkBench(b *testing.B, raw []byte, v Version) {
	b.Helper()
	got, err := newTestDecoder(b).DecodeProto(raw, v)
	if err != nil {
		b.Fatal(err)
	}
	var want = refV1(&prompb.WriteRequest{})
	if v == V1 {
		var req prompb.WriteRequest
		if err := req.Unmarshal(raw); err != nil {
			b.Fatal(err)
		}
		want = refV1(&req)
	} else {
		var req writev2.Request
		if err := req.Unmarshal(raw); err != nil {
			b.Fatal(err)
		}
		if want, err = refV2(&req); err != nil {
			b.Fatal(err)
		}
	}
	if d := diff(got, want); d != "" {
		b.Fatal(d)
	}
}
