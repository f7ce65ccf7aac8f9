// Package remotewrite owns the Prometheus remote write wire formats: it turns
// the body of a remote write request (snappy block format around a
// protobuf prometheus.WriteRequest, remote write 1.0, or
// io.prometheus.write.v2.Request, remote write 2.0) into a
// tsdb.WriteRequest, and refuses what is not valid with an *Error that names
// the series, the reason and, for bytes that do not decode, the byte offset.
//
// It must not know storage, HTTP handling or actors: the HTTP handler reads
// the body, picks the Version from the Content-Type (VersionOf), calls a
// Decoder and answers 400 for an *Error; the storage builder writes the
// result.
//
// The protobuf is decoded by hand over the wire helpers in wire.go, in one
// pass for 1.0 (two for 2.0: symbols first), with no generated code on the
// hot path. Strings (label names and values, metadata) alias the
// decompressed buffer (unsafe.String) instead of being copied: a
// WriteRequest is valid until the next Decode or Reset of its Decoder, and a
// caller copies what it keeps. Slices come from arenas the Decoder reuses.
//
// # What is checked, and how it compares with Prometheus 3.16
//
// Prometheus' receiver (storage/remote/write_handler.go and client_golang's
// exp/api/remote handler) is the reference. Starling refuses the whole
// request on the first bad series, so nothing of a bad request is
// half-written; Prometheus skips a bad 1.0 series (and still answers 204)
// and answers 400 after writing the rest of a 2.0 request.
//
//   - Snappy: the body must be snappy block format; its decoded length is
//     checked against Config.MaxDecodedBytes before anything is allocated
//     (Prometheus: the same, 32 MiB). Both are 400s.
//   - Protobuf: truncated or malformed bytes, a known field with a wire type
//     other than its own, field number 0, and varints longer than 10 bytes
//     are refused, with the byte offset, as gogo's generated Unmarshal
//     refuses them. Stricter than gogo: group wire types (3, 4) even in
//     unknown fields, packed doubles whose length is not a multiple of 8 and
//     packed varints running past their field (gogo reads on into the next
//     field), a 10-byte varint overflowing 64 bits, field numbers above
//     2^29-1, and the top-level fields of the other version (a 2.0 body sent
//     as 1.0 decodes as an empty request in Prometheus and is silently
//     lost; here it is a 400 that says so).
//   - Labels: sorted by name when the sender did not sort them, then
//     tsdb.ValidateLabels (non-empty __name__, names non-empty, names and
//     values valid UTF-8, no name twice, size limits), then labels with an
//     empty value are dropped (tsdb.DropEmpty), as the Prometheus head does.
//     Duplicates are found before empty values are dropped, as in
//     Prometheus. Prometheus has no size limits; Starling's (tsdb.MaxLabels,
//     MaxLabelNameLen, MaxLabelValueLen) are stricter.
//   - Samples: any float64 is kept bit for bit: NaN, ±Inf and the staleness
//     marker tsdb.StaleNaN. Times are not checked here (the writer checks
//     retention and the future bound, as Prometheus' appender does).
//   - A series with no samples, histograms or exemplars is skipped after its
//     labels are checked, in both versions. Prometheus 1.0 appends nothing
//     for it; Prometheus 2.0 answers 400 (the 2.0 spec requires one sample,
//     histogram or exemplar). Starling is more lenient there: refusing would
//     lose the whole request. A series with exemplars only is kept (both
//     Prometheus senders send exemplars that way); Prometheus 2.0 refuses it.
//   - Exemplars: labels sorted, empty values dropped, then
//     tsdb.ValidateExemplarLabels; an invalid exemplar is dropped, never
//     fails the request (as in Prometheus). HasT is timestamp != 0.
//   - Native histograms: decoded by hand into histogram.Histogram (integer
//     counts) or FloatHistogram; schemas 9..52 are reduced to 8 as
//     Prometheus' handler does (after checking that the spans need as many
//     buckets as were sent: the reduction silently drops extra ones), then
//     Validate. Stricter than Prometheus: float counts (count, zero count,
//     buckets) must be finite, the zero threshold a non-negative number, the
//     reset hint one of 0..3, and a histogram mixing integer and float
//     fields (count_int with zero_count_float, deltas in a float histogram,
//     …) is refused where Prometheus ignores the fields of the other kind.
//   - Metadata: 1.0 metadata is kept per family as sent (Prometheus 3.16's
//     receiver ignores it); entries without a family name are skipped. 2.0
//     metadata is per series and becomes one tsdb.Metadata per family (see
//     familyOf), first series wins. Help, unit and family must be valid
//     UTF-8 (Prometheus does not check); a type number this package does not
//     know is "unknown", as in Prometheus.
//   - 2.0 symbol references: an odd labels_refs, or a reference outside the
//     symbols table, is a 400 as in Prometheus. The spec's "symbols[0] is the
//     empty string" is not enforced (nor is it by Prometheus).
//   - 2.0 start timestamps (Sample.start_timestamp, Histogram
//     .start_timestamp) are decoded and dropped: tsdb.Sample has no field
//     for them.
package remotewrite
