package tempo

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// intrinsicJSON is Tempo's intrinsic tag list, sorted, as JSON strings.
const intrinsicJSON = `"duration","event:name","event:timeSinceStart","instrumentation:name","instrumentation:version",` +
	`"kind","link:spanID","link:traceID","name","rootName","rootServiceName",` +
	`"span:duration","span:id","span:kind","span:name","span:parentID","span:status","span:statusMessage",` +
	`"status","statusMessage","trace:duration","trace:id","trace:rootName","trace:rootService","traceDuration"`

func tagsQuerier() *fakeQuerier {
	return &fakeQuerier{tags: []ScopeTags{
		{Scope: "resource", Tags: []string{"service.name", "k8s.pod.name", "service.name"}},
		{Scope: "span", Tags: []string{"http.method", "http.status_code"}},
		{Scope: "event", Tags: []string{"exception.message"}},
		{Scope: "span", Tags: []string{"http.url", "http.method"}},
		{Scope: "link", Tags: nil},
	}}
}

func TestSearchTagsV1(t *testing.T) {
	tests := []struct {
		target, body string
		wantReq      *TagsRequest
	}{
		{"/tempo/api/search/tags",
			`{"tagNames":["exception.message","http.method","http.status_code","http.url","k8s.pod.name","service.name"],"metrics":{}}`,
			&TagsRequest{Start: testNow.Add(-20 * time.Minute), End: testNow}},
		// v1 drops q, as Tempo's does
		{"/tempo/api/search/tags?scope=span&start=1700000000&end=1700003600&q=%7B%7D",
			`{"tagNames":["exception.message","http.method","http.status_code","http.url","k8s.pod.name","service.name"],"metrics":{}}`,
			&TagsRequest{Scope: "span", Start: time.Unix(1700000000, 0), End: time.Unix(1700003600, 0)}},
		{"/tempo/api/search/tags?scope=none",
			`{"tagNames":["exception.message","http.method","http.status_code","http.url","k8s.pod.name","service.name"],"metrics":{}}`,
			&TagsRequest{Start: testNow.Add(-20 * time.Minute), End: testNow}},
		{"/tempo/api/search/tags?scope=intrinsic", `{"tagNames":[` + intrinsicJSON + `],"metrics":{}}`, nil},
		// limit: the first values collected, then sorted; bad limits are ignored
		{"/tempo/api/search/tags?limit=2", `{"tagNames":["k8s.pod.name","service.name"],"metrics":{}}`,
			&TagsRequest{Limit: 2, Start: testNow.Add(-20 * time.Minute), End: testNow}},
		{"/tempo/api/search/tags?limit=x&maxStaleValues=y", `{"tagNames":["exception.message","http.method","http.status_code","http.url","k8s.pod.name","service.name"],"metrics":{}}`,
			&TagsRequest{Start: testNow.Add(-20 * time.Minute), End: testNow}},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			q := tagsQuerier()
			mux := newTestMux(t, DefaultConfig(), q)
			wantJSON(t, get(t, mux, tt.target), tt.body)
			if tt.wantReq == nil {
				if len(q.tagsReqs) != 0 {
					t.Fatalf("querier asked %+v", q.tagsReqs)
				}
				return
			}
			wantEqual(t, q.tagsReqs, []TagsRequest{*tt.wantReq})
		})
	}
}

func TestSearchTagsV1DropsIntrinsicScope(t *testing.T) {
	q := &fakeQuerier{tags: []ScopeTags{{Scope: "intrinsic", Tags: []string{"name"}}, {Scope: "span", Tags: []string{"a"}}}}
	mux := newTestMux(t, DefaultConfig(), q)
	wantJSON(t, get(t, mux, "/tempo/api/search/tags"), `{"tagNames":["a"],"metrics":{}}`)
	wantJSON(t, get(t, newTestMux(t, DefaultConfig(), &fakeQuerier{}), "/tempo/api/search/tags"), `{"tagNames":[],"metrics":{}}`)
}

