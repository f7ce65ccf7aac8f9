package node

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Tag discovery and autocomplete over the trace catalog: OTLP traces with
// attributes of every scope and several types, read back through Tempo's
// tag endpoints and /api/v1/autocomplete.

// tagTraces returns spans of services checkout and payment with span,
// resource, event, link and instrumentation scope attributes.
func tagTraces(now time.Time) ptrace.Traces {
	td := ptrace.NewTraces()
	for si, svc := range []string{"checkout", "payment"} {
		rs := td.ResourceSpans().AppendEmpty()
		ra := rs.Resource().Attributes()
		ra.PutStr("service.name", svc)
		ra.PutStr("deployment.environment", "prod")
		ra.PutInt("host.cpus", 8)
		ss := rs.ScopeSpans().AppendEmpty()
		ss.Scope().SetName("shop." + svc)
		ss.Scope().Attributes().PutStr("library.kind", "manual")
		for i := range 4 {
			s := ss.Spans().AppendEmpty()
			var tid pcommon.TraceID
			tid[0], tid[1], tid[15] = 0x7a, byte(si), byte(i+1)
			s.SetTraceID(tid)
			s.SetSpanID(pcommon.SpanID{byte(si + 1), byte(i + 1)})
			s.SetName([]string{"charge", "refund"}[i%2])
			start := now.Add(-time.Duration(i) * time.Second)
			s.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
			s.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(5 * time.Millisecond)))
			a := s.Attributes()
			a.PutStr("http.method", []string{"GET", "POST"}[i%2])
			a.PutInt("http.status_code", []int64{200, 500}[i%2])
			a.PutDouble("app.ratio", 0.25)
			a.PutBool("app.retry", i%2 == 1)
			tags := a.PutEmptySlice("app.tags")
			tags.AppendEmpty().SetStr("beta")
			tags.AppendEmpty().SetInt(7)
			ev := s.Events().AppendEmpty()
			ev.SetName("exception")
			ev.SetTimestamp(s.EndTimestamp())
			ev.Attributes().PutStr("exception.type", "CardDeclined")
			l := s.Links().AppendEmpty()
			l.SetTraceID(pcommon.TraceID{0x11, byte(i + 1)})
			l.SetSpanID(pcommon.SpanID{0x22, byte(i + 1)})
			l.Attributes().PutStr("link.kind", "follows_from")
		}
	}
	return td
}

