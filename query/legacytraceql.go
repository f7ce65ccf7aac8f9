package query

import (
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/starling-otel/starling/proto/starlingpb"
)

// LegacyTraceQL writes a search of the native API's condition parameters
// as one TraceQL filter, so every trace search runs on the TraceQL
// engine: every condition holds on one span. An attribute value compares
// as a string, as the parameters always did: a value that reads as an
// integer, a float or a boolean also matches the attribute of that type
// (attr.http.status_code=500 finds the int 500 and the string "500").
func LegacyTraceQL(s *starlingpb.TraceSearch) string {
	var conds []string
	if s.GetService() != "" {
		conds = append(conds, "resource.service.name = "+strconv.Quote(s.GetService()))
	}
	if s.GetName() != "" {
		conds = append(conds, "name = "+strconv.Quote(s.GetName()))
	}
	switch s.GetStatus() {
	case 1:
		conds = append(conds, "status = unset")
	case 2:
		conds = append(conds, "status = ok")
	case 3:
		conds = append(conds, "status = error")
	}
	if d := s.GetMinDurationNano(); d > 0 {
		conds = append(conds, "duration >= "+time.Duration(d).String())
	}
	if d := s.GetMaxDurationNano(); d > 0 {
		conds = append(conds, "duration <= "+time.Duration(d).String())
	}
	for _, a := range s.GetAttributes() {
		conds = append(conds, attrCondition(a.GetKey(), a.GetValue()))
	}
	if len(conds) == 0 {
		return "{ }"
	}
	return "{ " + strings.Join(conds, " && ") + " }"
}

// bareName is an attribute name TraceQL reads unquoted.
var bareName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.\-/]*$`)

// attrCondition is .key = value, value as a string and, where it reads as
// one, as the typed literal too.
func attrCondition(key, value string) string {
	ref := "." + key
	if !bareName.MatchString(key) || strings.HasSuffix(key, ".") {
		ref = "." + strconv.Quote(key)
	}
	alts := []string{ref + " = " + strconv.Quote(value)}
	if _, err := strconv.ParseInt(value, 10, 64); err == nil {
		alts = append(alts, ref+" = "+value)
	} else if decimal.MatchString(value) {
		alts = append(alts, ref+" = "+value)
	} else if value == "true" || value == "false" {
		alts = append(alts, ref+" = "+value)
	}
	if len(alts) == 1 {
		return alts[0]
	}
	return "(" + strings.Join(alts, " || ") + ")"
}

// decimal is a float literal TraceQL reads: digits, one point, digits.
var decimal = regexp.MustCompile(`^-?[0-9]+\.[0-9]+$`)
