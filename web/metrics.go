package web

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"kioskd/kiosk"
	"kioskd/kiosk/photo"
	"kioskd/kiosk/queue"
)

// EventSource is what Metrics needs of the station: its events.
type EventSource interface {
	Subscribe() *kiosk.Subscription
}

// Metrics turns the station's events into Prometheus metrics, served in the
// text format by Handler (the server mounts it at GET /metrics). Run feeds
// it; it never slows the station: if it falls behind, the hub drops its
// subscription and Run subscribes again (the counters then miss what
// happened in between, which the scrape cannot tell apart from a quiet
// moment; the gauges are right again with the next event).
type Metrics struct {
	// StateDir is the folder whose free disk space is reported; none if
	// empty. Set before Run.
	StateDir string
	// Records, if set, is read at every scrape for kioskd_records{state}.
	// Set before the first scrape.
	Records RecordCounter
	// Sync, if set, is read at every scrape for the kioskd_sync_*
	// metrics. Set before the first scrape.
	Sync SyncCounter

	src EventSource
	reg *prometheus.Registry

	previewFPS      prometheus.Gauge
	frames          prometheus.Gauge
	analysisFPS     prometheus.Gauge
	analysed        prometheus.Counter
	analysisLatency prometheus.Histogram
	checkFailures   *prometheus.CounterVec
	steady          prometheus.Gauge
	captures        *prometheus.CounterVec
	cameraState     *prometheus.GaugeVec
	reconnects      prometheus.Counter
	drift           prometheus.Gauge
}

// NewMetrics returns the station's metrics, fed from src's events.
func NewMetrics(src EventSource) *Metrics {
	m := &Metrics{src: src, reg: prometheus.NewRegistry()}
	m.previewFPS = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "kioskd_preview_fps", Help: "Frames per second arriving from the camera (the preview rate), over the last second.",
	})
	m.frames = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "kioskd_camera_frames", Help: "Frames received from the camera since the station started.",
	})
	m.analysisFPS = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "kioskd_analysis_fps", Help: "Frames per second analysed for the framing checks, over the last second.",
	})
	m.analysed = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "kioskd_analysed_frames_total", Help: "Frames analysed for the framing checks.",
	})
	m.analysisLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "kioskd_analysis_latency_seconds",
		Help:    "Time from a frame's arrival to its framing verdict.",
		Buckets: []float64{.005, .01, .015, .02, .03, .05, .075, .1, .2, .5, 1},
	})
	m.checkFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kioskd_check_failures_total", Help: "Analysed frames on which a framing check failed, by check.",
	}, []string{"check"})
	m.steady = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "kioskd_framing_steady", Help: "1 while every framing check has held for the hold time.",
	})
	m.captures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kioskd_captures_total", Help: "Captures by outcome (review, refused, accepted, discarded) and trigger (auto or operator).",
	}, []string{"state", "trigger"})
	m.cameraState = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "kioskd_camera_state", Help: "1 for the camera's current state, 0 for the others.",
	}, []string{"state"})
	m.reconnects = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "kioskd_camera_reconnects_total", Help: "Times the camera was lost (unplugged, I/O error, stalled) and the station began to reopen it.",
	})
	m.drift = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "kioskd_calibration_drift", Help: "CIEDE2000 distance of the wall now from the booth's calibration (0 when not calibrated).",
	})
	m.reg.MustRegister(m.previewFPS, m.frames, m.analysisFPS, m.analysed, m.analysisLatency,
		m.checkFailures, m.steady, m.captures, m.cameraState, m.reconnects, m.drift,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "kioskd_disk_free_bytes", Help: "Free disk space for the station's state folder (-1 when it cannot be read).",
		}, m.diskFree),
		recordsCollector{m: m, desc: prometheus.NewDesc("kioskd_records", "Records in the station's queue, by sync state.", []string{"state"}, nil)},
		newSyncCollector(m),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	// Every check, capture outcome and camera state has a series from the
	// start, so a dashboard shows 0 rather than nothing.
	for _, id := range photo.CheckIDs {
		m.checkFailures.WithLabelValues(string(id))
	}
	for _, st := range []kiosk.CaptureState{kiosk.CaptureReview, kiosk.CaptureRefused, kiosk.CaptureAccepted, kiosk.CaptureDiscarded} {
		m.captures.WithLabelValues(string(st), "auto")
		m.captures.WithLabelValues(string(st), "operator")
	}
	for _, st := range []kiosk.CameraState{kiosk.CameraStarting, kiosk.CameraStreaming, kiosk.CameraReconnecting, kiosk.CameraBusy, kiosk.CameraStopped} {
		m.cameraState.WithLabelValues(string(st))
	}
	return m
}

// RecordCounter counts the record queue's records by state
// (*queue.Queue).
type RecordCounter interface {
	Counts() (map[queue.State]int, error)
}

// recordsCollector reports kioskd_records{state} from the queue at
// scrape time, so the numbers are never stale.
type recordsCollector struct {
	m    *Metrics
	desc *prometheus.Desc
}

func (c recordsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c recordsCollector) Collect(ch chan<- prometheus.Metric) {
	if c.m.Records == nil {
		return
	}
	counts, err := c.m.Records.Counts()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	for _, st := range queue.States {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(counts[st]), string(st))
	}
}

