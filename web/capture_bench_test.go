package web_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"kioskd/kiosk"
)

// BenchmarkCaptureCommand measures a capture as the console sees it: from
// sending {"type":"capture"} on the WebSocket to the station's "review"
// event, on the demo camera's settled frame (1280x720, repeated at 20 fps,
// no live analysis), followed by a retake. One op is one capture; ms/capture
// is the median, took_ms the station's own figure for the same captures.
func BenchmarkCaptureCommand(b *testing.B) {
	h := startDemoBooth(b, settledAt, nil)
	c := h.dial(b)
	nextText(b, c, "hello")
	var lats, took []float64
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		send(b, c, `{"type":"capture"}`)
		rev := waitCapture(b, c, kiosk.CaptureReview)
		lats = append(lats, float64(time.Since(start).Microseconds())/1000)
		took = append(took, rev.TookMS)
		send(b, c, fmt.Sprintf(`{"type":"retake","id":%d}`, rev.ID))
		// The capture's own result may come before or after the retake's.
		raw := waitText(b, c, 10*time.Second, "the retake result", func(raw []byte, m message) bool {
			var r result
			return m.Type == "result" && json.Unmarshal(raw, &r) == nil && r.For == "retake"
		})
		var r result
		if err := json.Unmarshal(raw, &r); err != nil || r.OK == nil || !*r.OK {
			b.Fatalf("retake result %s", raw)
		}
	}
	b.StopTimer()
	b.ReportMetric(median(lats), "ms/capture")
	b.ReportMetric(median(took), "took_ms")
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
