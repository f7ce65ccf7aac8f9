package remotewrite

import (
	"errors"
	"fmt"
)

// Version is the remote write protocol version of a body, which the HTTP
// handler takes from the proto parameter of its Content-Type (VersionOf).
type Version int

const (
	// V1 is remote write 1.0: a prometheus.WriteRequest.
	V1 Version = 1
	// V2 is remote write 2.0: an io.prometheus.write.v2.Request.
	V2 Version = 2
)

// Protobuf message names as the Content-Type's proto parameter names them.
const (
	MessageV1 = "prometheus.WriteRequest"
	MessageV2 = "io.prometheus.write.v2.Request"
)

// String returns the message name of the version.
func (v Version) String() string {
	switch v {
	case V1:
		return MessageV1
	case V2:
		return MessageV2
	}
	return fmt.Sprintf("Version(%d)", int(v))
}

// VersionOf returns the version whose message the proto parameter of a
// Content-Type names; "" (no parameter) is V1, as the specification says.
func VersionOf(proto string) (Version, error) {
	switch proto {
	case "", MessageV1:
		return V1, nil
	case MessageV2:
		return V2, nil
	}
	return 0, fmt.Errorf("remote write: unknown protobuf message %q (want %s or %s)", proto, MessageV1, MessageV2)
}

// Config sets the bounds of a Decoder.
type Config struct {
	// MaxDecodedBytes bounds the decompressed size of one body, in bytes. A
	// body whose snappy header announces more is refused before anything is
	// allocated. Prometheus and client_golang use 32 MiB; a 10,000-sample
	// request is about 0.5–1.5 MiB decoded.
	MaxDecodedBytes int

	// MaxRetainedBytes bounds each buffer the Decoder keeps between calls
	// (the decompressed body, the label and sample arenas), in bytes. A
	// buffer grown beyond it by an unusually large request is dropped at the
	// next Decode or Reset instead of being held by an idle Decoder. Larger
	// values save allocations for steady large requests; smaller ones save
	// memory per idle Decoder.
	MaxRetainedBytes int
}

// DefaultConfig returns the bounds Prometheus uses: 32 MiB decoded, and
// buffers of up to 8 MiB kept for reuse.
func DefaultConfig() Config {
	return Config{
		MaxDecodedBytes:  32 << 20,
		MaxRetainedBytes: 8 << 20,
	}
}

// Validate returns an error naming the first field out of range.
func (c Config) Validate() error {
	switch {
	case c.MaxDecodedBytes <= 0:
		return errors.New("remotewrite: MaxDecodedBytes must be positive")
	case c.MaxDecodedBytes > 1<<30:
		return fmt.Errorf("remotewrite: MaxDecodedBytes %d is more than 1 GiB", c.MaxDecodedBytes)
	case c.MaxRetainedBytes < 0:
		return errors.New("remotewrite: MaxRetainedBytes must not be negative")
	}
	return nil
}
