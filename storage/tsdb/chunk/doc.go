// Package chunk owns Starling's on-disk chunk encodings: it turns the samples
// of one series (a few hundred to 65535 of them) into a byte slice and back.
//
// It knows samples only: int64 millisecond timestamps, float64 values and
// Prometheus native histograms. It must not know about Badger, keys, series
// identity, labels, windows or partitions; package storage/tsdb decides which
// samples go into a chunk and where the bytes are kept.
//
// # Who calls what
//
//   - The head flush / compactor cuts chunks and calls [AppendFloats],
//     [AppendHistograms] or [AppendFloatHistograms] (or the [Encoder] methods
//     of the same names to reuse scratch memory). The caller guarantees
//     1 ≤ n ≤ [MaxSamples] and strictly increasing timestamps; breaking that
//     is a bug in the caller and panics with a "BUG:" message.
//   - Queriers read chunks with an [Iterator] (one per goroutine, reused for
//     many chunks with [Iterator.Reset]) or decode float chunks in bulk with
//     [Decoder.DecodeFloats].
//   - Planners and the index read [ReadMeta], [EncodingOf], [NumSamples] and
//     [TimeRange], which parse only the small header.
//
// Every function is safe for concurrent use on distinct or shared immutable
// chunks. An [Encoder], [Decoder] or [Iterator] must be used by one goroutine
// at a time. Chunk bytes are never modified by this package.
//
// Any byte slice may be handed to the decoding functions: corrupt or
// truncated input yields an error wrapping [ErrCorrupt], never a panic.
//
// # Format
//
// Fixed-width integers are little-endian; "uvarint" and "varint" are
// encoding/binary's unsigned and zig-zag signed varints; packed slots fill
// bytes from the lowest bit, the XOR bit stream from the highest (as
// Gorilla and chunkenc do). Arithmetic on timestamps and int blocks is
// modulo 2^64, so any strictly increasing int64 sequence round-trips. A
// chunk is:
//
//	byte     encoding id (table below)
//	uvarint  n, the number of samples, 1 ≤ n ≤ 65535
//	varint   minT, the first timestamp
//	uvarint  maxT − minT (0 when n = 1)
//	...      body, by encoding id, extending exactly to the end of the slice
//
// The header is nearly free: minT is the first timestamp every timestamp
// coding needs anyway, and maxT replaces the last timestamp residual, so
// TimeRange and NumSamples cost a few varint reads and no decoding.
//
// Encoding ids are a versioned disk format: a byte value, once defined, keeps
// its meaning forever; new codings get new values.
//
//	0x00  reserved, never written (zeroed memory must not decode)
//	0x01  FloatConst     ts block, then 8 bytes: the value all samples share (bit-identical)
//	0x02  FloatInt       ts block, then an integer value block (values are exact integers)
//	0x03  FloatDecimal   ts block, then byte k (1..18) and an integer value block of
//	                     v·10^k; decoded as float64(m)/10^k, verified bit-exact on encode
//	0x04  FloatXOR       ts block, then Gorilla XOR bits (any float64 values)
//	0x05  FloatPlain     ts block, then n × 8 bytes of raw float64 bits
//	0x06  Histogram      uvarint parts, then per part: uvarint len, len bytes of a
//	                     Prometheus chunkenc.HistogramChunk (its own 3-byte header included)
//	0x07  FloatHistogram as 0x06 with chunkenc.FloatHistogramChunk parts
//	0x08  FloatBits      ts block, then a differenced integer block (below, without
//	                     patches) of the values' bit patterns as ordered integers
//	0x09  FloatPromXOR   a Prometheus chunkenc.XORChunk's bytes (2-byte count, then the
//	                     stream), no ts block: a head's chunk sent to a query as it is
//	0x0a…0xff reserved
//
// A ts block (float encodings) starts with a kind byte; n ≤ 2 is always
// regular:
//
//	0x00  regular: t_i = minT + i·(maxT−minT)/(n−1); nothing follows
//	0x01  delta:   int block of the n−2 deltas t_i − t_{i−1}, i = 1..n−2 (the last is implied by maxT)
//	0x02  grid:    uvarint step, then int block of the n−2 residuals t_i − (minT + i·step)
//
// Regular costs nothing at exact scrape intervals; with ±j ms of jitter,
// grid costs about log2(2j)+1 bits a sample and delta one bit more, but
// delta turns a missed scrape into a single int block exception where grid
// shifts every later sample (timestamps.go has the details; the encoder
// sizes both and keeps the smaller).
//
// An integer value block (FloatInt, FloatDecimal) is:
//
//	uvarint  p, number of patches; p × (uvarint gap, 8 bytes raw float64 bits):
//	         samples whose values are not representable (NaN, ±Inf, −0, too many
//	         digits) at positions pos_0 = gap_0, pos_j = pos_{j−1} + 1 + gap_j
//	byte     order d (0..2): the integers m_i were differenced d times
//	d ×      varint seed (the first d values of the differenced sequence)
//	         int block of the remaining n − d differenced values
//
// The integer at a patched position repeats the previous integer, so patches
// do not disturb the differences.
//
// An int block holds c integers (c is known from context; c = 0 means an
// empty block of zero bytes) and starts with a kind byte:
//
//	0x00  FOR unsigned: varint base, byte w (0..64), uvarint e, ⌈c·w/8⌉ bytes of
//	      w-bit slots packed LSB-first holding v − base, then e exceptions
//	      (uvarint gap, uvarint zigzag(v − base)) that replace their slot
//	0x01  FOR zig-zag: as 0x00 but slots hold zigzag(v − base)
//	0x02  varint: varint base, then c × uvarint zigzag(v − base)
//	0x10|k  kind k scaled: after the base comes uvarint g ≥ 2, and every offset
//	      above (slots, exceptions, varints) is (v − base)/g
//
// Scaling catches common factors XOR gets for free through trailing zero
// bits: page-sized byte counts, timestamps of second precision, decimals
// whose last digit is always 0.
//
// FloatBits maps each value's bits b to an int64 ordered as the floats are
// (b when the sign bit is clear, −(b without its sign bit) − 1 when set; a
// bijection, −0 and NaN payloads kept) and stores those integers as the
// integer value block does: byte order d, d seeds, the int block. Within
// one binary exponent the map is linear, so a full-precision counter of
// seconds becomes small increments (order 1) and a hovering gauge a narrow
// band of levels (order 0), with none of XOR's per-sample control bits:
// 20 % smaller than XOR on sums of durations, 6 % on noisy gauges
// (BenchmarkFloats, seconds-counter and gauge-float).
//
// The encoder computes every candidate's exact or near-exact size and keeps
// the smallest: constant, integer or decimal (orders 0..2, the three int
// block kinds, the best slot width), bits, XOR, plain. Plain wins only where XOR
// would exceed 8 bytes a sample. Storing plain whenever XOR saves less than
// 10 % (VictoriaMetrics' rule) was measured and rejected: on hard float
// gauges it made chunks 1 % larger on disk, as ZSTD gains nothing on raw
// float bytes either.
//
// Histogram chunks reuse Prometheus' chunkenc encodings. When chunkenc cannot
// append a histogram to the current part (schema or zero threshold change,
// counter reset, custom bounds change, a stale marker followed by a sample,
// gauge/counter switch), the encoder starts a new part inside the same
// Starling chunk, so AppendHistograms always encodes every sample it is
// given. Bucket layouts are merged before appending, so chunkenc never has
// to re-encode a part when new buckets appear. The iterator reports
// CounterReset for the first sample of a part cut by a counter reset
// (chunkenc alone says UnknownCounterReset there, as it cannot know that
// the previous chunk is adjacent; inside one Starling chunk it is).
package chunk
