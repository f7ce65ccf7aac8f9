package chaoskit

import (
	"sync"
	"time"
)

// sentRequest is one request the generator got acknowledged.
type sentRequest struct {
	signal   signal
	worker   int
	node     string // the node that acknowledged it
	attempts int
	first    time.Time // first attempt
	acked    time.Time
}

// maxErrorExamples bounds the distinct error messages kept.
const maxErrorExamples = 10

// ledger is what the generator sent and what came of it: the identities of
// every acknowledged record, and counts of refusals and failures.
type ledger struct {
	mu     sync.Mutex
	reqs   []sentRequest
	traces []traceRec
	logs   []logRec
	points []pointRec

	ackedRecords  [numSignals]int64
	ackedRequests [numSignals]int64
	// refused counts attempts answered with a retryable error.
	refused [numSignals]int64
	// gaveUp counts requests still refused after every attempt.
	gaveUp [numSignals]int64
	// partial counts requests acknowledged with records rejected (not
	// counted as acknowledged).
	partial [numSignals]int64
	// failed counts requests answered with an error that is not
	// retryable.
	failed   [numSignals]int64
	examples []string
}

// ack records an acknowledged request and its records.
func (l *ledger) ack(pl *payload, r sentRequest) {
	l.mu.Lock()
	defer l.mu.Unlock()
	idx := int32(len(l.reqs))
	l.reqs = append(l.reqs, r)
	for _, t := range pl.traceRecs {
		t.req = idx
		l.traces = append(l.traces, t)
	}
	for _, lr := range pl.logRecs {
		lr.req = idx
		l.logs = append(l.logs, lr)
	}
	for _, p := range pl.pointRecs {
		p.req = idx
		l.points = append(l.points, p)
	}
	l.ackedRecords[pl.signal] += int64(pl.nrec)
	l.ackedRequests[pl.signal]++
}

// refusal records one attempt refused as retryable.
func (l *ledger) refusal(sig signal) {
	l.mu.Lock()
	l.refused[sig]++
	l.mu.Unlock()
}

// outcome records how a request that was never acknowledged ended.
func (l *ledger) outcome(sig signal, kind *[numSignals]int64, msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	kind[sig]++
	l.example(sig.String() + ": " + msg)
}

func (l *ledger) example(msg string) {
	for _, e := range l.examples {
		if e == msg {
			return
		}
	}
	if len(l.examples) < maxErrorExamples {
		l.examples = append(l.examples, msg)
	}
}

// counts is a snapshot of the ledger's counters.
type counts struct {
	AckedRecords, AckedRequests, Refused, GaveUp, Partial, Failed [numSignals]int64
}

func (l *ledger) counts() counts {
	l.mu.Lock()
	defer l.mu.Unlock()
	return counts{
		AckedRecords: l.ackedRecords, AckedRequests: l.ackedRequests, Refused: l.refused,
		GaveUp: l.gaveUp, Partial: l.partial, Failed: l.failed,
	}
}

func sum(a [numSignals]int64) int64 {
	var s int64
	for _, v := range a {
		s += v
	}
	return s
}
