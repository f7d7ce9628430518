package photo_test

import (
	"testing"
	"time"

	"kioskd/kiosk/photo"
)

func TestReadiness(t *testing.T) {
	t0 := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	ok := photo.Analysis{Ready: true}
	no := photo.Analysis{Ready: false}
	type step struct {
		at   time.Duration
		a    photo.Analysis
		want bool
	}
	tests := []struct {
		name  string
		hold  time.Duration
		steps []step
	}{
		{"default hold reached at 700ms", 0, []step{{0, ok, false}, {300 * time.Millisecond, ok, false}, {699 * time.Millisecond, ok, false}, {700 * time.Millisecond, ok, true}, {800 * time.Millisecond, ok, true}}},
		{"a failing frame starts over", 0, []step{{0, ok, false}, {500 * time.Millisecond, no, false}, {600 * time.Millisecond, ok, false}, {1200 * time.Millisecond, ok, false}, {1300 * time.Millisecond, ok, true}}},
		{"custom hold", 200 * time.Millisecond, []step{{0, ok, false}, {100 * time.Millisecond, ok, false}, {200 * time.Millisecond, ok, true}, {250 * time.Millisecond, no, false}}},
		{"time going backwards starts over", 100 * time.Millisecond, []step{{time.Second, ok, false}, {500 * time.Millisecond, ok, false}, {650 * time.Millisecond, ok, true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := photo.Readiness{Hold: tt.hold}
			for i, s := range tt.steps {
				if got := r.Update(t0.Add(s.at), s.a); got != s.want {
					t.Errorf("step %d: Update(+%v, ready=%v) = %v; want %v", i, s.at, s.a.Ready, got, s.want)
				}
			}
		})
	}
}
