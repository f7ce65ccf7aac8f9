package remotewrite

import (
	"errors"
	"testing"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"
)

func fuzzSeeds(f *testing.F) [][]byte {
	rich1 := mustMarshal(f, richContent().v1())
	rich2 := mustMarshal(f, richContent().v2())
	seeds := [][]byte{
		rich1, rich2,
		mustMarshal(f, genContent(5, 3, 9).v1()),
		mustMarshal(f, genContent(5, 3, 9).v2()),
		withHist(f, goodIntHist()),
		pbBytes(nil, 1, v1Series("__name__", "up", "job", "")),
		pbBytes(pbString(nil, 2, "x"), 1, pbBytes(nil, 2, pbSample(1, 2))),
		rich1[:len(rich1)/2],
		{0x0a, 0x05, 0x01},
		{},
	}
	return seeds
}

// FuzzDecode decodes arbitrary protobuf bytes as both versions. It must
// never panic; what it refuses is an *Error; what it accepts, gogo accepts
// too, and converting gogo's result by the same rules gives the same
// WriteRequest. A Decoder that decoded another body first gives the same
// result as a fresh one.
func FuzzDecode(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s, false)
		f.Add(s, true)
	}
	warm := mustMarshal(f, richContent().v1())
	f.Fuzz(func(t *testing.T, data []byte, v2 bool) {
		v := V1
		if v2 {
			v = V2
		}
		got, err := newTestDecoder(t).DecodeProto(data, v)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || !e.ClientFault() {
				t.Fatalf("%v: not a client *Error", err)
			}
			_ = e.Error()
			return
		}
		var (
			wantErr error
			want    = refV1(&prompb.WriteRequest{})
		)
		if v2 {
			var ref writev2.Request
			if wantErr = ref.Unmarshal(data); wantErr == nil {
				want, wantErr = refV2(&ref)
			}
		} else {
			var ref prompb.WriteRequest
			if wantErr = ref.Unmarshal(data); wantErr == nil {
				want = refV1(&ref)
			}
		}
		if wantErr != nil {
			t.Fatalf("decoded, but gogo refuses: %v", wantErr)
		}
		if d := diff(got, want); d != "" {
			t.Fatalf("against gogo: %s", d)
		}
		d := newTestDecoder(t)
		if _, err := d.DecodeProto(warm, V1); err != nil {
			t.Fatal(err)
		}
		again, err := d.DecodeProto(data, v)
		if err != nil {
			t.Fatalf("a reused Decoder refuses what a fresh one took: %v", err)
		}
		if d := diff(again, want); d != "" {
			t.Fatalf("reused Decoder: %s", d)
		}
	})
}

// FuzzDecodeSnappy feeds arbitrary bytes to the snappy layer: no panic, a
// refusal is an *Error, and a small limit is never exceeded.
func FuzzDecodeSnappy(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(snappy.Encode(nil, s))
	}
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	cfg := DefaultConfig()
	cfg.MaxDecodedBytes = 1 << 16
	f.Fuzz(func(t *testing.T, body []byte) {
		d, err := NewDecoder(cfg)
		if err != nil {
			t.Fatal(err)
		}
		_, err = d.Decode(body, V1)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("%v: not an *Error", err)
			}
			return
		}
		if n := d.Stats().DecodedBytes; n > cfg.MaxDecodedBytes {
			t.Fatalf("decoded %d bytes, limit %d", n, cfg.MaxDecodedBytes)
		}
	})
}
