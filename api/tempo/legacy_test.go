package tempo

import (
	"strings"
	"testing"
)

func TestLegacyTraceQL(t *testing.T) {
	tests := []struct {
		name         string
		tags         map[string]string
		minMs, maxMs int64
		want         string
	}{
		{"nothing", nil, 0, 0, "{}"},
		{"service", map[string]string{"service.name": "cart"}, 0, 0, `{ resource.service.name =~ ".*cart.*" }`},
		{"root name", map[string]string{"root.name": "GET /api"}, 0, 0, `{ rootName =~ ".*GET /api.*" }`},
		{"root service", map[string]string{"root.service.name": "front"}, 0, 0, `{ rootServiceName =~ ".*front.*" }`},
		{"span name quoted for regexp", map[string]string{"name": `a.b*(c)"d\`}, 0, 0, `{ name =~ ".*a\\.b\\*\\(c\\)\"d\\\\.*" }`},
		{"empty substring", map[string]string{"name": ""}, 0, 0, `{ name =~ ".*.*" }`},
		{"status", map[string]string{"status.code": "error"}, 0, 0, "{ status = error }"},
		{"status ok", map[string]string{"status.code": "ok"}, 0, 0, "{ status = ok }"},
		{"status unknown is unset", map[string]string{"status.code": "ERROR"}, 0, 0, "{ status = unset }"},
		{"generic", map[string]string{"http.url": "api/myapi"}, 0, 0, `{ .http.url = "api/myapi" }`},
		{"generic int stays a string", map[string]string{"http.status_code": "500"}, 0, 0, `{ .http.status_code = "500" }`},
		{"quoted key", map[string]string{"my key": "v"}, 0, 0, `{ ."my key" = "v" }`},
		{"key with operator", map[string]string{"a=b": "v"}, 0, 0, `{ ."a=b" = "v" }`},
		{"key with dots at ends", map[string]string{".a": "v", "b.": "w"}, 0, 0, `{ .".a" = "v" } && { ."b." = "w" }`},
		{"value escapes", map[string]string{"k": "line\nbreak \"q\""}, 0, 0, `{ .k = "line\nbreak \"q\"" }`},
		{"min", nil, 100, 0, "{ traceDuration >= 100ms }"},
		{"max", nil, 0, 2500, "{ traceDuration <= 2500ms }"},
		{"both", nil, 100, 2500, "{ traceDuration >= 100ms && traceDuration <= 2500ms }"},
		{"sorted and joined", map[string]string{"service.name": "cart", "http.method": "GET", "status.code": "error"}, 600, 0,
			`{ .http.method = "GET" } && { resource.service.name =~ ".*cart.*" } && { status = error } && { traceDuration >= 600ms }`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := legacyTraceQL(tt.tags, tt.minMs, tt.maxMs); got != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestDecodeTags(t *testing.T) {
	tests := []struct {
		in      string
		want    map[string]string
		wantErr string
	}{
		{"", map[string]string{}, ""},
		{"service.name=myservice http.url=api/myapi", map[string]string{"service.name": "myservice", "http.url": "api/myapi"}, ""},
		{`  a=1   b="two words"  `, map[string]string{"a": "1", "b": "two words"}, ""},
		{"a", map[string]string{"a": ""}, ""},
		{"a= b=", map[string]string{"a": "", "b": ""}, ""},
		{`a=""`, map[string]string{"a": ""}, ""},
		{`a="x\"y\\z\u00e9\/\t"`, map[string]string{"a": "x\"y\\zé/\t"}, ""},
		{`a="\ud83d\ude00" b="\ud83d"`, map[string]string{"a": "😀", "b": "\ufffd"}, ""},
		{"a=1\nb=2\r\n\nc=3", map[string]string{"a": "1", "b": "2", "c": "3"}, ""},
		{`a="x"b=2`, map[string]string{"a": "x", "b": "2"}, ""},
		{"é=1", map[string]string{"é": "1"}, ""},
		// errors: messages and 1-based positions as go-logfmt reports them
		{"=1", nil, "invalid tags: unexpected '=' at pos 1"},
		{"a b =1", nil, "invalid tags: unexpected '=' at pos 5"},
		{`"a"=1`, nil, `invalid tags: unexpected '"' at pos 1`},
		{`ab"=1`, nil, `invalid tags: unexpected '"' at pos 3`},
		{"a=b=c", nil, "invalid tags: unexpected '=' at pos 4"},
		{`a=b"c`, nil, `invalid tags: unexpected '"' at pos 4`},
		{`a="bc`, nil, "invalid tags: unterminated quoted value at pos 6"},
		{`a="b\"`, nil, "invalid tags: unterminated quoted value at pos 7"},
		{`a="\x"`, nil, "invalid tags: invalid quoted value at pos 7"},
		{"a=\"\\u12\"", nil, "invalid tags: invalid quoted value at pos 9"},
		{"a=\"\x01\\n\"", nil, "invalid tags: invalid quoted value at pos 8"},
		{"k\xff=1", nil, "invalid tags: invalid key at pos 3"},
		{"ok=1\nk\xff", nil, "invalid tags: invalid key at pos 3"},
		{"a=1 a=2", nil, "invalid tags: tag a has been set twice"},
		{"a=1\na", nil, "invalid tags: tag a has been set twice"},
		{strings.Repeat("x", 65535), map[string]string{strings.Repeat("x", 65535): ""}, ""},
		{strings.Repeat("x", 65536), nil, "invalid tags: bufio.Scanner: token too long"},
		{strings.Repeat("x", 65535) + "\n", map[string]string{strings.Repeat("x", 65535): ""}, ""},
		{strings.Repeat("x", 65536) + "\n", nil, "invalid tags: bufio.Scanner: token too long"},
	}
	for _, tt := range tests {
		name := tt.in
		if len(name) > 40 {
			name = name[:40]
		}
		t.Run(name, func(t *testing.T) {
			got, err := decodeTags(tt.in)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wantEqual(t, got, tt.want)
		})
	}
}
