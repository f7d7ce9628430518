package demo_test

import (
	"testing"
	"time"

	"kioskd/camera/demo"
	"kioskd/kiosk"
)

// BenchmarkSetup measures start-up: cutting the person out of the portrait
// and drawing the body, which the first Frame call does.
func BenchmarkSetup(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if n := demo.NewScene().Frames(); n == 0 {
			b.Fatal("no frames")
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/setup")
}

// BenchmarkRender measures rendering and encoding one new frame (the cost
// of each distinct frame, paid once, in the first loop). It renders the
// frames of the moving phases, which are all different.
func BenchmarkRender(b *testing.B) {
	var moving []int
	for _, p := range demo.Timeline() {
		switch p.Name {
		case demo.PhaseEnter, demo.PhaseTilt, demo.PhaseSettle, demo.PhaseExit:
			for i := int(p.Start * demo.DefaultFPS / time.Second); i < int(p.End*demo.DefaultFPS/time.Second); i++ {
				moving = append(moving, i)
			}
		}
	}
	var s *demo.Scene
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%len(moving) == 0 {
			b.StopTimer()
			s = demo.NewScene()
			s.Frames() // set up outside the timing
			b.StartTimer()
		}
		if _, err := s.Frame(moving[i%len(moving)]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/frame")
}

// BenchmarkDeliver measures the steady state: what Run does per frame once
// the loop's frames are cached (taking the frame and handing it over).
func BenchmarkDeliver(b *testing.B) {
	s := demo.NewScene()
	n := s.Frames()
	for i := range n {
		if _, err := s.Frame(i); err != nil {
			b.Fatal(err)
		}
	}
	var sink discard
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		f, err := s.Frame(i)
		if err != nil {
			b.Fatal(err)
		}
		sink.PutFrame(f)
		i++
	}
	if sink.n == 0 {
		b.Fatal("no frame delivered")
	}
}

type discard struct{ n int }

func (d *discard) PutFrame(f kiosk.Frame)             { d.n += len(f.JPEG) & 1 }
func (d *discard) SetCameraStatus(kiosk.CameraStatus) {}

func holdFrame(tb testing.TB) int {
	for _, p := range demo.Timeline() {
		if p.Name == demo.PhaseHold {
			return int(p.Start*demo.DefaultFPS/time.Second) + 1
		}
	}
	tb.Fatal("no hold phase")
	return 0
}
