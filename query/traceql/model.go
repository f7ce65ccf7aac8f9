package traceql

// Trace is one trace as the evaluator sees it: every stored span of it.
type Trace struct {
	ID    [16]byte
	Spans []Span // any order; the evaluator derives parent/child links from IDs
}

// Span is one span of a trace with its resource and instrumentation scope.
type Span struct {
	ID, ParentID            [8]byte // ParentID all zero: a root span
	Name                    string
	Kind                    Kind   // OTLP numbers: 0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer
	Status                  Status // OTLP numbers: 0 unset, 1 ok, 2 error
	StatusMessage           string
	Start, End              int64  // unix nanoseconds
	Attrs                   []Attr // span attributes
	Resource                []Attr // resource attributes (service.name is one of them)
	ScopeName, ScopeVersion string
	ScopeAttrs              []Attr
	Events                  []Event
	Links                   []Link
}

// Event is a span event.
type Event struct {
	Name  string
	Time  int64 // unix nanoseconds
	Attrs []Attr
}

// Link is a span link.
type Link struct {
	TraceID [16]byte
	SpanID  [8]byte
	Attrs   []Attr
}

// Attr is one attribute: a key and its value.
type Attr struct {
	Key   string
	Value Value
}

// Kind is a span kind, numbered as OTLP numbers it.
type Kind int32

// The span kinds.
const (
	KindUnspecified Kind = 0
	KindInternal    Kind = 1
	KindServer      Kind = 2
	KindClient      Kind = 3
	KindProducer    Kind = 4
	KindConsumer    Kind = 5
)

// String returns the TraceQL keyword of the kind.
func (k Kind) String() string {
	switch k {
	case KindUnspecified:
		return "unspecified"
	case KindInternal:
		return "internal"
	case KindServer:
		return "server"
	case KindClient:
		return "client"
	case KindProducer:
		return "producer"
	case KindConsumer:
		return "consumer"
	}
	return "kind(" + itoa(int64(k)) + ")"
}

// Status is a span status code, numbered as OTLP numbers it.
type Status int32

// The span status codes.
const (
	StatusUnset Status = 0
	StatusOK    Status = 1
	StatusError Status = 2
)

// String returns the TraceQL keyword of the status.
func (s Status) String() string {
	switch s {
	case StatusUnset:
		return "unset"
	case StatusOK:
		return "ok"
	case StatusError:
		return "error"
	}
	return "status(" + itoa(int64(s)) + ")"
}

// isRoot reports whether the span has no parent.
func (s *Span) isRoot() bool { return s.ParentID == [8]byte{} }

// serviceName returns the span's resource attribute service.name.
func (s *Span) serviceName() (Value, bool) { return lookupAttr(s.Resource, "service.name") }

// lookupAttr returns the value of the first attribute with the key.
func lookupAttr(attrs []Attr, key string) (Value, bool) {
	for i := range attrs {
		if attrs[i].Key == key {
			return attrs[i].Value, true
		}
	}
	return Value{}, false
}