func TestSearchTagsV2(t *testing.T) {
	all := `{"scopes":[` +
		`{"name":"resource","tags":["k8s.pod.name","service.name"]},` +
		`{"name":"span","tags":["http.method","http.status_code","http.url"]},` +
		`{"name":"event","tags":["exception.message"]},` +
		`{"name":"intrinsic","tags":[` + intrinsicJSON + `]}],"metrics":{}}`
	tests := []struct {
		target, body string
		asked        bool
	}{
		{"/tempo/api/v2/search/tags", all, true},
		{"/tempo/api/v2/search/tags?scope=none", all, true},
		{"/tempo/api/v2/search/tags?scope=intrinsic", `{"scopes":[{"name":"intrinsic","tags":[` + intrinsicJSON + `]}],"metrics":{}}`, false},
		// an explicit scope gets no intrinsics; the querier's answer is taken as it is
		{"/tempo/api/v2/search/tags?scope=resource", `{"scopes":[` +
			`{"name":"resource","tags":["k8s.pod.name","service.name"]},` +
			`{"name":"span","tags":["http.method","http.status_code","http.url"]},` +
			`{"name":"event","tags":["exception.message"]}],"metrics":{}}`, true},
		// limit per scope, intrinsic unbounded; collection stops once a scope is full
		{"/tempo/api/v2/search/tags?limit=1", `{"scopes":[{"name":"resource","tags":["service.name"]},{"name":"intrinsic","tags":[` + intrinsicJSON + `]}],"metrics":{}}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			q := tagsQuerier()
			mux := newTestMux(t, DefaultConfig(), q)
			wantJSON(t, get(t, mux, tt.target), tt.body)
			if asked := len(q.tagsReqs) == 1; asked != tt.asked {
				t.Fatalf("querier asked: %+v", q.tagsReqs)
			}
		})
	}
	wantJSON(t, get(t, newTestMux(t, DefaultConfig(), &fakeQuerier{}), "/tempo/api/v2/search/tags?scope=span"), `{"scopes":[],"metrics":{}}`)
}

func TestTagBytesLimit(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxTagBytes = 10
	q := &fakeQuerier{tags: []ScopeTags{{Scope: "span", Tags: []string{"abcd", "efgh", "ij"}}}, values: []TagValue{
		{Type: "string", Value: "abc"}, {Type: "string", Value: "def"},
	}}
	mux := newTestMux(t, cfg, q)
	// v1: stops before reaching 10 bytes (4+4, then 8+2 >= 10)
	wantJSON(t, get(t, mux, "/tempo/api/search/tags"), `{"tagNames":["abcd","efgh"],"metrics":{}}`)
	// v2: the bound is on the total and may be reached (4+4+2 = 10)
	wantJSON(t, get(t, mux, "/tempo/api/v2/search/tags?scope=span"), `{"scopes":[{"name":"span","tags":["abcd","efgh","ij"]}],"metrics":{}}`)
	// v2 values count type and value: 9, then 18 >= 10
	wantJSON(t, get(t, mux, "/tempo/api/v2/search/tag/span.a/values"), `{"tagValues":[{"type":"string","value":"abc"}],"metrics":{}}`)
}

func TestSearchTagValuesV1(t *testing.T) {
	tests := []struct {
		target, tag, body string
		values            []TagValue
	}{
		{"/tempo/api/search/tag/service.name/values", "resource.service.name",
			`{"tagValues":["auth","cart"],"metrics":{}}`, []TagValue{{"string", "cart"}, {"string", "auth"}, {"string", "cart"}}},
		{"/tempo/api/search/tag/http.status_code/values?q=%7B%7D", "span.http.status_code",
			`{"tagValues":["200","500"],"metrics":{}}`, []TagValue{{"int", "500"}, {"int", "200"}}},
		{"/tempo/api/search/tag/status.code/values", "status",
			`{"tagValues":["error","ok","unset"],"metrics":{}}`, []TagValue{{"status", "error"}}},
		{"/tempo/api/search/tag/k8s.pod.name/values", "resource.k8s.pod.name", `{"tagValues":[],"metrics":{}}`, nil},
		{"/tempo/api/search/tag/rootName/values", "rootName", `{"tagValues":[],"metrics":{}}`, nil},
		{"/tempo/api/search/tag/span:id/values", "span:id", `{"tagValues":[],"metrics":{}}`, nil},
		{"/tempo/api/search/tag/error/values", ".error",
			`{"tagValues":["false","true"],"metrics":{}}`, []TagValue{{"bool", "false"}}},
		{"/tempo/api/search/tag/name/values", "name", `{"tagValues":[],"metrics":{}}`, nil},
		{"/tempo/api/search/tag/root.name/values", "rootName", `{"tagValues":["GET /"],"metrics":{}}`, []TagValue{{"string", "GET /"}}},
		{"/tempo/api/search/tag/root.service.name/values", "rootServiceName", `{"tagValues":[],"metrics":{}}`, nil},
		{"/tempo/api/search/tag/my%20tag/values", `."my tag"`, `{"tagValues":[],"metrics":{}}`, nil},
		{"/tempo/api/search/tag/a/b/values", ".a/b", `{"tagValues":[],"metrics":{}}`, nil},
		{"/tempo/api/search/tag/status.code/values?limit=2", "status", `{"tagValues":["ok","unset"],"metrics":{}}`, []TagValue{{"status", "error"}}},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			q := &fakeQuerier{values: tt.values}
			mux := newTestMux(t, DefaultConfig(), q)
			wantJSON(t, get(t, mux, tt.target), tt.body)
			if len(q.valuesReqs) != 1 || q.valuesReqs[0].Tag != tt.tag || q.valuesReqs[0].Query != "" {
				t.Fatalf("querier asked %+v, want tag %q", q.valuesReqs, tt.tag)
			}
		})
	}
}

func TestSearchTagValuesV2(t *testing.T) {
	values := []TagValue{{"string", "cart"}, {"string", "auth"}, {"string", "cart"}, {"int", "1"}, {"string", ""}}
	tests := []struct {
		target, body string
		want         *TagValuesRequest
	}{
		{"/tempo/api/v2/search/tag/resource.service.name/values?q=%7B+span.http.method%3D%22GET%22+%7D&start=1700000000&end=1700003600&limit=10&maxStaleValues=5",
			`{"tagValues":[{"type":"string","value":"cart"},{"type":"string","value":"auth"},{"type":"int","value":"1"},{"type":"string"}],"metrics":{}}`,
			&TagValuesRequest{Tag: "resource.service.name", Query: `{ span.http.method="GET" }`, Start: time.Unix(1700000000, 0), End: time.Unix(1700003600, 0), Limit: 10}},
		{"/tempo/api/v2/search/tag/.service.name/values?limit=2",
			`{"tagValues":[{"type":"string","value":"cart"},{"type":"string","value":"auth"}],"metrics":{}}`,
			&TagValuesRequest{Tag: ".service.name", Start: testNow.Add(-20 * time.Minute), End: testNow, Limit: 2}},
		{"/tempo/api/v2/search/tag/span.http.url/values", `{"tagValues":[{"type":"string","value":"cart"},{"type":"string","value":"auth"},{"type":"int","value":"1"},{"type":"string"}],"metrics":{}}`,
			&TagValuesRequest{Tag: "span.http.url", Start: testNow.Add(-20 * time.Minute), End: testNow}},
		{"/tempo/api/v2/search/tag/span.%22a%20b%22/values", `{"tagValues":[{"type":"string","value":"cart"},{"type":"string","value":"auth"},{"type":"int","value":"1"},{"type":"string"}],"metrics":{}}`,
			&TagValuesRequest{Tag: `span."a b"`, Start: testNow.Add(-20 * time.Minute), End: testNow}},
		{"/tempo/api/v2/search/tag/name/values", `{"tagValues":[{"type":"string","value":"cart"},{"type":"string","value":"auth"},{"type":"int","value":"1"},{"type":"string"}],"metrics":{}}`,
			&TagValuesRequest{Tag: "name", Start: testNow.Add(-20 * time.Minute), End: testNow}},
		// virtual values: answered without the querier
		{"/tempo/api/v2/search/tag/status/values", `{"tagValues":[{"type":"keyword","value":"ok"},{"type":"keyword","value":"error"},{"type":"keyword","value":"unset"}],"metrics":{}}`, nil},
		{"/tempo/api/v2/search/tag/span:status/values?limit=1", `{"tagValues":[{"type":"keyword","value":"ok"}],"metrics":{}}`, nil},
		{"/tempo/api/v2/search/tag/kind/values", `{"tagValues":[{"type":"keyword","value":"client"},{"type":"keyword","value":"server"},{"type":"keyword","value":"producer"},{"type":"keyword","value":"consumer"},{"type":"keyword","value":"internal"},{"type":"keyword","value":"unspecified"}],"metrics":{}}`, nil},
		{"/tempo/api/v2/search/tag/span:kind/values", `{"tagValues":[{"type":"keyword","value":"client"},{"type":"keyword","value":"server"},{"type":"keyword","value":"producer"},{"type":"keyword","value":"consumer"},{"type":"keyword","value":"internal"},{"type":"keyword","value":"unspecified"}],"metrics":{}}`, nil},
		{"/tempo/api/v2/search/tag/duration/values", `{"tagValues":[],"metrics":{}}`, nil},
		{"/tempo/api/v2/search/tag/span:duration/values", `{"tagValues":[],"metrics":{}}`, nil},
		{"/tempo/api/v2/search/tag/traceDuration/values", `{"tagValues":[],"metrics":{}}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			q := &fakeQuerier{values: values}
			mux := newTestMux(t, DefaultConfig(), q)
			wantJSON(t, get(t, mux, tt.target), tt.body)
			if tt.want == nil {
				if len(q.valuesReqs) != 0 {
					t.Fatalf("querier asked %+v", q.valuesReqs)
				}
				return
			}
			wantEqual(t, q.valuesReqs, []TagValuesRequest{*tt.want})
		})
	}
}

