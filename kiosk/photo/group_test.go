package photo

import (
	"errors"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// raised runs f and returns the panic it raised as a *workerPanic (nil if
// it raised none); any other panic fails the test.
func raised(t *testing.T, f func()) (p *workerPanic) {
	t.Helper()
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		wp, ok := v.(*workerPanic)
		if !ok {
			t.Fatalf("raised %T %v; want a *workerPanic", v, v)
		}
		p = wp
	}()
	f()
	return nil
}

// severalCPUs sets GOMAXPROCS to 4, the passes' most workers, for t.
func severalCPUs(t *testing.T) {
	t.Helper()
	old := runtime.GOMAXPROCS(4)
	t.Cleanup(func() { runtime.GOMAXPROCS(old) })
}

// TestParallelRowsRaisesWorkerPanic: a panic in one range reaches the
// caller with the worker's stack, after every other range has finished.
func TestParallelRowsRaisesWorkerPanic(t *testing.T) {
	severalCPUs(t)
	var finished atomic.Int32
	p := raised(t, func() {
		parallelRows(1024, func(y0, y1 int) {
			if y0 == 0 {
				var s []int
				_ = s[y1] // index out of range
			}
			time.Sleep(20 * time.Millisecond) // still running when the first range panics
			finished.Add(1)
		})
	})
	if p == nil {
		t.Fatal("parallelRows returned; want the range's panic")
	}
	if n := finished.Load(); n != 3 {
		t.Errorf("%d other ranges finished before the panic was raised; want 3", n)
	}
	var re runtime.Error
	if err, ok := p.value.(error); !ok || !errors.As(err, &re) {
		t.Errorf("value %v; want the runtime error", p.value)
	}
	if !strings.Contains(p.Error(), "index out of range") || !strings.Contains(p.Error(), "TestParallelRowsRaisesWorkerPanic") {
		t.Errorf("message lacks the value or the worker's stack:\n%s", p.Error())
	}
}

// TestBothWaitsAndRaises: both waits for g when f panics, and raises a
// panic of g's after f is done.
func TestBothWaitsAndRaises(t *testing.T) {
	severalCPUs(t)
	var gDone atomic.Bool
	p := raised(t, func() {
		both(func() { panic("f") }, func() {
			time.Sleep(20 * time.Millisecond)
			gDone.Store(true)
		})
	})
	if p == nil || p.value != "f" {
		t.Errorf("raised %v; want f's panic", p)
	}
	if !gDone.Load() {
		t.Error("f's panic unwound before g was done")
	}
	fDone := false
	p = raised(t, func() {
		both(func() { fDone = true }, func() { panic("g") })
	})
	if p == nil || p.value != "g" || !fDone {
		t.Errorf("panic %v, f done %v; want g's panic after f", p, fDone)
	}
}

// TestBlockPipeRaisesWorkerPanic: a transform that panics neither stalls
// the decoder (runs still come back to the ring) nor ends the process:
// finish raises it.
func TestBlockPipeRaisesWorkerPanic(t *testing.T) {
	severalCPUs(t)
	d := &lumaDecoder{}
	p := d.startPipe()
	// Several times the ring's length, so that a run kept by a worker
	// after the panic would stall the sends; one block of its own each,
	// in a plane 16 pixels wide.
	sends := 4 * cap(p.free)
	d.frame.y, d.frame.ystride = make([]uint8, 16*8*sends), 16
	raisedBy := make(chan *workerPanic, 1)
	go func() {
		raisedBy <- raised(t, func() {
			defer p.finish()
			for k := range sends {
				p.cur.coef[0][0] = 128
				p.cur.job[0] = blockJob{off: k*16*8 + 8}
				if k == 1 {
					p.cur.job[0].off = 1 << 20 // outside the plane
				}
				p.cur.n = 1
				p.send()
			}
		})
	}()
	select {
	case wp := <-raisedBy:
		if wp == nil || !strings.Contains(wp.Error(), "out of range") {
			t.Fatalf("finish raised %v; want the transform's index error", wp)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the decoder stalled: a worker kept a run after its panic")
	}
}

// TestBlockPipeZeroAfterDecoderPanic: a panic in the entropy decoding,
// with a block half decoded and not yet counted, leaves the run that goes
// back to the pool zero.
func TestBlockPipeZeroAfterDecoderPanic(t *testing.T) {
	severalCPUs(t)
	d := &lumaDecoder{}
	d.frame.y, d.frame.ystride = make([]uint8, 16*8), 16
	p := d.startPipe()
	run := p.cur
	func() {
		defer func() { recover() }()
		defer p.finish()
		run.coef[0][0] = 128
		run.job[0] = blockJob{off: 8}
		run.n = 1
		run.coef[1][5] = 3 // the block being decoded when the panic came
		panic("in blockCoefs")
	}()
	for i := range run.coef {
		if run.coef[i] != ([64]float32{}) {
			t.Fatalf("block %d of the pooled run is %v; want zero", i, run.coef[i][:8])
		}
	}
}
