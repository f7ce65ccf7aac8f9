package storage

import (
	"sort"

	"github.com/cespare/xxhash/v2"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/starling-otel/starling/proto/starlingpb"
)

// maxWordsPerLog bounds the body words indexed per log record; words past
// the first maxWordsPerLog are stored but not searchable.
const maxWordsPerLog = 1024

type logRef struct {
	partition uint32
	time      uint64
	hash      uint64
	res       int
	val       [2]int // value range in the scratch buffer
	lr        plog.LogRecord
}

// Logs turns a logs request into partition batches: per record its value,
// one posting per term (service, body words, attributes, severity
// shortcuts) and the resource record it refers to.
//
// A record's time is its timestamp, else its observed timestamp, else now.
func (b *Builder) Logs(ld plog.Logs) BuildResult {
	now := b.now()
	var r BuildResult
	var res []indexedResource
	var refs []logRef
	var scratch []byte
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		sls := rl.ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			sl := sls.At(j)
			resIdx := -1
			lrs := sl.LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				lr := lrs.At(k)
				t := uint64(lr.Timestamp())
				if t == 0 {
					t = uint64(lr.ObservedTimestamp())
				}
				if t == 0 {
					t = uint64(now.UnixNano())
				}
				if sev := lr.SeverityNumber(); sev < 0 || sev > 24 {
					r.reject(ReasonInvalid, "resourceLogs[%d].scopeLogs[%d].logRecords[%d].severityNumber: %d is outside 0..24", i, j, k, sev)
					continue
				}
				if reason := b.timeCheck(starlingpb.Signal_SIGNAL_LOGS, t, now); reason != "" {
					r.reject(reason, "resourceLogs[%d].scopeLogs[%d].logRecords[%d].timeUnixNano: %s", i, j, k, timeProblem(reason))
					continue
				}
				r.saw(t)
				if resIdx < 0 {
					res = append(res, b.indexResource(rl.Resource(), rl.SchemaUrl(), sl.Scope(), sl.SchemaUrl()))
					resIdx = len(res) - 1
				}
				rr := &res[resIdx]
				start := len(scratch)
				var bs, be int
				scratch, bs, be = encodeLog(scratch, rr.ref, lr)
				val := scratch[start:]
				var rb xxhash.Digest
				rb.Reset()
				_, _ = rb.Write(val[1:9]) // resource ref
				_, _ = rb.Write(val[bs:be])
				refs = append(refs, logRef{
					partition: PartitionOf(LogHash(rr.service, lr.TraceID(), rb.Sum64()), b.cfg.Partitions),
					time:      t, hash: logContentHash(val, t), res: resIdx,
					val: [2]int{start, len(scratch)}, lr: lr,
				})
			}
		}
	}
	r.Accepted = len(refs)
	sort.SliceStable(refs, func(i, j int) bool { return refs[i].partition < refs[j].partition })

	w := b.newPartWriter(starlingpb.Signal_SIGNAL_LOGS, len(refs), 2*len(scratch)/max(len(refs), 1)+64)
	var terms []uint64
	for i := range refs {
		lr := &refs[i]
		p := lr.partition
		w.begin(p)
		w.cur.Records++
		window := windowOf(lr.time, b.windowSeconds)
		rr := &res[lr.res]
		b.key = resourceKey(b.key[:0], p, rr.ref)
		if h, need := w.once(b.seen, starlingpb.Signal_SIGNAL_LOGS, window, b.key); need {
			w.addOnce(h, window, b.key, rr.value)
		}
		b.key = logKey(b.key[:0], p, lr.time, lr.hash)
		w.add(window, b.key, scratch[lr.val[0]:lr.val[1]])

		terms = b.logTerms(terms[:0], rr, lr.lr)
		for _, t := range terms {
			b.key = appendHeader(b.key[:0], p, kindLogPosting)
			b.key = appendFixed64(b.key, t)
			b.key = appendFixed64(b.key, tdesc(lr.time))
			b.key = appendFixed64(b.key, lr.hash)
			w.add(window, b.key, nil)
		}
	}
	b.learnSize(starlingpb.Signal_SIGNAL_LOGS, &w, len(refs))
	w.result(&r)
	return r
}

// logTerms appends the distinct terms of one log record.
func (b *Builder) logTerms(dst []uint64, rr *indexedResource, lr plog.LogRecord) []uint64 {
	dst = append(dst, serviceTerm(rr.service))
	dst = append(dst, rr.terms...)
	for _, n := range severityShortcuts {
		if int32(lr.SeverityNumber()) >= n {
			dst = append(dst, severityTerm(n))
		}
	}
	lr.Attributes().Range(func(k string, v pcommon.Value) bool {
		if term, ok := b.attrTerm(k, v); ok {
			dst = append(dst, term)
		}
		return true
	})
	words := 0
	b.words = forEachWord(valueString(lr.Body()), b.words, func(w []byte) {
		if words < maxWordsPerLog {
			words++
			var d xxhash.Digest
			d.Reset()
			_, _ = d.WriteString(termWord)
			_, _ = d.Write(w)
			dst = append(dst, d.Sum64())
		}
	})
	sort.Slice(dst, func(i, j int) bool { return dst[i] < dst[j] })
	out := dst[:0]
	for i, t := range dst {
		if i == 0 || t != dst[i-1] {
			out = append(out, t)
		}
	}
	return out
}