// SyncCounts are the sync with central's counters since the station
// started.
type SyncCounts struct {
	Attempts      uint64 // record upload attempts
	Failures      uint64 // attempts that failed (network, central's errors)
	Uploaded      uint64 // records central accepted
	UploadedBytes uint64 // blob bytes sent
	// State is idle, syncing, offline or blocked (kiosk.SyncHealth).
	State string
	// LastSuccess is the last successful exchange with central; Since is
	// when the sync started (what "seconds since" counts from before a
	// first success).
	LastSuccess, Since time.Time
}

// SyncCounter reports the sync's counters (the uplink worker, adapted by
// the program's wiring).
type SyncCounter interface {
	SyncCounts() SyncCounts
}

// syncStates are the values of kioskd_sync_state's label.
var syncStates = []string{"idle", "syncing", "offline", "blocked"}

// syncCollector reports the kioskd_sync_* metrics at scrape time.
type syncCollector struct {
	m                                   *Metrics
	attempts, failures, uploaded, bytes *prometheus.Desc
	sinceSuccess, state                 *prometheus.Desc
}

func newSyncCollector(m *Metrics) syncCollector {
	return syncCollector{m: m,
		attempts:     prometheus.NewDesc("kioskd_sync_attempts_total", "Record upload attempts to central.", nil, nil),
		failures:     prometheus.NewDesc("kioskd_sync_failures_total", "Record upload attempts that failed (network errors, central's errors).", nil, nil),
		uploaded:     prometheus.NewDesc("kioskd_sync_records_uploaded_total", "Records central accepted (receipt matched).", nil, nil),
		bytes:        prometheus.NewDesc("kioskd_sync_uploaded_bytes_total", "Bytes sent to central: photos, originals and manifests.", nil, nil),
		sinceSuccess: prometheus.NewDesc("kioskd_sync_seconds_since_success", "Seconds since the last successful exchange with central (since the sync started, before the first).", nil, nil),
		state:        prometheus.NewDesc("kioskd_sync_state", "1 for the sync's current state, 0 for the others.", []string{"state"}, nil),
	}
}

func (c syncCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.attempts, c.failures, c.uploaded, c.bytes, c.sinceSuccess, c.state} {
		ch <- d
	}
}

func (c syncCollector) Collect(ch chan<- prometheus.Metric) {
	if c.m.Sync == nil {
		return
	}
	s := c.m.Sync.SyncCounts()
	ch <- prometheus.MustNewConstMetric(c.attempts, prometheus.CounterValue, float64(s.Attempts))
	ch <- prometheus.MustNewConstMetric(c.failures, prometheus.CounterValue, float64(s.Failures))
	ch <- prometheus.MustNewConstMetric(c.uploaded, prometheus.CounterValue, float64(s.Uploaded))
	ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.CounterValue, float64(s.UploadedBytes))
	from := s.LastSuccess
	if from.IsZero() {
		from = s.Since
	}
	if !from.IsZero() {
		ch <- prometheus.MustNewConstMetric(c.sinceSuccess, prometheus.GaugeValue, max(0, time.Since(from).Seconds()))
	}
	for _, st := range syncStates {
		v := 0.0
		if st == s.State {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(c.state, prometheus.GaugeValue, v, st)
	}
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Run reads the station's events into the metrics until ctx is done; it
// returns nil then.
func (m *Metrics) Run(ctx context.Context) error {
	sub := m.src.Subscribe()
	defer func() { sub.Close() }()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var camera kiosk.CameraState
	analysed, last := 0, time.Now()
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-tick.C:
			m.analysisFPS.Set(float64(analysed) / now.Sub(last).Seconds())
			analysed, last = 0, now
		case e, ok := <-sub.Events():
			if !ok {
				if !errors.Is(sub.Err(), kiosk.ErrSlowSubscriber) {
					return nil
				}
				sub = m.src.Subscribe()
				continue
			}
			switch d := e.Data.(type) {
			case kiosk.Stats:
				m.previewFPS.Set(d.FPS)
				m.frames.Set(float64(d.Frames))
			case kiosk.Feedback:
				analysed++
				m.analysed.Inc()
				m.analysisLatency.Observe(d.LatencyMS / 1000)
				for _, c := range d.Checks {
					if c.Status == photo.StatusFail {
						m.checkFailures.WithLabelValues(string(c.ID)).Inc()
					}
				}
				m.steady.Set(b2f(d.Steady))
			case kiosk.Capture:
				if d.State != kiosk.CaptureWorking {
					trigger := "operator"
					if d.Auto {
						trigger = "auto"
					}
					m.captures.WithLabelValues(string(d.State), trigger).Inc()
				}
			case kiosk.CameraStatus:
				if d.State == kiosk.CameraReconnecting && camera != kiosk.CameraReconnecting {
					m.reconnects.Inc()
				}
				if d.State != camera {
					if camera != "" {
						m.cameraState.WithLabelValues(string(camera)).Set(0)
					}
					m.cameraState.WithLabelValues(string(d.State)).Set(1)
					camera = d.State
				}
			case kiosk.CalibrationStatus:
				m.drift.Set(d.Drift)
			}
		}
	}
}

func (m *Metrics) diskFree() float64 {
	if m.StateDir == "" {
		return -1
	}
	dir := m.StateDir
	var st syscall.Statfs_t
	// The state folder may not exist before the first calibration: ask
	// the nearest folder above it that does.
	for {
		if err := syscall.Statfs(dir, &st); err == nil {
			return float64(st.Bavail) * float64(st.Bsize)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return -1
		}
		dir = parent
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
