package perf

import (
	"slices"
	"sync"
)

// maxExamples bounds the details kept per anomaly kind.
const maxExamples = 5

// anomalyLog counts anomalies by kind and keeps the first few details.
type anomalyLog struct {
	mu    sync.Mutex
	kinds map[string]*Anomaly
}

// add records n occurrences of an anomaly with one example detail.
func (a *anomalyLog) add(kind string, n uint64, detail string) {
	if n == 0 {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.kinds == nil {
		a.kinds = map[string]*Anomaly{}
	}
	k := a.kinds[kind]
	if k == nil {
		k = &Anomaly{Kind: kind}
		a.kinds[kind] = k
	}
	k.Count += n
	if detail != "" && len(k.Examples) < maxExamples && !slices.Contains(k.Examples, detail) {
		k.Examples = append(k.Examples, detail)
	}
}

// list returns the anomalies sorted by kind.
func (a *anomalyLog) list() []Anomaly {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]Anomaly, 0, len(a.kinds))
	for _, k := range a.kinds {
		out = append(out, *k)
	}
	slices.SortFunc(out, func(x, y Anomaly) int {
		switch {
		case x.Kind < y.Kind:
			return -1
		case x.Kind > y.Kind:
			return 1
		}
		return 0
	})
	return out
}
