package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"kioskd/camera"
	"kioskd/camera/demo"
	"kioskd/camera/replay"
	"kioskd/kiosk"
	"kioskd/kiosk/photo"
	"kioskd/kiosk/queue"
	"kioskd/kiosk/roster"
	"kioskd/sync/wire"
	"kioskd/web"
)

// runConfig is the configuration of `kioskd run`.
type runConfig struct {
	listen       string
	allowedHosts listValue
	camera       string
	cameraSize   sizeValue
	cameraFPS    fpsValue
	rotate       rotationValue
	replay       string
	replayFPS    fpsValue
	demoFPS      fpsValue
	photo        photoFlags
	analysisRate float64
	hold         time.Duration
	countdown    time.Duration
	autoCapture  bool
	stateDir     string
	minFree      byteSize
	stationID    string
	operators    string
	fee          int
	idleTimeout  time.Duration
	window       windowValue
	central      centralFlags
	logLevel     slog.Level

	// syncInterval is how often the uplink polls central's feeds; the
	// uplink's default if 0 (the demo polls faster). Not a flag.
	syncInterval time.Duration
}

// defaultMinFree is the free space the state folder should keep: the
// records and photos of a busy day, with room to spare.
const defaultMinFree = 1 << 30

func (m *Main) parseRun(args []string) (runConfig, error) {
	cfg := newRunConfig()
	fs := newFlagSet("run", "kioskd [run] [FLAGS]", m.Stderr)
	cfg.register(fs)
	if err := parseFlags(fs, args, m.Getenv); err != nil {
		return cfg, err
	}
	return cfg, cfg.validate()
}

// newRunConfig returns the defaults of the station's settings.
func newRunConfig() runConfig {
	return runConfig{
		listen:     "127.0.0.1:8080",
		camera:     "auto",
		cameraSize: sizeValue{camera.DefaultMaxWidth, camera.DefaultMaxHeight},
		cameraFPS:  fpsValue(camera.DefaultMinFPS),
		replayFPS:  15,
		demoFPS:    15,

		analysisRate: kiosk.DefaultAnalysisRate,
		hold:         photo.DefaultHold,
		countdown:    kiosk.DefaultCountdown,
		minFree:      defaultMinFree,
		fee:          kiosk.DefaultFeeYuan,
		idleTimeout:  kiosk.DefaultIdleTimeout,
	}
}

// register defines the station's settings on fs: `kioskd run` and
// `kioskd doctor` share them, so that the doctor judges the configuration
// the service uses.
func (cfg *runConfig) register(fs *flag.FlagSet) {
	fs.StringVar(&cfg.listen, "listen", cfg.listen, "address of the operator UI; keep it on loopback unless the booth screen is another machine")
	fs.Var(&cfg.allowedHosts, "allowed-hosts", "extra host names the UI may be reached by, comma-separated (the listen address, localhost and 127.0.0.1 always are)")
	fs.StringVar(&cfg.camera, "camera", cfg.camera, "`auto` (the first camera, else the demo camera), demo, or a device path such as /dev/v4l/by-id/usb-...-video-index0")
	fs.Var(&cfg.cameraSize, "camera-size", "largest camera frame size to ask for, WIDTHxHEIGHT")
	fs.Var(&cfg.cameraFPS, "camera-fps", "lowest frame rate a camera mode must offer to be preferred")
	fs.Var(&cfg.rotate, "camera-rotate", "how far the picture must turn clockwise to stand upright: 0, 90, 180 or 270 (for a camera mounted on its side)")
	fs.StringVar(&cfg.replay, "replay", "", "play a folder of JPEG files or an MJPEG file instead of a camera (field debugging)")
	fs.Var(&cfg.replayFPS, "replay-fps", "frame rate of -replay")
	fs.Var(&cfg.demoFPS, "demo-fps", fmt.Sprintf("frame rate of the demo camera, %d to %d", demo.MinFPS, demo.MaxFPS))
	cfg.photo.register(fs)
	fs.Float64Var(&cfg.analysisRate, "analysis-rate", cfg.analysisRate, "frames analysed per second for the framing checks (0 turns the checks off)")
	fs.DurationVar(&cfg.hold, "hold", cfg.hold, "how long every check must pass before the framing counts as steady")
	fs.DurationVar(&cfg.countdown, "countdown", cfg.countdown, "the auto-capture countdown once the framing is steady")
	fs.BoolVar(&cfg.autoCapture, "auto-capture", false, "capture by itself when the countdown ends (the operator can always capture with the button)")
	fs.StringVar(&cfg.stateDir, "state-dir", cfg.stateDir, "folder for the station's state (the booth calibration); if empty, $STATE_DIRECTORY (set by systemd for the service), else $XDG_STATE_HOME/kioskd, else ~/.local/state/kioskd")
	fs.Var(&cfg.minFree, "min-free", "free space the state folder's disk must keep, like 1GiB or 500MiB (kioskd doctor fails below it and warns below twice it)")
	fs.StringVar(&cfg.stationID, "station-id", "", "this station's name in every record; the host name if empty")
	fs.StringVar(&cfg.operators, "operators", "", "the operators file (one `ID PIN-HASH NAME` per line, see docs/roster.md); STATE_DIR/operators if empty; without it the booth frames and captures but keeps no records")
	fs.IntVar(&cfg.fee, "fee", cfg.fee, "the on-site fee in yuan (a retake after a rejection is free)")
	fs.DurationVar(&cfg.idleTimeout, "idle-timeout", cfg.idleTimeout, "return to the start screen, clearing the student's data, after this long untouched (0: never)")
	fs.Var(&cfg.window, "window", "the collection period, START/END as dates (2026-05-01/2026-06-30); outside it identification is refused; empty: always open")
	cfg.central.register(fs)
	fs.TextVar(&cfg.logLevel, "log-level", slog.LevelInfo, "log level: debug, info, warn or error")
}