func TestTraceTagCatalog(t *testing.T) {
	n := startNode(t, nil)
	conn, err := grpc.NewClient(n.OTLPGRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := ptraceotlp.NewGRPCClient(conn).Export(ctx, ptraceotlp.NewExportRequestFromTraces(tagTraces(time.Now())))
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	if r := resp.PartialSuccess().RejectedSpans(); r != 0 {
		t.Fatalf("%d spans rejected: %s", r, resp.PartialSuccess().ErrorMessage())
	}

	// Every scope's keys.
	wantTags := map[string][]string{
		"span":            {"app.ratio", "app.retry", "app.tags", "http.method", "http.status_code"},
		"resource":        {"deployment.environment", "host.cpus", "service.name"},
		"event":           {"exception.type"},
		"link":            {"link.kind"},
		"instrumentation": {"library.kind"},
	}
	eventually(t, 30*time.Second, func() string {
		var got struct {
			Scopes []struct {
				Name string   `json:"name"`
				Tags []string `json:"tags"`
			} `json:"scopes"`
		}
		getJSON(t, n, "/tempo/api/v2/search/tags", &got)
		scopes := map[string][]string{}
		for _, s := range got.Scopes {
			scopes[s.Name] = s.Tags
		}
		for scope, want := range wantTags {
			if !reflect.DeepEqual(scopes[scope], want) {
				return fmt.Sprintf("scope %s: tags %q, want %q", scope, scopes[scope], want)
			}
		}
		if !slices.Contains(scopes["intrinsic"], "duration") {
			return fmt.Sprintf("no intrinsic scope: %v", got.Scopes)
		}
		return ""
	})

	t.Run("tempo tag values", func(t *testing.T) {
		type tv struct{ Type, Value string }
		cases := []struct {
			tag  string
			want []tv
		}{
			{"span.http.status_code", []tv{{"int", "200"}, {"int", "500"}}},
			{"span.http.method", []tv{{"string", "GET"}, {"string", "POST"}}},
			{"span.app.ratio", []tv{{"float", "0.25"}}},
			{"span.app.retry", []tv{{"bool", "false"}, {"bool", "true"}}},
			{"span.app.tags", []tv{{"string", "beta"}, {"int", "7"}}},
			{".host.cpus", []tv{{"int", "8"}}},
			{`resource."deployment.environment"`, []tv{{"string", "prod"}}},
			{"event.exception.type", []tv{{"string", "CardDeclined"}}},
			{"link.link.kind", []tv{{"string", "follows_from"}}},
			{"instrumentation.library.kind", []tv{{"string", "manual"}}},
			{"resource.http.method", nil},
			{"span.nope", nil},
			{"resource.service.name", []tv{{"string", "checkout"}, {"string", "payment"}}},
		}
		for _, c := range cases {
			var got struct {
				TagValues []struct {
					Type  string `json:"type"`
					Value string `json:"value"`
				} `json:"tagValues"`
			}
			getJSON(t, n, "/tempo/api/v2/search/tag/"+c.tag+"/values", &got)
			var vs []tv
			for _, v := range got.TagValues {
				vs = append(vs, tv{v.Type, v.Value})
			}
			if !reflect.DeepEqual(vs, c.want) {
				t.Errorf("%s: got %v, want %v", c.tag, vs, c.want)
			}
		}
		var v1 struct {
			TagValues []string `json:"tagValues"`
		}
		getJSON(t, n, "/tempo/api/search/tag/service.name/values", &v1)
		if want := []string{"checkout", "payment"}; !reflect.DeepEqual(v1.TagValues, want) {
			t.Errorf("v1 service.name: %q, want %q", v1.TagValues, want)
		}
		getJSON(t, n, "/tempo/api/search/tag/http.status_code/values", &v1)
		if want := []string{"200", "500"}; !reflect.DeepEqual(v1.TagValues, want) {
			t.Errorf("v1 http.status_code: %q, want %q", v1.TagValues, want)
		}
	})

	t.Run("autocomplete", func(t *testing.T) {
		cases := []struct {
			query string
			want  autocompleteJSON
		}{
			{"prefix=chec&fuzzy=0", autocompleteJSON{Services: []string{"checkout"}}},
			{"prefix=chekout&fuzzy=1", autocompleteJSON{Services: []string{"checkout"}}},
			{"prefix=chekout&fuzzy=0", autocompleteJSON{}},
			{"prefix=CHE&kind=services", autocompleteJSON{Services: []string{"checkout"}}},
			{"prefix=&kind=services", autocompleteJSON{Services: []string{"checkout", "payment"}}},
			{"prefix=re&kind=operations", autocompleteJSON{Operations: []string{"refund"}}},
			{"prefix=http.&kind=attributes", autocompleteJSON{Attributes: []autocompleteAttr{{"span", "http.method"}, {"span", "http.status_code"}}}},
			{"prefix=lnk.kind&fuzzy=1&kind=attributes", autocompleteJSON{Attributes: []autocompleteAttr{{"link", "link.kind"}}}},
			{"prefix=&kind=values&key=span.http.status_code", autocompleteJSON{Values: []autocompleteValue{{"int", "200"}, {"int", "500"}}}},
			{"prefix=p&kind=values&key=http.method", autocompleteJSON{Values: []autocompleteValue{{"string", "POST"}}}},
			{"prefix=pay&key=resource.service.name", autocompleteJSON{Services: []string{"payment"}, Values: []autocompleteValue{{"string", "payment"}}}},
			{"prefix=&kind=services&limit=1", autocompleteJSON{Services: []string{"checkout"}}},
		}
		for _, c := range cases {
			status, body := autocomplete(t, n, c.query)
			if status != http.StatusOK {
				t.Errorf("%s: status %d: %s", c.query, status, body)
				continue
			}
			var got autocompleteJSON
			if err := decodeJSON([]byte(body), &got); err != nil {
				t.Fatalf("%s: %v: %s", c.query, err, body)
			}
			want := c.want
			for _, s := range []*[]string{&want.Services, &want.Operations} {
				if *s == nil {
					*s = []string{}
				}
			}
			if want.Attributes == nil {
				want.Attributes = []autocompleteAttr{}
			}
			if want.Values == nil {
				want.Values = []autocompleteValue{}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s:\n got %+v\nwant %+v", c.query, got, want)
			}
		}
		for _, c := range []struct{ query, param string }{
			{"", "prefix"},
			{"prefix=a&fuzzy=3", "fuzzy"},
			{"prefix=a&kind=values", "key"},
			{"prefix=a&kind=tags", "kind"},
			{"prefix=a&limit=0", "limit"},
			{"prefix=a&nope=1", "nope"},
		} {
			status, body := autocomplete(t, n, c.query)
			if status != http.StatusBadRequest || !strings.HasPrefix(body, `{"error":"`+c.param+`: `) {
				t.Errorf("%s: status %d, body %s; want 400 naming %s", c.query, status, body, c.param)
			}
		}
	})
}

// autocomplete calls the autocomplete handler (as GET
// /api/v1/autocomplete?query) and returns its status and body.
func autocomplete(t *testing.T, n *Node, query string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	n.whenServing(n.autocomplete)(rec, httptest.NewRequest(http.MethodGet, "/api/v1/autocomplete?"+query, nil))
	return rec.Code, rec.Body.String()
}

// BenchmarkAutocompleteTrie is the per-request cost of autocomplete's
// trie over 100,000 candidate names: build, then one prefix and one
// fuzzy lookup.
func BenchmarkAutocompleteTrie(b *testing.B) {
	names := make([]string, 100_000)
	for i := range names {
		names[i] = fmt.Sprintf("app.%s.attr_%d", []string{"http", "db", "rpc", "messaging"}[i%4], i)
	}
	b.ReportAllocs()
	for b.Loop() {
		tr := namesTrie(names)
		if len(tr.PrefixFold("app.db.attr_1", 20)) == 0 || tr.Len() != len(names) {
			b.Fatal("no match")
		}
		_ = tr.FuzzyFold("app.db.atr_12", 1, 20)
	}
}
