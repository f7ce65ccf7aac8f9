package index

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
)

func TestKeyValuesBound(t *testing.T) {
	kv := NewKeyValues(3)
	for _, v := range []string{"GET", "POST", "GET", "PUT"} {
		kv.Insert("http.request.method", v, 1)
	}
	kv.Insert("service.name", "checkout", 2|TagTooManyValues) // the reserved bit is cleared
	if vals, tooMany := kv.Values("http.request.method"); tooMany || vals.Len() != 3 {
		t.Fatalf("3 values under a bound of 3: tooMany %v, %d values", tooMany, vals.Len())
	}
	kv.Insert("http.request.method", "DELETE", 4) // past the bound: dropped
	kv.Insert("http.request.method", "GET", 8)    // known: still counted
	vals, tooMany := kv.Values("http.request.method")
	if !tooMany || vals.Len() != 3 {
		t.Fatalf("past the bound: tooMany %v, %d values", tooMany, vals.Len())
	}
	if _, ok := vals.Get("DELETE"); ok {
		t.Errorf("a value past the bound was kept")
	}
	if e, _ := vals.Get("GET"); e.Count != 3 || e.Tags != 9 {
		t.Errorf("GET = %+v, want count 3, tags 9", e)
	}
	keys := kv.Keys().Prefix("", 0)
	want := []Entry{
		{Name: "http.request.method", Tags: 1 | 4 | 8 | TagTooManyValues, Count: 6},
		{Name: "service.name", Tags: 2, Count: 1},
	}
	if !slices.Equal(keys, want) {
		t.Errorf("keys = %+v, want %+v", keys, want)
	}
	if v, tooMany := kv.Values("absent"); v != nil || tooMany {
		t.Errorf("Values(absent) = %v, %v", v, tooMany)
	}
	if kv.Len() != 2 || kv.MaxValuesPerKey() != 3 || kv.SizeBytes() <= 0 {
		t.Errorf("Len %d, MaxValuesPerKey %d, SizeBytes %d", kv.Len(), kv.MaxValuesPerKey(), kv.SizeBytes())
	}
	if NewKeyValues(0).MaxValuesPerKey() != DefaultMaxValuesPerKey || NewKeyValues(1<<30).MaxValuesPerKey() != MaxValuesPerKeyLimit {
		t.Errorf("NewKeyValues does not clamp its bound")
	}
}

func TestKeyValuesZeroValue(t *testing.T) {
	var kv KeyValues
	if kv.Len() != 0 || kv.MaxValuesPerKey() != DefaultMaxValuesPerKey {
		t.Fatalf("zero KeyValues: Len %d, bound %d", kv.Len(), kv.MaxValuesPerKey())
	}
	kv.Insert("k", "v", 1)
	if v, _ := kv.Values("k"); v == nil || v.Len() != 1 {
		t.Fatalf("zero KeyValues lost an insert")
	}
	var other KeyValues
	kv.Merge(&other)
	other.Merge(&kv)
	if other.Len() != 1 {
		t.Fatalf("merge into a zero KeyValues: Len %d", other.Len())
	}
}

func TestKeyValuesMergeAndRoundTrip(t *testing.T) {
	a, b := NewKeyValues(100), NewKeyValues(100)
	for i := range 150 {
		a.Insert("user.id", fmt.Sprint("u", i), 1) // overflows in a
		b.Insert("k8s.pod.name", fmt.Sprint("pod-", i%60), 2)
		if i < 60 {
			a.Insert("k8s.pod.name", fmt.Sprint("pod-", 30+i), 1) // 90 distinct once merged
		}
	}
	a.Merge(b)
	a.Merge(a)
	if v, tooMany := a.Values("k8s.pod.name"); tooMany || v.Len() != 90 {
		t.Errorf("merged pods: %d values, tooMany %v; want 90, false", v.Len(), tooMany)
	}
	if v, tooMany := a.Values("user.id"); !tooMany || v.Len() != 100 {
		t.Errorf("user.id: %d values, tooMany %v; want 100, true", v.Len(), tooMany)
	}
	c := NewKeyValues(100)
	b.Insert("k8s.pod.name", "pod-extra", 2)
	for i := range 50 {
		c.Insert("k8s.pod.name", fmt.Sprint("other-", i), 4)
	}
	c.Merge(b) // 50 + 61 distinct: the merge drops some
	if v, tooMany := c.Values("k8s.pod.name"); !tooMany || v.Len() != 100 {
		t.Errorf("merge past the bound: %d values, tooMany %v", v.Len(), tooMany)
	}

	data, err := a.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	back := NewKeyValues(5)
	if err := back.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	if back.MaxValuesPerKey() != 100 || !slices.Equal(back.Keys().entries(), a.Keys().entries()) {
		t.Fatalf("decoded keys differ")
	}
	for _, k := range []string{"user.id", "k8s.pod.name"} {
		va, ma := a.Values(k)
		vb, mb := back.Values(k)
		if ma != mb || !slices.Equal(va.entries(), vb.entries()) {
			t.Errorf("decoded values of %s differ", k)
		}
	}
	again, _ := back.MarshalBinary()
	if string(again) != string(data) {
		t.Errorf("re-encoding differs")
	}

	for _, bad := range [][]byte{nil, {9}, data[:len(data)-1], append(slices.Clone(data[:len(data)-4]), 0, 0, 0, 0)} {
		kv := NewKeyValues(7)
		kv.Insert("k", "v", 1)
		if err := kv.UnmarshalBinary(bad); !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrVersion) {
			t.Errorf("UnmarshalBinary(%d bytes) = %v", len(bad), err)
		}
		if kv.Len() != 1 || kv.MaxValuesPerKey() != 7 {
			t.Errorf("a failed decode changed the index")
		}
	}
}

func TestKeyValuesConcurrent(t *testing.T) {
	kv := NewKeyValues(50)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				kv.Insert(fmt.Sprint("key", i%7), fmt.Sprint("v", g, "-", i%40), uint64(g))
				if vals, _ := kv.Values("key0"); vals != nil {
					vals.Prefix("v", 5)
				}
				kv.Keys().Fuzzy("kye1", 2, 3)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 20 {
			if _, err := kv.MarshalBinary(); err != nil {
				t.Error(err)
			}
		}
	}()
	wg.Wait()
	for i := range 7 {
		k := fmt.Sprint("key", i)
		vals, tooMany := kv.Values(k)
		if vals.Len() != 50 || !tooMany {
			t.Errorf("%s: %d values, tooMany %v; want 50, true", k, vals.Len(), tooMany)
		}
	}
}
