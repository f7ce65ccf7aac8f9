package storage

import (
	"github.com/cespare/xxhash/v2"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// A resource record holds one resource and one instrumentation scope with
// their schema URLs. Spans and log records refer to it by ref, the hash of its
// encoding, so it is written once per partition and window instead of once per
// record.
const resourceVersion byte = 1

// resourceRecord is an encoded resource+scope and its ref.
type resourceRecord struct {
	ref     uint64
	value   []byte
	service string
}

func encodeResource(dst []byte, res pcommon.Resource, resSchema string, scope pcommon.InstrumentationScope, scopeSchema string) []byte {
	dst = append(dst, resourceVersion)
	dst = appendMap(dst, res.Attributes())
	dst = appendUvarint(dst, uint64(res.DroppedAttributesCount()))
	dst = appendString(dst, resSchema)
	dst = appendString(dst, scope.Name())
	dst = appendString(dst, scope.Version())
	dst = appendMap(dst, scope.Attributes())
	dst = appendUvarint(dst, uint64(scope.DroppedAttributesCount()))
	return appendString(dst, scopeSchema)
}

func newResourceRecord(res pcommon.Resource, resSchema string, scope pcommon.InstrumentationScope, scopeSchema string) resourceRecord {
	v := encodeResource(nil, res, resSchema, scope, scopeSchema)
	return resourceRecord{ref: xxhash.Sum64(v), value: v, service: serviceName(res)}
}

func resourceKey(dst []byte, p uint32, ref uint64) []byte {
	dst = appendHeader(dst, p, kindResource)
	return appendFixed64(dst, ref)
}

// decodedResource is a resource record rebuilt as pdata.
type decodedResource struct {
	resource    pcommon.Resource
	resSchema   string
	scope       pcommon.InstrumentationScope
	scopeSchema string
}

func decodeResource(v []byte) (decodedResource, error) {
	d := decoder{b: v}
	if d.byte() != resourceVersion {
		return decodedResource{}, ErrUnknownFormat
	}
	r := decodedResource{resource: pcommon.NewResource(), scope: pcommon.NewInstrumentationScope()}
	d.mapInto(r.resource.Attributes(), 0)
	r.resource.SetDroppedAttributesCount(uint32(d.uvarint()))
	r.resSchema = d.string()
	r.scope.SetName(d.string())
	r.scope.SetVersion(d.string())
	d.mapInto(r.scope.Attributes(), 0)
	r.scope.SetDroppedAttributesCount(uint32(d.uvarint()))
	r.scopeSchema = d.string()
	return r, d.done()
}

// UnknownService is the service of a resource without service.name, as the
// OpenTelemetry SDKs name it.
const UnknownService = "unknown_service"

func serviceName(res pcommon.Resource) string {
	if v, ok := res.Attributes().Get("service.name"); ok {
		if s := valueString(v); s != "" {
			return s
		}
	}
	return UnknownService
}
