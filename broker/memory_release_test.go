package broker

import "testing"

// TestMemReleaserReleasesWhenQuietAfterBusy: memory is handed back once
// per busy spell, when the node goes quiet, never while it is busy and
// never for a node that was never busy.
func TestMemReleaserReleasesWhenQuietAfterBusy(t *testing.T) {
	const mib = 1 << 20
	var r memReleaser
	allocs := uint64(10 * mib)
	steps := []struct {
		name  string
		alloc uint64 // bytes allocated in this second
		want  bool
	}{
		{"first sample", 0, false},
		{"quiet, never busy", 100 << 10, false},
		{"busy", 40 * mib, false},
		{"still busy, past the spell's size", 40 * mib, false},
		{"quiet after a busy spell", 100 << 10, true},
		{"still quiet", 100 << 10, false},
		{"busy again", 70 * mib, false},
		{"quiet again", 0, true},
	}
	for _, s := range steps {
		allocs += s.alloc
		if got := r.sample(allocs); got != s.want {
			t.Errorf("%s: release %v, want %v", s.name, got, s.want)
		}
	}
}
