package cache

import (
	"bytes"
	"context"
	"fmt"
	"testing"
)

// Keys shaped like the callers' (plan, range, limits, epoch), values of 1 KiB.
func BenchmarkL1Get(b *testing.B) {
	c := newTestCache(b, LocalConfig(), nil)
	ctx := context.Background()
	val := bytes.Repeat([]byte{'v'}, 1<<10)
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprintf("query:%d:range:1700000000-1700003600:limit:100:epoch:7", i)
		c.Set(ctx, keys[i], val)
	}
	b.SetBytes(int64(len(val)))
	i := 0
	for b.Loop() {
		if _, ok := c.Get(ctx, keys[i%len(keys)]); !ok {
			b.Fatal("miss")
		}
		i++
	}
}

func BenchmarkL1Set(b *testing.B) {
	// 8 MiB of 1 KiB values: after ~8000 keys every Set also evicts.
	c := newTestCache(b, LocalConfig(), nil)
	ctx := context.Background()
	val := bytes.Repeat([]byte{'v'}, 1<<10)
	keys := make([]string, 16384)
	for i := range keys {
		keys[i] = fmt.Sprintf("query:%d:range:1700000000-1700003600:limit:100:epoch:7", i)
	}
	b.SetBytes(int64(len(val)))
	i := 0
	for b.Loop() {
		c.Set(ctx, keys[i%len(keys)], val)
		i++
	}
}
