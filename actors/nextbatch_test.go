package actors

import "testing"

func TestNextBatch(t *testing.T) {
	for _, c := range []struct {
		name                            string
		last, evaluated, matched, limit int
		want                            int
	}{
		{"nothing matched: grow by budgetGrowth", 20, 20, 0, 20, 80},
		{"share says a little more: at least twice", 100, 100, 15, 20, 200},
		{"share says far more: at most budgetGrowth times", 419, 419, 2, 20, 1676},
		{"share in between", 100, 100, 10, 20, 100 + 100 + 25},
		{"capped", 1 << 20, 1 << 20, 0, 20, 1<<20 + 1},
	} {
		if got := nextBatch(c.last, c.evaluated, c.matched, c.limit); got != c.want {
			t.Errorf("%s: nextBatch(%d, %d, %d, %d) = %d, want %d", c.name, c.last, c.evaluated, c.matched, c.limit, got, c.want)
		}
	}
}