// validate checks the settings that a flag's type alone cannot.
func (cfg *runConfig) validate() error {
	switch {
	case cfg.demoFPS < demo.MinFPS || cfg.demoFPS > demo.MaxFPS:
		return usageError{fmt.Errorf("-demo-fps %v: want %d to %d", cfg.demoFPS.String(), demo.MinFPS, demo.MaxFPS)}
	case cfg.analysisRate < 0 || cfg.analysisRate > 60:
		return usageError{fmt.Errorf("-analysis-rate %g: want 0 (off) to 60 frames a second", cfg.analysisRate)}
	case cfg.hold < 0 || cfg.hold > time.Minute:
		return usageError{fmt.Errorf("-hold %v: want 0s to 1m", cfg.hold)}
	case cfg.countdown <= 0 || cfg.countdown > time.Minute:
		return usageError{fmt.Errorf("-countdown %v: want more than 0s, at most 1m", cfg.countdown)}
	case cfg.fee < 0 || cfg.fee > 10000:
		return usageError{fmt.Errorf("-fee %d: want 0 to 10000 yuan", cfg.fee)}
	case cfg.idleTimeout < 0:
		return usageError{fmt.Errorf("-idle-timeout %v: want 0 (never) or more", cfg.idleTimeout)}
	case cfg.stationID != "" && !wire.ValidStationID(cfg.stationID):
		return usageError{fmt.Errorf("-station-id %q: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit", cfg.stationID)}
	}
	return cfg.central.validate()
}

func (m *Main) newLogger(level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(m.Stderr, &slog.HandlerOptions{Level: level}))
}

// runStation is `kioskd run`: the camera, the station and the web server,
// until ctx is cancelled or one of them fails.
func (m *Main) runStation(ctx context.Context, args []string) error {
	cfg, err := m.parseRun(args)
	if err != nil {
		return err
	}
	return m.serveStation(ctx, cfg, m.newLogger(cfg.logLevel))
}

