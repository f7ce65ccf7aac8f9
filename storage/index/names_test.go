package index

import (
	"math/rand/v2"
	"strings"
)

// Realistic telemetry names for the trie's tests and benchmarks, generated
// deterministically.

var (
	testWords = strings.Fields(`user users order orders cart checkout payment payments
		invoice account accounts session sessions token auth login logout profile
		product products catalog search inventory stock shipping shipment address
		customer customers review reviews rating recommendation notification email
		message messages queue event events metric metrics trace span log record
		cache redis postgres mysql mongo kafka rabbit grpc http rpc client server
		request response status method route target host port peer name version
		pod node container namespace deployment cluster region zone cloud provider
		service instance process runtime thread memory cpu disk network socket
		select insert update delete upsert query batch commit rollback connection
		pool worker scheduler job task cron retry timeout error exception handler
		frontend backend gateway proxy edge ingress egress config feature flag
		ledger balance transfer refund coupon discount price currency tax report`)
	testSyllables = strings.Fields(`ka ro mi tu se la no vi pe da zo fi
		ban tor mel sin qua rex vol dun pra gil hop wen`)
	testMethods = []string{"GET", "POST", "PUT", "DELETE", "PATCH"}
	testSeps    = []string{".", "_", "-", "/"}
)

// testWord returns a dictionary word or, one time in three, a made-up one.
func testWord(rng *rand.Rand) string {
	if rng.IntN(3) > 0 {
		return testWords[rng.IntN(len(testWords))]
	}
	var b strings.Builder
	for range 1 + rng.IntN(3) {
		b.WriteString(testSyllables[rng.IntN(len(testSyllables))])
	}
	return b.String()
}

// testName returns one name of a mix of shapes.
func testName(rng *rand.Rand) string {
	w := func() string { return testWord(rng) }
	switch rng.IntN(8) {
	case 0: // an HTTP route
		var b strings.Builder
		b.WriteString(testMethods[rng.IntN(len(testMethods))])
		b.WriteString(" /api/v")
		b.WriteByte(byte('1' + rng.IntN(3)))
		for range 1 + rng.IntN(3) {
			b.WriteString("/" + w())
			if rng.IntN(2) == 0 {
				b.WriteString("/{id}")
			}
		}
		return b.String()
	case 1: // a service
		suffix := []string{"-service", "-api", "-worker", "-svc", ""}[rng.IntN(5)]
		return w() + "-" + w() + suffix
	case 2: // a database operation
		verbs := []string{"select", "insert", "update", "delete"}
		return "db.query." + verbs[rng.IntN(4)] + "_" + w()
	case 3: // a semantic-convention-like attribute key
		ns := []string{"http", "k8s", "db", "rpc", "net", "cloud", "messaging", "service", "process"}
		return ns[rng.IntN(len(ns))] + "." + w() + "." + w()
	case 4: // a camel-cased operation
		a, b := w(), w()
		return strings.ToUpper(a[:1]) + a[1:] + strings.ToUpper(b[:1]) + b[1:]
	default: // words joined by one separator
		sep := testSeps[rng.IntN(len(testSeps))]
		parts := make([]string, 2+rng.IntN(3))
		for i := range parts {
			parts[i] = w()
		}
		return strings.Join(parts, sep)
	}
}

// testNames returns n distinct names generated from seed.
func testNames(seed uint64, n int) []string {
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	seen := make(map[string]bool, n)
	out := make([]string, 0, n)
	for len(out) < n {
		s := testName(rng)
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// typo returns s with edits random edits (substitution, insertion, deletion,
// or transposition of adjacent bytes).
func typo(rng *rand.Rand, s string, edits int) string {
	b := []byte(s)
	const letters = "abcdefghijklmnopqrstuvwxyz._-/"
	for range edits {
		switch op := rng.IntN(4); {
		case len(b) == 0 || op == 0:
			i := rng.IntN(len(b) + 1)
			b = append(b[:i], append([]byte{letters[rng.IntN(len(letters))]}, b[i:]...)...)
		case op == 1:
			b[rng.IntN(len(b))] = letters[rng.IntN(len(letters))]
		case op == 2:
			i := rng.IntN(len(b))
			b = append(b[:i], b[i+1:]...)
		case len(b) >= 2:
			i := rng.IntN(len(b) - 1)
			b[i], b[i+1] = b[i+1], b[i]
		}
	}
	return string(b)
}

// osa is the brute-force optimal string alignment distance over bytes,
// folding ASCII case if fold: the full dynamic-programming matrix, except
// that strings whose lengths differ by more than MaxFuzzyDist report that
// difference (a lower bound, and already too far).
func osa(a, b string, fold bool) int {
	if d := len(a) - len(b); d > MaxFuzzyDist || -d > MaxFuzzyDist {
		return max(d, -d)
	}
	if fold {
		a, b = asciiLower(a), asciiLower(b)
	}
	w := len(b) + 1
	d := make([]int, (len(a)+1)*w)
	for i := 0; i <= len(a); i++ {
		d[i*w] = i
	}
	for j := 0; j <= len(b); j++ {
		d[j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			v := min(d[(i-1)*w+j]+1, d[i*w+j-1]+1, d[(i-1)*w+j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				v = min(v, d[(i-2)*w+j-2]+1)
			}
			d[i*w+j] = v
		}
	}
	return d[len(a)*w+len(b)]
}

// asciiLower folds A–Z only, as the trie does.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		b[i] = lower(c)
	}
	return string(b)
}