func TestTagParamErrors(t *testing.T) {
	tests := []struct {
		target, body string
	}{
		{"/tempo/api/search/tags?scope=foo", "invalid scope: foo"},
		{"/tempo/api/v2/search/tags?scope=Span", "invalid scope: Span"},
		{"/tempo/api/search/tags?start=abc", `invalid start: strconv.ParseInt: parsing "abc": invalid syntax`},
		{"/tempo/api/v2/search/tags?end=9999999999", `invalid end: strconv.ParseInt: parsing "9999999999": value out of range`},
		{"/tempo/api/v2/search/tags?start=1&end=700000", "range specified by start and end exceeds 168h0m0s. received start=1 end=700000"},
		{"/tempo/api/search/tags?start=1700000000", "range specified by start and end exceeds 168h0m0s. received start=1700000000 end=0"},
		{"/tempo/api/search/tag/a/values?start=x", `invalid start: strconv.ParseInt: parsing "x": invalid syntax`},
		{"/tempo/api/search/tag/a/values?end=x", `invalid end: strconv.ParseInt: parsing "x": invalid syntax`},
		{"/tempo/api/search/tag/a/values?limit=-1", `invalid limit: strconv.ParseUint: parsing "-1": invalid syntax`},
		{"/tempo/api/v2/search/tag/span.a/values?maxStaleValues=x", `invalid maxStaleValues: strconv.ParseUint: parsing "x": invalid syntax`},
		{"/tempo/api/v2/search/tag/span.a/values?start=1&end=700000", "range specified by start and end exceeds 168h0m0s. received start=1 end=700000"},
		{"/tempo/api/v2/search/tag/foo/values", "please provide a valid tagName: failed to parse identifier foo: not an intrinsic or an attribute"},
		{"/tempo/api/v2/search/tag/spam.foo/values", `please provide a valid tagName: failed to parse identifier spam.foo: unknown attribute scope "spam"`},
		{"/tempo/api/v2/search/tag/span./values", "please provide a valid tagName: failed to parse identifier span.: empty attribute name"},
		{"/tempo/api/v2/search/tag/span.a%3Db/values", "please provide a valid tagName: failed to parse identifier span.a=b: unexpected '='"},
		{"/tempo/api/v2/search/tag/span.%22ab/values", `please provide a valid tagName: failed to parse identifier span."ab: unterminated quoted attribute name`},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			q := &fakeQuerier{}
			mux := newTestMux(t, DefaultConfig(), q)
			wantStatus(t, get(t, mux, tt.target), http.StatusBadRequest, tt.body)
			if len(q.tagsReqs)+len(q.valuesReqs) != 0 {
				t.Fatal("the querier was asked")
			}
		})
	}
}

