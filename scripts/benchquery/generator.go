package main

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// The data set. telemetrygen cannot do this: its spans carry the same
// attributes in every trace (one service, a fixed span name, no per-span
// values drawn from distributions), so a query by a rare value, by a
// common value plus a duration, or one that matches nothing would measure
// nothing. The generator below builds the traces with pdata (ptrace) and
// sends them with ptraceotlp's gRPC client, both already dependencies of
// the module.

const (
	services        = 20
	opsPerService   = 10 // every operation has its route: 200 routes
	hosts           = 50
	hostsPerService = 5
	users           = 100_000
	maxSpans        = 30
	errorRate       = 0.01
	scopeName       = "starling-benchquery"
)

var serviceNames = [services]string{
	"frontend", "api-gateway", "mobile-bff", "web", "checkout",
	"cart", "payment", "orders", "inventory", "catalog",
	"search", "recommendation", "users", "auth", "shipping",
	"notification", "email", "pricing", "reviews", "ads",
}

// entryServices is how many of the first services roots are drawn from.
const entryServices = 4

var (
	nouns = [opsPerService]string{"items", "item/{id}", "list", "status", "batch", "search", "config", "history", "summary", "events"}
	// methodOf gives each operation index its HTTP method: GET is the
	// common value (6 of 10 operations, and they are drawn more often).
	methodOf    = [opsPerService]string{"GET", "GET", "POST", "GET", "PUT", "GET", "DELETE", "GET", "PATCH", "GET"}
	environment = func(host int) string {
		switch {
		case host < 40:
			return "production"
		case host < 47:
			return "staging"
		default:
			return "development"
		}
	}
	// okCodes are the status codes of spans without an error, with their
	// weights; errors answer 500 or 503: 11 values.
	okCodes   = [...]int64{200, 201, 204, 301, 304, 400, 401, 403, 404}
	okWeights = [...]float64{0.80, 0.04, 0.03, 0.01, 0.04, 0.03, 0.01, 0.01, 0.03}
)

// opName is the span name of operation k of service s: "GET /cart/items".
func opName(s, k int) string { return methodOf[k] + " " + route(s, k) }

func route(s, k int) string { return "/" + serviceNames[s] + "/" + nouns[k] }

func hostName(h int) string { return fmt.Sprintf("host-%02d", h) }

// hostOf is the j-th host of service s: every service runs on 5 of the 50
// hosts, every host on 2 services.
func hostOf(s, j int) int { return (s*hostsPerService + j) % hosts }

func userID(u int) string { return fmt.Sprintf("user-%06d", u) }

// Config is the data set's shape; the same Config gives the same spans.
type Config struct {
	Spans int           // spans in all
	Batch int           // spans per request (the last may have fewer)
	Range time.Duration // trace start times spread over [End-Range, End)
	End   time.Time
	Seed  uint64
}

// Dataset is a Config laid out in batches. Batch b is generated from its
// own random stream (seed, b), so batches can be made in any order, by
// any number of senders, and always hold the same spans.
type Dataset struct {
	Config
	Batches int
	// Samples has, per batch, what the queries need of its first trace.
	// Batch b's entry is filled when batch b is generated.
	Samples []Sample
}

// Sample is a trace of the data set the queries ask for.
type Sample struct {
	TraceID     string // 32 hex digits
	Spans       int
	RootService string
	Start       time.Time
	// UserID is the trace's user.id, on its root span (of RootService).
	UserID string
}

// NewDataset lays out c.
func NewDataset(c Config) (*Dataset, error) {
	if c.Spans < 1 || c.Batch < maxSpans {
		return nil, fmt.Errorf("-spans %d, -batch %d: need spans >= 1 and batch >= %d", c.Spans, c.Batch, maxSpans)
	}
	if c.Range < time.Minute {
		return nil, fmt.Errorf("-range %s: at least 1m", c.Range)
	}
	n := (c.Spans + c.Batch - 1) / c.Batch
	return &Dataset{Config: c, Batches: n, Samples: make([]Sample, n)}, nil
}

// BatchSpans is the number of spans of batch b.
func (d *Dataset) BatchSpans(b int) int { return min(d.Batch, d.Spans-b*d.Batch) }

// Start is the earliest time a trace of the data set starts.
func (d *Dataset) Start() time.Time { return d.End.Add(-d.Range) }

// Describe is a one-line description of the data set.
func (d *Dataset) Describe() string {
	return fmt.Sprintf("%d spans in %d requests of %d, seed %d; %d services × %d operations, traces of 1–%d spans; start times over %s … %s UTC",
		d.Spans, d.Batches, d.Batch, d.Seed, services, opsPerService, maxSpans,
		d.Start().UTC().Format("2006-01-02 15:04:05"), d.End.UTC().Format("15:04:05"),
	)
}

// spanInfo is what a span's children need of it.
type spanInfo struct {
	id         pcommon.SpanID
	service    int
	start, end int64 // unix ns
}

// traceSpans draws the size of a trace: 1–30 spans, mean about 10 (a
// fifth of the traces are 1–3 spans, the rest 1 + Poisson(11) capped).
func traceSpans(r *rand.Rand) int {
	if r.Float64() < 0.2 {
		return 1 + r.IntN(3)
	}
	return min(maxSpans, 1+poisson(r, 11))
}

