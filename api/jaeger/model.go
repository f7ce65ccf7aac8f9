package jaeger

// The JSON model of the Jaeger UI, field for field as Jaeger's
// internal/uimodel/model.go (formerly model/json/model.go) declares it and
// internal/uimodel/converter/v1/json/from_domain.go fills it. Two fields of
// Jaeger's Span are left out because the UI model never sets them and both
// are omitempty: parentSpanID (deprecated; the parent is the first CHILD_OF
// reference) and process (only used when a span embeds its process, not in
// a trace, which has the processes map).

// Reference types (uimodel.ChildOf, uimodel.FollowsFrom).
const (
	refChildOf     = "CHILD_OF"
	refFollowsFrom = "FOLLOWS_FROM"
)

// Value types of a keyValue (uimodel's ValueType constants, the lower-case
// names of the proto model's ValueType).
const (
	typeString  = "string"
	typeBool    = "bool"
	typeInt64   = "int64"
	typeFloat64 = "float64"
	typeBinary  = "binary"
)

// trace is uimodel.Trace. Warnings is null when there are none, as in
// Jaeger (the field has no omitempty and FromDomain copies a nil slice).
type trace struct {
	TraceID   string             `json:"traceID"`
	Spans     []span             `json:"spans"`
	Processes map[string]process `json:"processes"`
	Warnings  []string           `json:"warnings"`
}

// span is uimodel.Span as FromDomain fills it for a trace: references, tags
// and logs are always arrays (possibly empty), warnings null when there are
// none, flags omitted when 0, startTime and duration in microseconds.
type span struct {
	TraceID       string      `json:"traceID"`
	SpanID        string      `json:"spanID"`
	Flags         uint32      `json:"flags,omitempty"`
	OperationName string      `json:"operationName"`
	References    []reference `json:"references"`
	StartTime     uint64      `json:"startTime"` // microseconds since the Unix epoch
	Duration      uint64      `json:"duration"`  // microseconds
	Tags          []keyValue  `json:"tags"`
	Logs          []spanLog   `json:"logs"`
	ProcessID     string      `json:"processID,omitempty"`
	Warnings      []string    `json:"warnings"`
}

// reference is uimodel.Reference.
type reference struct {
	RefType string `json:"refType"`
	TraceID string `json:"traceID"`
	SpanID  string `json:"spanID"`
}

// process is uimodel.Process; tags is always an array.
type process struct {
	ServiceName string     `json:"serviceName"`
	Tags        []keyValue `json:"tags"`
}

// spanLog is uimodel.Log; timestamp in microseconds since the Unix epoch.
type spanLog struct {
	Timestamp uint64     `json:"timestamp"`
	Fields    []keyValue `json:"fields"`
}

// keyValue is uimodel.KeyValue. Value is a string, bool, int64, float64 or
// []byte (which encoding/json writes as standard base64, as Jaeger's does).
type keyValue struct {
	Key   string `json:"key"`
	Type  string `json:"type,omitempty"`
	Value any    `json:"value"`
}

// operation is uimodel.Operation, the element of /api/operations.
type operation struct {
	Name     string `json:"name"`
	SpanKind string `json:"spanKind"`
}

// dependencyLink is uimodel.DependencyLink, the element of
// /api/dependencies.
type dependencyLink struct {
	Parent    string `json:"parent"`
	Child     string `json:"child"`
	CallCount uint64 `json:"callCount"`
}