// serveStation runs the station with cfg until ctx is cancelled or a part
// fails: `kioskd run`, and the station half of `kioskd demo`.
func (m *Main) serveStation(ctx context.Context, cfg runConfig, logger *slog.Logger) error {
	opt, err := cfg.photo.resolve()
	if err != nil {
		return err
	}
	src, err := m.openSource(cfg, logger)
	if err != nil {
		return err
	}
	st := kiosk.NewStation(src, logger)
	st.Spec, st.Background = opt.Spec, opt.Background
	st.AnalysisRate = cfg.analysisRate
	if st.AnalysisRate == 0 {
		st.AnalysisRate = -1 // off
	}
	st.Hold, st.Countdown = cfg.hold, cfg.countdown
	st.AutoCapture = cfg.autoCapture
	st.StateDir = cfg.stateDir
	if st.StateDir == "" {
		st.StateDir = defaultStateDir(m.Getenv)
	}
	logger.Info("state folder", "path", st.StateDir)
	if locker, ok := src.(kiosk.CameraLocker); ok {
		st.Camera = locker
	}
	stores, err := m.openStores(cfg, st, logger)
	if err != nil {
		return err
	}
	defer stores.close()
	q := stores.q
	srv := web.NewServer(st, logger)
	srv.AllowedHosts = cfg.allowedHosts
	metrics := web.NewMetrics(st)
	metrics.StateDir = st.StateDir
	metrics.Records = q
	srv.Metrics = metrics.Handler()
	worker, err := m.startSync(cfg, st, q, stores.r, metrics, logger)
	if err != nil {
		return err
	}
	addr, err := srv.Listen(cfg.listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another kioskd running? choose another address with -listen)", cfg.listen, err)
	}
	logger.Info("station ready", "url", "http://"+addr.String(), "version", version())
	if m.Ready != nil {
		m.Ready(addr)
	}

	// Under systemd (Type=notify): READY=1 now that the listener is up and
	// the camera is being opened (READY does not wait for a first frame: an
	// unplugged camera is a state the UI shows, not a failed start), watchdog
	// pings while the station's loop makes progress, STOPPING=1 on the way out.
	notify := NewSDNotifier(m.Getenv, os.Getpid())
	notify.Healthy = st.Healthy
	notify.Logger = logger

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return st.Run(gctx) })
	g.Go(func() error { return srv.Run(gctx) })
	g.Go(func() error { return metrics.Run(gctx) })
	g.Go(func() error { return q.Maintain(gctx, 0, 0, logger.With("component", "queue")) })
	g.Go(func() error { return notify.RunWatchdog(gctx) })
	g.Go(func() error { return runSync(gctx, worker) })
	if err := notify.Ready("serving " + "http://" + addr.String()); err != nil {
		logger.Warn("tell systemd ready", "err", err)
	}
	<-gctx.Done()
	notify.Stopping("shutting down")
	err = g.Wait()
	logger.Info("station stopped")
	return err
}

// openSource picks the frame source: a replay when asked for, the demo
// camera when asked for or when no camera is present, else the V4L2 camera.
// A camera path that is not a capture device is an error: the station
// cannot work with it.
func (m *Main) openSource(cfg runConfig, logger *slog.Logger) (kiosk.FrameSource, error) {
	if cfg.replay != "" {
		src, err := replay.Open(cfg.replay)
		if err != nil {
			return nil, err
		}
		src.FPS = float64(cfg.replayFPS)
		src.Rotation = int(cfg.rotate)
		logger.Info("using the replay camera", "path", cfg.replay)
		return src, nil
	}
	path := cfg.camera
	switch path {
	case "demo":
		logger.Info("using the demo camera (asked for with -camera demo)")
		return m.demoCamera(cfg), nil
	case "auto", "":
		path = camera.AutoPath()
		if err := camera.Probe(path); err != nil {
			logger.Warn("no camera found: using the demo camera; plug in a USB camera or set -camera", "tried", path, "reason", probeReason(err))
			return m.demoCamera(cfg), nil
		}
	default:
		if err := camera.Probe(path); err != nil {
			return nil, fmt.Errorf("camera: %w (or run without a camera: -camera demo)", err)
		}
	}
	dev := camera.NewDevice(path, logger)
	// A calibrated booth's camera settings hold across restarts: the
	// device applies them whenever it opens the camera.
	stateDir := cfg.stateDir
	if stateDir == "" {
		stateDir = defaultStateDir(m.Getenv)
	}
	switch locked, err := kiosk.LockedControls(stateDir); {
	case err != nil:
		logger.Warn("cannot read the calibration's camera settings: the camera runs on automatic exposure until the booth is calibrated again", "err", err)
	case len(locked) > 0:
		// Calibrations made before focus was left automatic hold it
		// locked on the empty wall: never restore that.
		delete(locked, "focus_automatic_continuous")
		delete(locked, "focus_absolute")
		dev.ControlValues = locked
		logger.Info("camera settings from the calibration", "controls", len(locked))
	}
	dev.MaxWidth, dev.MaxHeight = cfg.cameraSize.W, cfg.cameraSize.H
	dev.MinFPS = int(cfg.cameraFPS)
	dev.Rotation = int(cfg.rotate)
	logger.Info("using the camera", "device", path)
	return dev, nil
}