func poisson(r *rand.Rand, mean float64) int {
	l, k, p := math.Exp(-mean), 0, 1.0
	for {
		p *= r.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

// zipfOp draws an operation index, the first ones more often.
func zipfOp(r *rand.Rand) int {
	// Weights 1/(k+1): k=0 about 34%, k=9 about 3%.
	const h10 = 2.9289682539682538 // 1 + 1/2 + … + 1/10
	x := r.Float64() * h10
	for k := 0; k < opsPerService; k++ {
		x -= 1 / float64(k+1)
		if x <= 0 {
			return k
		}
	}
	return opsPerService - 1
}

func okCode(r *rand.Rand) int64 {
	x := r.Float64()
	for i, w := range okWeights {
		if x -= w; x <= 0 {
			return okCodes[i]
		}
	}
	return okCodes[0]
}

// Generate builds batch b: whole traces of 1–30 spans (the last trace cut
// so that the batch has exactly BatchSpans(b) spans), their spans grouped
// in one ResourceSpans per service and host, and records the batch's
// sample (its first trace).
func (d *Dataset) Generate(b int) ptrace.Traces {
	r := rand.New(rand.NewPCG(d.Seed, uint64(b)))
	td := ptrace.NewTraces()
	type resKey struct{ service, host int }
	scopes := map[resKey]ptrace.SpanSlice{}
	spansOf := func(s, h int) ptrace.SpanSlice {
		k := resKey{s, h}
		ss, ok := scopes[k]
		if !ok {
			rs := td.ResourceSpans().AppendEmpty()
			a := rs.Resource().Attributes()
			a.PutStr("service.name", serviceNames[s])
			a.PutStr("host.name", hostName(h))
			a.PutStr("deployment.environment", environment(h))
			sc := rs.ScopeSpans().AppendEmpty()
			sc.Scope().SetName(scopeName)
			ss = sc.Spans()
			scopes[k] = ss
		}
		return ss
	}
	want := d.BatchSpans(b)
	rangeNs := d.Range.Nanoseconds()
	endNs := d.End.UnixNano()
	spans := make([]spanInfo, 0, maxSpans)
	var hostIn [services]int // host of each service in the current trace (+1; 0: none yet)
	for made, t := 0, 0; made < want; t++ {
		n := min(traceSpans(r), want-made)
		made += n
		var tid pcommon.TraceID
		binary.BigEndian.PutUint64(tid[:8], r.Uint64())
		binary.BigEndian.PutUint64(tid[8:], r.Uint64())
		reqID := "req-" + hex.EncodeToString(tid[:])
		user := userID(r.IntN(users))
		start := endNs - 1 - r.Int64N(rangeNs)
		hostIn = [services]int{}
		spans = spans[:0]
		for i := 0; i < n; i++ {
			var sp spanInfo
			var parent *spanInfo
			kind := ptrace.SpanKindServer
			if i == 0 {
				sp.service = r.IntN(entryServices)
				// Log-normal durations: median 40 ms, about 2.6% of
				// roots above 500 ms.
				dur := int64(40e6 * math.Exp(1.3*r.NormFloat64()))
				sp.start, sp.end = start, start+max(dur, 1000)
			} else {
				// A parent among the spans so far, the recent ones more
				// often (deeper trees).
				parent = &spans[len(spans)-1-int(float64(len(spans))*r.Float64()*r.Float64())]
				if r.Float64() < 0.5 {
					sp.service = r.IntN(services - 1)
					if sp.service >= parent.service {
						sp.service++
					}
					if r.Float64() < 0.1 {
						kind = ptrace.SpanKindConsumer
					}
				} else {
					sp.service = parent.service
					switch x := r.Float64(); {
					case x < 0.45:
						kind = ptrace.SpanKindClient
					case x < 0.9:
						kind = ptrace.SpanKindInternal
					default:
						kind = ptrace.SpanKindProducer
					}
				}
				pd := parent.end - parent.start
				dur := min(int64(float64(pd)*math.Exp(-1.2+0.6*r.NormFloat64())), pd*95/100)
				dur = max(dur, 1000)
				off := int64(0)
				if pd > dur {
					off = r.Int64N(pd - dur)
				}
				sp.start = parent.start + off
				sp.end = sp.start + dur
			}
			if hostIn[sp.service] == 0 {
				hostIn[sp.service] = 1 + hostOf(sp.service, r.IntN(hostsPerService))
			}
			binary.BigEndian.PutUint64(sp.id[:], r.Uint64()|1)
			op := zipfOp(r)

			s := spansOf(sp.service, hostIn[sp.service]-1).AppendEmpty()
			s.SetTraceID(tid)
			s.SetSpanID(sp.id)
			if parent != nil {
				s.SetParentSpanID(parent.id)
			}
			s.SetName(opName(sp.service, op))
			s.SetKind(kind)
			s.SetStartTimestamp(pcommon.Timestamp(sp.start))
			s.SetEndTimestamp(pcommon.Timestamp(sp.end))
			failed := r.Float64() < errorRate
			if failed {
				s.Status().SetCode(ptrace.StatusCodeError)
				s.Status().SetMessage("upstream failed")
			}
			a := s.Attributes()
			if kind == ptrace.SpanKindServer || kind == ptrace.SpanKindClient {
				a.PutStr("http.method", methodOf[op])
				code := okCode(r)
				if failed {
					code = [2]int64{500, 503}[r.IntN(2)]
				}
				a.PutInt("http.status_code", code)
				a.PutStr("http.route", route(sp.service, op))
			}
			if kind == ptrace.SpanKindServer {
				a.PutStr("user.id", user)
				a.PutStr("request.id", reqID)
			}
			spans = append(spans, sp)
		}
		if t == 0 {
			d.Samples[b] = Sample{
				TraceID: hex.EncodeToString(tid[:]), Spans: n, RootService: serviceNames[spans[0].service],
				Start: time.Unix(0, start), UserID: user,
			}
		}
	}
	return td
}
