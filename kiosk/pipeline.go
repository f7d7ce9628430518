package kiosk

import (
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"kioskd/kiosk/photo"
)

// ErrPipelinePanic is the error of a frame analysis, capture or
// calibration that panicked in the photo pipeline: a bug, which the booth
// survives. The panic and its stack are in the daemon's log.
var ErrPipelinePanic = errors.New("internal error in the photo pipeline (a bug; the details are in the log)")

// pipelineRefusal is the refusal a capture shows when the pipeline
// panicked: the screen tells the operator to try again, and whom to call.
var pipelineRefusal = &photo.RefusalError{
	Reason: ErrPipelinePanic,
	Code:   "internal",
	Hint: photo.Hint{
		Zh: "系统内部错误，未生成照片。请再拍一次；如反复出现，请联系技术人员。",
		En: "Internal error: no photo was made. Take it again; if it keeps happening, call the technician.",
	},
}

// freshAnalyzer returns a new Analyzer with old's settings, to take the
// place of one that panicked; old itself if no new one can be made (its
// cascades, which cannot fail once one Analyzer exists).
func freshAnalyzer(old *photo.Analyzer) *photo.Analyzer {
	an, err := photo.NewAnalyzer()
	if err != nil {
		return old
	}
	an.MinFaceQ, an.MaxPixels, an.Limits, an.Full = old.MinFaceQ, old.MaxPixels, old.Limits, old.Full
	return an
}

// safely runs f, a step of the photo pipeline, and returns its error. A
// panic in f becomes an error wrapping ErrPipelinePanic, and is logged
// with its stack at most once a minute for each step (a bug that every
// frame hits would otherwise fill the journal). The pipeline is pure
// computation on its own buffers (its one shared pool, the decoder's
// block runs, goes back zero even from a panic), and its parallel passes
// stop every goroutine before they raise a panic of theirs, so the
// station goes on; callers drop the Analyzer that panicked and take a
// new one.
func (s *Station) safely(during string, f func() error) (err error) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		err = fmt.Errorf("%s: %w", during, ErrPipelinePanic)
		s.mu.Lock()
		now := time.Now()
		quiet := now.Sub(s.lastPanicLog[during]) < time.Minute
		if !quiet {
			if s.lastPanicLog == nil {
				s.lastPanicLog = make(map[string]time.Time)
			}
			s.lastPanicLog[during] = now
		}
		s.mu.Unlock()
		if !quiet {
			s.logger.Error("the photo pipeline panicked; the booth goes on", "during", during,
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		}
	}()
	if s.pipelineHook != nil {
		s.pipelineHook(during)
	}
	return f()
}