// stores are the station's durable stores, open.
type stores struct {
	q     *queue.Queue
	r     *roster.Roster
	close func() // after the station and the sync have stopped
}

// openStores opens the record queue and the roster in the state folder
// and the operators file, and gives them to the station's session.
func (m *Main) openStores(cfg runConfig, st *kiosk.Station, logger *slog.Logger) (stores, error) {
	st.FeeYuan = cfg.fee
	st.IdleTimeout = cfg.idleTimeout
	if st.IdleTimeout == 0 {
		st.IdleTimeout = -1 // never
	}
	st.StationID = cfg.stationID
	if st.StationID == "" {
		st.StationID, _ = os.Hostname()
	}
	q, err := queue.Open(st.StateDir, queue.Options{MinFree: int64(cfg.minFree), Logger: logger})
	if err != nil {
		return stores{}, fmt.Errorf("record queue: %w (is another kioskd running with the same -state-dir?)", err)
	}
	r, err := roster.Open(st.StateDir, roster.Options{Window: cfg.window.Window, Logger: logger})
	if err != nil {
		q.Close()
		return stores{}, fmt.Errorf("roster: %w", err)
	}
	// Start-up reconciliation: orphan blob files go, records whose blobs
	// are missing or damaged are reported (and parked), never dropped.
	rep, err := q.Reconcile()
	if err != nil {
		r.Close()
		q.Close()
		return stores{}, fmt.Errorf("record queue: reconcile: %w", err)
	}
	logger.Info("record queue", "records", rep.Records, "verified", rep.Verified, "orphansRemoved", rep.OrphansRemoved, "tempsRemoved", rep.TempsRemoved)
	for _, d := range rep.Damaged {
		logger.Error("record damaged: its photo files are missing or corrupt; it is parked for the operator", "record", d.ID, "reason", d.Reason)
	}
	st.Records, st.Roster = q, r
	path := cfg.operators
	if path == "" {
		path = filepath.Join(st.StateDir, "operators")
	}
	ops, err := roster.LoadOperators(path)
	switch {
	case err == nil:
		st.Operators = ops
		logger.Info("operators loaded", "count", len(ops.List()))
	case errors.Is(err, os.ErrNotExist) && cfg.operators == "":
		logger.Warn("no operators file: the booth frames and captures without sign-in and keeps no records; add operators with 'kioskd operator'", "path", path)
	default:
		r.Close()
		q.Close()
		return stores{}, fmt.Errorf("operators: %w", err)
	}
	return stores{q: q, r: r, close: func() {
		if err := r.Close(); err != nil {
			logger.Warn("close roster", "err", err)
		}
		if err := q.Close(); err != nil {
			logger.Warn("close record queue", "err", err)
		}
	}}, nil
}

// defaultStateDir is systemd's StateDirectory when kioskd runs as the
// service, else the user's XDG state folder.
func defaultStateDir(getenv func(string) string) string {
	if d, _, _ := strings.Cut(getenv("STATE_DIRECTORY"), ":"); d != "" {
		return d
	}
	if d := getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "kioskd")
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".local", "state", "kioskd")
	}
	return "kioskd-state"
}

func (m *Main) demoCamera(cfg runConfig) kiosk.FrameSource {
	s := demo.NewScene()
	s.FPS = float64(cfg.demoFPS)
	return s
}

func probeReason(err error) string {
	if errors.Is(err, os.ErrNotExist) {
		return "no such device"
	}
	return err.Error()
}

// devices is `kioskd devices`: the cameras with their modes.
func (m *Main) devices(ctx context.Context, args []string) error {
	fs := newFlagSet("devices", "kioskd devices", m.Stderr)
	if err := parseFlags(fs, args, m.Getenv); err != nil {
		return err
	}
	devs, err := camera.ListDevices()
	if err != nil {
		return fmt.Errorf("list cameras: %w", err)
	}
	return camera.WriteDevices(m.Stdout, devs)
}