func TestEmptyTagName(t *testing.T) {
	// the mux cleans /tag//values away; the parser still refuses it
	for _, v2 := range []bool{false, true} {
		_, _, err := parseTagValuesParams("/values", nil, v2, DefaultConfig(), testNow)
		if err == nil || err.Error() != "please provide a non-empty tagName" {
			t.Fatalf("v2=%v: %v", v2, err)
		}
	}
}

func TestTagValuesPathWithoutValues(t *testing.T) {
	mux := newTestMux(t, DefaultConfig(), &fakeQuerier{})
	for _, target := range []string{"/tempo/api/search/tag/a", "/tempo/api/v2/search/tag/span.a/value", "/tempo/api/search/tag/"} {
		if rec := get(t, mux, target); rec.Code != http.StatusNotFound {
			t.Errorf("%s: %d %q", target, rec.Code, rec.Body.String())
		}
	}
}

func TestCheckIdentifier(t *testing.T) {
	ok := []string{"name", "span:name", "trace:rootService", "nestedSetLeft", ".a", ".a.b.c", "span.http.status_code",
		"resource.service.name", "event.exception.message", "link.x", "instrumentation.v", "trace.t", `span."a b"`, `."x\"y"`, `span.a"b c"d`, "span.a:b/c-d"}
	for _, s := range ok {
		if err := checkIdentifier(s); err != nil {
			t.Errorf("checkIdentifier(%q) = %v", s, err)
		}
	}
	bad := []string{"", "foo", ".", "span", "none.a", "span.a b", "span.{", `span."a`, `span."\q"`, "x.y"}
	for _, s := range bad {
		if err := checkIdentifier(s); err == nil || !strings.HasPrefix(err.Error(), "failed to parse identifier "+s+": ") {
			t.Errorf("checkIdentifier(%q) = %v", s, err)
		}
	}
}
