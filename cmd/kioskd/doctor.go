package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/jpeg"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"golang.org/x/sys/unix"

	"kioskd/camera"
	"kioskd/camera/replay"
	"kioskd/kiosk"
	"kioskd/kiosk/queue"
	"kioskd/sync/uplink"
)

// Limits of the doctor's checks.
const (
	// doctorFrameTimeout is how long the camera has to deliver a first
	// frame: a UVC camera streams within about a second of being opened.
	doctorFrameTimeout = 2 * time.Second
	// healthTimeout bounds the request to a kioskd that holds the port.
	healthTimeout = time.Second
	// lastPlausibleYear: a clock beyond it is broken, not early.
	lastPlausibleYear = 2100
)

// clockFloor is the earliest plausible time when the binary carries no
// VCS time (a build outside a checkout, or a test): the year this code
// was written. A clock before it has lost its setting (a flat RTC battery
// leaves a PC in 1970 or at its firmware date).
var clockFloor = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Calibration files in the state folder (kiosk keeps them there).
const (
	calibrationFile = "calibration.json"
	cleanPlateFile  = "clean-plate.jpg"
)

// Statuses of a doctor check.
const (
	statusPass = "pass"
	statusWarn = "warn"
	statusFail = "fail"
	statusSkip = "skip" // not applicable yet
)

// text is a message in both languages of the UI.
type text struct {
	ZH string `json:"zh"`
	EN string `json:"en"`
}

// finding is one row of the doctor's report.
type finding struct {
	ID      string `json:"id"`
	Status  string `json:"status"`
	Summary text   `json:"summary"`
	// Detail holds the facts behind the summary: paths, sizes, errors.
	Detail string `json:"detail,omitempty"`
	// Fix is what to do about a warning or a failure.
	Fix *text `json:"fix,omitempty"`
}

// doctorReport is the output of `kioskd doctor -json`.
type doctorReport struct {
	OK     bool      `json:"ok"`
	Checks []finding `json:"checks"`
}

// errUnhealthy: some checks failed; the report names them.
var errUnhealthy = errors.New("doctor: checks failed")

// doctor is `kioskd doctor`: it judges the station's configuration and
// surroundings, the same settings `kioskd run` reads, without starting
// the station.
type doctor struct {
	*Main
	// now is the clock under test.
	now func() time.Time
	// frameTimeout is how long the camera has to deliver a frame.
	frameTimeout time.Duration
}

// doctor is `kioskd doctor` with the real clock.
func (m *Main) doctor(ctx context.Context, args []string) error {
	d := &doctor{Main: m, now: time.Now, frameTimeout: doctorFrameTimeout}
	return d.run(ctx, args)
}

// run parses the settings, runs every check, prints the table (or JSON)
// and fails when a check failed.
func (d *doctor) run(ctx context.Context, args []string) error {
	cfg := newRunConfig()
	var asJSON bool
	fs := newFlagSet("doctor", "kioskd doctor [-json] [FLAGS of kioskd run]", d.Stderr)
	cfg.register(fs)
	fs.BoolVar(&asJSON, "json", false, "print the report as one JSON object")
	// The command line is parsed first on its own: a mistake there is a
	// usage error, as for every command. A bad KIOSK_* value, or a
	// setting out of range, is what the doctor is for: the config row
	// reports it, and the other checks go on with the values that parsed.
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	settingsErr := parseFlags(fs, args, d.Getenv) // the same args again, then the environment
	if settingsErr == nil {
		settingsErr = cfg.validate()
	}
	if settingsErr == nil {
		_, settingsErr = cfg.photo.resolve()
	}

	logger := slog.New(slog.DiscardHandler)
	if cfg.logLevel <= slog.LevelDebug {
		logger = d.newLogger(cfg.logLevel)
	}
	stateDir := cfg.stateDir
	if stateDir == "" {
		stateDir = defaultStateDir(d.Getenv)
	}
	listener, running := listenCheck(ctx, cfg.listen)
	rows := []finding{
		configCheck(settingsErr),
		d.clockCheck(),
		stateCheck(stateDir),
		calibrationCheck(stateDir),
		storeCheck(stateDir, running),
		diskCheck(stateDir, uint64(cfg.minFree)),
		listener,
		d.cameraCheck(ctx, cfg, running, logger),
		d.centralCheck(ctx, cfg, stateDir),
	}
	rep := doctorReport{OK: true, Checks: rows}
	var failed []string
	for _, r := range rows {
		if r.Status == statusFail {
			rep.OK = false
			failed = append(failed, r.ID)
		}
	}
	var err error
	if asJSON {
		enc := json.NewEncoder(d.Stdout)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		err = enc.Encode(rep)
	} else {
		err = writeFindings(d.Stdout, rows)
	}
	if err != nil {
		return fmt.Errorf("doctor: write the report: %w", err)
	}
	if len(failed) > 0 {
		return fmt.Errorf("%w: %s", errUnhealthy, strings.Join(failed, ", "))
	}
	return nil
}

// writeFindings prints the report as a table: a row per check, with the
// detail and the fix (zh-CN, then English) on the lines below it.
func writeFindings(w io.Writer, rows []finding) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tSTATUS\t结果 / RESULT")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s / %s\n", r.ID, strings.ToUpper(r.Status), r.Summary.ZH, r.Summary.EN)
		if r.Detail != "" {
			fmt.Fprintf(tw, "\t\t%s\n", oneLine(r.Detail))
		}
		if r.Fix != nil {
			fmt.Fprintf(tw, "\t\t修复：%s\n", r.Fix.ZH)
			fmt.Fprintf(tw, "\t\tfix: %s\n", r.Fix.EN)
		}
	}
	return tw.Flush()
}

// oneLine keeps a multi-line error on its table row.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func configCheck(err error) finding {
	if err == nil {
		return finding{ID: "config", Status: statusPass, Summary: text{"设置有效", "the settings are valid"}}
	}
	return finding{
		ID: "config", Status: statusFail,
		Summary: text{"设置无效：kioskd run 会拒绝启动", "invalid settings: kioskd run would refuse to start"},
		Detail:  err.Error(),
		Fix: &text{
			"改正上面点名的设置（/etc/default/kioskd 或命令行），然后 sudo systemctl restart kioskd",
			"correct the setting named above (in /etc/default/kioskd or on the command line), then sudo systemctl restart kioskd",
		},
	}
}

// buildTime is the commit time recorded in the binary, if any.
func buildTime() (time.Time, bool) {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return time.Time{}, false
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.time" {
			t, err := time.Parse(time.RFC3339, s.Value)
			return t, err == nil
		}
	}
	return time.Time{}, false
}

// clockCheck: records carry the station's time, and TLS to central needs
// it; a clock before the binary was built, or past 2100, is wrong.
func (d *doctor) clockCheck() finding {
	now := d.now()
	floor, source := clockFloor, "the floor date in kioskd"
	if bt, ok := buildTime(); ok && bt.After(floor) {
		floor, source = bt, "the build's commit time"
	}
	fixClock := &text{
		"开启网络校时：sudo timedatectl set-ntp true；离线时手动设置：sudo timedatectl set-time 'YYYY-MM-DD HH:MM:SS'；若每次开机都错，请更换主板纽扣电池",
		"turn on NTP: sudo timedatectl set-ntp true; offline, set it by hand: sudo timedatectl set-time 'YYYY-MM-DD HH:MM:SS'; if it is wrong after every boot, replace the mainboard's coin battery",
	}
	stamp := now.UTC().Format("2006-01-02 15:04:05 UTC")
	switch {
	case now.Before(floor):
		return finding{ID: "clock", Status: statusFail,
			Summary: text{"系统时间早于本程序的构建时间", "the clock is set before this program was built"},
			Detail:  fmt.Sprintf("now %s; not before %s (%s)", stamp, floor.UTC().Format(time.DateOnly), source),
			Fix:     fixClock}
	case now.Year() > lastPlausibleYear:
		return finding{ID: "clock", Status: statusFail,
			Summary: text{"系统时间不可信（晚于 2100 年）", "the clock is implausible (after 2100)"},
			Detail:  "now " + stamp,
			Fix:     fixClock}
	}
	return finding{ID: "clock", Status: statusPass,
		Summary: text{"系统时间可信", "the clock is plausible"},
		Detail:  "now " + stamp}
}

// nearestDir returns dir, or its nearest ancestor that exists, with
// whether that is dir itself. An ancestor that is not a folder is
// returned as it is: nothing can be made below it.
func nearestDir(dir string) (string, bool) {
	p := filepath.Clean(dir)
	for {
		if _, err := os.Stat(p); err == nil {
			return p, p == filepath.Clean(dir)
		}
		parent := filepath.Dir(p)
		if parent == p {
			return p, false
		}
		p = parent
	}
}

// stateCheck: the state folder exists or can be made, can be written
// (create, fsync, remove a file) and is not on a read-only mount.
func stateCheck(dir string) finding {
	f := finding{ID: "state"}
	fixDir := &text{
		"把 -state-dir（KIOSK_STATE_DIR）设为 kioskd 用户可写的文件夹；作为服务运行时留空即可（/var/lib/kioskd）",
		"set -state-dir (KIOSK_STATE_DIR) to a folder the kioskd user can write; leave it empty for the service (/var/lib/kioskd)",
	}
	abs, err := filepath.Abs(dir)
	if err == nil {
		dir = abs
	}
	existing, exists := nearestDir(dir)
	if fi, err := os.Stat(existing); err != nil || !fi.IsDir() {
		f.Status, f.Fix = statusFail, fixDir
		f.Summary = text{"状态文件夹无法创建：路径上有同名文件", "the state folder cannot be made: a file is in the way"}
		f.Detail = fmt.Sprintf("%s: %s is not a folder", dir, existing)
		return f
	}
	var st unix.Statfs_t
	if err := unix.Statfs(existing, &st); err == nil && st.Flags&unix.ST_RDONLY != 0 {
		f.Status = statusFail
		f.Summary = text{"状态文件夹在只读挂载上", "the state folder is on a read-only mount"}
		f.Detail = existing + " is mounted read-only"
		f.Fix = &text{
			"以读写方式挂载该磁盘（sudo mount -o remount,rw 挂载点），或换一个 -state-dir",
			"mount the disk read-write (sudo mount -o remount,rw MOUNTPOINT), or choose another -state-dir",
		}
		return f
	}
	// Make the missing folders, prove them writable, and take away what
	// was made: the doctor leaves the machine as it found it.
	var made []string
	if !exists {
		for p := dir; p != existing; p = filepath.Dir(p) {
			made = append(made, p)
		}
		if err := os.MkdirAll(dir, 0o750); err != nil {
			for _, p := range made {
				os.Remove(p)
			}
			f.Status, f.Fix = statusFail, fixDir
			f.Summary = text{"状态文件夹不存在，也无法创建", "the state folder does not exist and cannot be made"}
			f.Detail = err.Error()
			return f
		}
	}
	werr := probeWrite(dir)
	for _, p := range made { // deepest first
		os.Remove(p)
	}
	if werr != nil {
		f.Status, f.Fix = statusFail, fixDir
		f.Summary = text{"状态文件夹不可写", "the state folder cannot be written"}
		f.Detail = werr.Error()
		switch {
		case errors.Is(werr, syscall.EROFS):
			f.Summary = text{"状态文件夹在只读挂载上", "the state folder is on a read-only mount"}
		case errors.Is(werr, syscall.ENOSPC):
			f.Summary = text{"状态文件夹所在磁盘已满", "the state folder's disk is full"}
		case errors.Is(werr, fs.ErrPermission):
			f.Fix = &text{
				"把文件夹交给运行 kioskd 的用户：sudo chown -R kioskd:kioskd " + dir,
				"give the folder to the user kioskd runs as: sudo chown -R kioskd:kioskd " + dir,
			}
		}
		return f
	}
	f.Status = statusPass
	if exists {
		f.Summary = text{"状态文件夹存在且可写", "the state folder exists and can be written"}
	} else {
		f.Summary = text{"状态文件夹尚不存在，但可以创建", "the state folder does not exist yet but can be made"}
	}
	f.Detail = dir
	return f
}

// probeWrite creates a file in dir, writes and fsyncs it, and removes it.
func probeWrite(dir string) error {
	fh, err := os.CreateTemp(dir, ".kioskd-doctor-*")
	if err != nil {
		return err
	}
	name := fh.Name()
	defer os.Remove(name)
	_, err = fh.WriteString("kioskd doctor\n")
	if err == nil {
		err = fh.Sync()
	}
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := os.Remove(name); err != nil {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	return nil
}

// calibrationCheck reads the booth calibration, if there is one, as the
// station would load it, and reports damage without touching the files.
func calibrationCheck(dir string) finding {
	f := finding{ID: "calibration"}
	recalibrate := &text{
		"在操作界面对着空背景重新校准（会替换损坏的文件）",
		"calibrate again in the operator UI with the booth empty (it replaces the damaged files)",
	}
	b, err := os.ReadFile(filepath.Join(dir, calibrationFile))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		f.Status = statusPass
		f.Summary = text{"尚未校准（可以在操作界面校准）", "not calibrated yet (calibrate in the operator UI)"}
		return f
	}
	damaged := func(detail string) finding {
		f.Status, f.Fix, f.Detail = statusFail, recalibrate, detail
		f.Summary = text{"校准文件已损坏：站点将以未校准状态运行", "the calibration files are damaged: the station runs uncalibrated"}
		return f
	}
	if err != nil {
		return damaged(err.Error())
	}
	var cal kiosk.Calibration // decoded as the station decodes it
	if err := json.Unmarshal(b, &cal); err != nil {
		return damaged(fmt.Sprintf("%s: %v", calibrationFile, err))
	}
	pb, err := os.ReadFile(filepath.Join(dir, cleanPlateFile))
	if err != nil {
		return damaged(fmt.Sprintf("%s: %v", cleanPlateFile, err))
	}
	img, err := jpeg.Decode(bytes.NewReader(pb))
	if err != nil {
		return damaged(fmt.Sprintf("%s: %v", cleanPlateFile, err))
	}
	if r := img.Bounds(); r.Dx() != cal.Width || r.Dy() != cal.Height {
		return damaged(fmt.Sprintf("%s is %dx%d; %s says %dx%d", cleanPlateFile, r.Dx(), r.Dy(), calibrationFile, cal.Width, cal.Height))
	}
	f.Status = statusPass
	f.Summary = text{"校准文件完好", "the calibration files are sound"}
	f.Detail = fmt.Sprintf("calibrated %s, %dx%d", cal.Time.UTC().Format(time.DateTime), cal.Width, cal.Height)
	return f
}

// storeSample is how many of the newest records' blobs the doctor verifies.
const storeSample = 20

// storeCheck verifies the record queue: bbolt's consistency check and the
// blobs of the newest records. It opens nothing that does not exist yet,
// and while a kioskd holds the store it cannot look (bbolt locks the
// file), which it says.
func storeCheck(dir string, running bool) finding {
	f := finding{ID: "store"}
	if _, err := os.Stat(filepath.Join(dir, queue.DBFile)); err != nil {
		f.Status = statusPass
		f.Summary = text{"还没有记录库（首次运行时创建）", "no record store yet (made at the first start)"}
		return f
	}
	q, err := queue.Open(dir, queue.Options{Timeout: 500 * time.Millisecond})
	switch {
	case errors.Is(err, queue.ErrLocked):
		f.Status = statusSkip
		f.Summary = text{"记录库正被运行中的 kioskd 使用，无法检查", "the running kioskd holds the record store: it cannot be checked now"}
		if !running {
			f.Status = statusWarn
			f.Fix = &text{"检查是否有其他 kioskd 进程（同一个状态文件夹）", "look for another kioskd process using the same state folder"}
		}
		return f
	case err != nil:
		f.Status = statusFail
		f.Summary = text{"记录库无法打开", "the record store cannot be opened"}
		f.Detail = err.Error()
		f.Fix = &text{"不要删除状态文件夹；保留现场并联系维护人员（记录可能尚未上传）", "do not delete the state folder; keep it as it is and call maintenance (records may not be uploaded yet)"}
		return f
	}
	defer q.Close()
	problems, err := q.Check(storeSample)
	if err == nil && len(problems) == 0 {
		f.Status = statusPass
		f.Summary = text{"记录库完好", "the record store is sound"}
		if counts, err := q.Counts(); err == nil {
			f.Detail = fmt.Sprintf("%d queued, %d accepted; the newest %d records' photos verified", counts[queue.StateQueued], counts[queue.StateAccepted], storeSample)
		}
		return f
	}
	f.Status = statusFail
	f.Summary = text{"记录库有损坏", "the record store is damaged"}
	if err != nil {
		problems = append(problems, err.Error())
	}
	f.Detail = strings.Join(problems, "; ")
	f.Fix = &text{"启动 kioskd 会核对并标记受损记录；不要删除状态文件夹，联系维护人员", "starting kioskd reconciles and marks damaged records; do not delete the state folder, call maintenance"}
	return f
}

// diskCheck compares the free space of the state folder's disk with the
// floor: below it fails, below twice it warns.
func diskCheck(dir string, floor uint64) finding {
	f := finding{ID: "disk"}
	existing, _ := nearestDir(dir)
	var st unix.Statfs_t
	if err := unix.Statfs(existing, &st); err != nil {
		f.Status = statusFail
		f.Summary = text{"无法读取磁盘剩余空间", "cannot read the disk's free space"}
		f.Detail = fmt.Sprintf("statfs %s: %v", existing, err)
		f.Fix = &text{"检查状态文件夹（见 state 一行）", "check the state folder (see the state row)"}
		return f
	}
	free := st.Bavail * uint64(st.Bsize)
	f.Detail = fmt.Sprintf("%s free at %s; floor %s (-min-free)", byteSize(free), existing, byteSize(floor))
	fix := &text{
		"删除不需要的文件，或换更大的磁盘；已同步到中心的记录可以清理",
		"remove files that are not needed, or use a larger disk; records central has accepted can be purged",
	}
	switch {
	case free < floor:
		f.Status, f.Fix = statusFail, fix
		f.Summary = text{"磁盘空间不足", "the disk is almost full"}
	case free/2 < floor:
		f.Status, f.Fix = statusWarn, fix
		f.Summary = text{"磁盘空间偏少（不到下限的两倍）", "disk space is low (under twice the floor)"}
	default:
		f.Status = statusPass
		f.Summary = text{"磁盘空间充足", "enough free disk space"}
	}
	return f
}

// listenCheck: the address can be bound, or a kioskd already serves it
// (then running is true).
func listenCheck(ctx context.Context, addr string) (_ finding, running bool) {
	f := finding{ID: "listener"}
	l, err := net.Listen("tcp", addr)
	if err == nil {
		bound := l.Addr().String()
		l.Close()
		f.Status = statusPass
		f.Summary = text{"监听地址可用", "the listen address is free"}
		f.Detail = bound
		return f, false
	}
	f.Status = statusFail
	f.Detail = err.Error()
	if !errors.Is(err, syscall.EADDRINUSE) {
		f.Summary = text{"无法在该地址监听", "cannot listen on this address"}
		f.Fix = &text{
			"把 -listen（KIOSK_LISTEN）设为本机的地址和端口，例如 127.0.0.1:8080",
			"set -listen (KIOSK_LISTEN) to an address and port of this machine, like 127.0.0.1:8080",
		}
		return f, false
	}
	if kioskdAnswers(ctx, addr) {
		f.Status, f.Detail = statusPass, addr
		f.Summary = text{"kioskd 正在运行，占用该地址", "kioskd is running on this address"}
		return f, true
	}
	_, port, _ := net.SplitHostPort(addr)
	f.Summary = text{"其他程序占用了监听端口", "another program holds the listen port"}
	f.Fix = &text{
		fmt.Sprintf("查出占用者：sudo ss -ltnp 'sport = :%s'，关掉它，或用 -listen 换一个端口", port),
		fmt.Sprintf("find it with sudo ss -ltnp 'sport = :%s' and stop it, or choose another port with -listen", port),
	}
	return f, false
}

// kioskdAnswers reports whether a kioskd serves addr: its /healthz says ok.
func kioskdAnswers(ctx context.Context, addr string) bool {
	body, err := getLocal(ctx, addr, "/healthz")
	return err == nil && strings.TrimSpace(string(body)) == "ok"
}

// getLocal GETs path from the server listening on addr (on loopback when
// addr is a wildcard) and returns the start of a 200 answer's body.
func getLocal(ctx context.Context, addr, path string) ([]byte, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(host, port)+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 1<<20))
}

// runningCamera is the camera as the running kioskd reports it in
// /api/status.
func runningCamera(ctx context.Context, addr string) (kiosk.CameraStatus, error) {
	b, err := getLocal(ctx, addr, "/api/status")
	if err != nil {
		return kiosk.CameraStatus{}, err
	}
	var st struct {
		Camera kiosk.CameraStatus `json:"camera"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return kiosk.CameraStatus{}, fmt.Errorf("GET /api/status: %w", err)
	}
	return st.Camera, nil
}

// cameraCheck judges the frame source `kioskd run` would use.
// When kioskd is running, the camera is busy because kioskd holds it: the
// running station's own report is asked for instead.
func (d *doctor) cameraCheck(ctx context.Context, cfg runConfig, running bool, logger *slog.Logger) finding {
	f := finding{ID: "camera"}
	demoFix := &text{
		"插上 USB 摄像头，用 kioskd devices 找到它，在 /etc/default/kioskd 写 KIOSK_CAMERA=/dev/v4l/by-id/...-video-index0",
		"plug in the USB camera, find it with kioskd devices, and set KIOSK_CAMERA=/dev/v4l/by-id/...-video-index0 in /etc/default/kioskd",
	}
	if cfg.replay != "" {
		if _, err := replay.Open(cfg.replay); err != nil {
			f.Status, f.Detail = statusFail, err.Error()
			f.Summary = text{"回放文件无法使用", "the replay cannot be played"}
			f.Fix = &text{"改正 -replay（KIOSK_REPLAY），或删掉它以使用摄像头", "correct -replay (KIOSK_REPLAY), or remove it to use the camera"}
			return f
		}
		f.Status, f.Detail = statusWarn, cfg.replay
		f.Summary = text{"站点播放录像而不是摄像头", "the station plays a recording, not a camera"}
		f.Fix = &text{"现场排查结束后删掉 KIOSK_REPLAY", "remove KIOSK_REPLAY once the field debugging is done"}
		return f
	}
	path := cfg.camera
	switch path {
	case "demo":
		f.Status, f.Fix = statusWarn, demoFix
		f.Summary = text{"没有摄像头：站点运行演示摄像头（-camera demo）", "no camera: the station runs the demo camera (-camera demo)"}
		return f
	case "auto", "":
		path = camera.AutoPath()
		if err := camera.Probe(path); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				f.Status, f.Fix = statusWarn, demoFix
				f.Summary = text{"没有摄像头：站点运行演示摄像头", "no camera: the station runs the demo camera"}
				f.Detail = "tried " + path
				return f
			}
			// A camera is there but cannot be used: the station would
			// quietly fall back to the demo camera.
			f = probeFailure(err)
			f.Summary = text{"有摄像头但无法使用：站点会改用演示摄像头", "a camera is present but cannot be used: the station would run the demo camera"}
			return f
		}
	default:
		if err := camera.Probe(path); err != nil {
			return probeFailure(err)
		}
	}

	formats := describeFormats(path)
	first, err := d.firstFrame(ctx, cfg, path, logger)
	node := path
	if p, err := filepath.EvalSymlinks(path); err == nil {
		node = p
	}
	switch {
	case err != nil:
		f.Status, f.Detail = statusFail, err.Error()
		f.Summary = text{"摄像头无法使用", "the camera cannot work"}
		f.Fix = &text{"用 kioskd devices 找到能输出 MJPEG 或 YUYV 的采集节点", "find a capture node that offers MJPEG or YUYV with kioskd devices"}
	case first.busy && running:
		st, err := runningCamera(ctx, cfg.listen)
		if err == nil && st.State == kiosk.CameraStreaming && st.Source == kiosk.SourceV4L2 {
			f.Status = statusPass
			f.Summary = text{"正在运行的 kioskd 正从摄像头取画面", "the running kioskd is streaming from the camera"}
			f.Detail = fmt.Sprintf("%s: %s", st.Device, st.Format)
			return f
		}
		f.Status = statusFail
		f.Summary = text{"摄像头被占用，正在运行的 kioskd 也没有画面", "the camera is busy and the running kioskd gets no frames"}
		f.Detail = fmt.Sprintf("%s: kioskd reports %s %s", path, st.State, st.Reason)
		if err != nil {
			f.Detail = fmt.Sprintf("%s: %v", path, err)
		}
		f.Fix = &text{
			fmt.Sprintf("停止 kioskd（sudo systemctl stop kioskd），用 sudo fuser -v %s 查出并关掉占用者，再启动 kioskd", node),
			fmt.Sprintf("stop kioskd (sudo systemctl stop kioskd), find and close the other program (fuser -v %s), start kioskd again", node),
		}
	case first.busy:
		f.Status = statusFail
		f.Detail = path + ": " + camera.ReasonBusy
		f.Summary = text{"摄像头被其他程序占用", "another program is using the camera"}
		f.Fix = &text{
			fmt.Sprintf("关掉占用摄像头的程序（sudo fuser -v %s 可查出它）", node),
			fmt.Sprintf("another program is using the camera: close it (fuser -v %s)", node),
		}
	case !first.got:
		f.Status = statusFail
		f.Summary = text{
			fmt.Sprintf("摄像头在 %v 内没有送出画面", d.frameTimeout),
			fmt.Sprintf("the camera delivered no frame within %v", d.frameTimeout),
		}
		f.Detail = path
		if first.reason != "" {
			f.Detail += ": " + first.reason
		}
		f.Fix = &text{
			"重新插拔摄像头（换一个 USB 口，避开 USB 集线器），再运行 kioskd doctor",
			"plug the camera in again (another USB port, no hub) and run kioskd doctor again",
		}
	default:
		f.Status = statusPass
		f.Summary = text{"摄像头正常出画面", "the camera delivers frames"}
		f.Detail = fmt.Sprintf("%s: %dx%d %s", path, first.frame.Width, first.frame.Height, first.format)
		if formats != "" {
			f.Detail += "; offers " + formats
		}
	}
	return f
}

// probeFailure reports why camera.Probe refused a path.
func probeFailure(err error) finding {
	f := finding{ID: "camera", Status: statusFail, Detail: err.Error()}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		f.Summary = text{"摄像头不存在", "the camera does not exist"}
		f.Fix = &text{
			"插上摄像头；用 kioskd devices 确认路径，或设 KIOSK_CAMERA=auto",
			"plug the camera in; check its path with kioskd devices, or set KIOSK_CAMERA=auto",
		}
	case errors.Is(err, camera.ErrNotCaptureDevice):
		f.Summary = text{"该路径不是视频采集设备", "the path is not a video capture device"}
		f.Fix = &text{
			"用 kioskd devices 找到采集节点（优先 /dev/v4l/by-id/...-video-index0）",
			"find the capture node with kioskd devices (prefer /dev/v4l/by-id/...-video-index0)",
		}
	case errors.Is(err, fs.ErrPermission):
		f.Summary = text{"没有摄像头访问权限", "no permission to open the camera"}
		f.Fix = &text{
			"把运行 kioskd 的用户加入 video 组：sudo usermod -aG video 用户名，然后重新登录",
			"add the user kioskd runs as to the video group: sudo usermod -aG video USER, then log in again",
		}
	default:
		f.Summary = text{"摄像头无法打开", "the camera cannot be opened"}
		f.Fix = &text{"重新插拔摄像头，再运行 kioskd doctor", "plug the camera in again and run kioskd doctor again"}
	}
	return f
}

// describeFormats lists the pixel formats of the camera at path with the
// largest size of each, from camera.ListDevices ("" when unknown).
func describeFormats(path string) string {
	node, err := filepath.EvalSymlinks(path)
	if err != nil {
		return ""
	}
	devs, err := camera.ListDevices()
	if err != nil {
		return ""
	}
	i := slices.IndexFunc(devs, func(d camera.DeviceInfo) bool { return d.Path == node })
	if i < 0 {
		return ""
	}
	var parts []string
	for _, fi := range devs[i].Formats {
		var w, h int
		for _, s := range fi.Sizes {
			if s.Width*s.Height > w*h {
				w, h = s.Width, s.Height
			}
		}
		parts = append(parts, fmt.Sprintf("%s up to %dx%d", fi.Format, w, h))
	}
	return strings.Join(parts, ", ")
}

// frameProbe is the outcome of running the camera for a moment.
type frameProbe struct {
	got    bool // a frame came
	frame  kiosk.Frame
	format string
	busy   bool
	reason string // the last reason the camera gave for not streaming
}

// firstFrame runs the camera at path until its first frame, a busy
// report, or frameTimeout, and says which.
func (d *doctor) firstFrame(ctx context.Context, cfg runConfig, path string, logger *slog.Logger) (frameProbe, error) {
	dev := camera.NewDevice(path, logger)
	dev.MaxWidth, dev.MaxHeight = cfg.cameraSize.W, cfg.cameraSize.H
	dev.MinFPS = int(cfg.cameraFPS)
	dev.Rotation = int(cfg.rotate)
	ctx, cancel := context.WithTimeout(ctx, d.frameTimeout)
	defer cancel()
	sink := &firstFrameSink{done: cancel}
	// Run returns once ctx is done: at the first frame, a busy report or
	// the timeout (all cancel it), or an error that retrying cannot mend.
	err := dev.Run(ctx, sink)
	return sink.result(), err
}

// firstFrameSink is a kiosk.FrameSink that keeps the first frame and the
// camera's states, and calls done when the answer is known.
type firstFrameSink struct {
	done func()

	mu sync.Mutex
	p  frameProbe
}

var _ kiosk.FrameSink = (*firstFrameSink)(nil)

func (s *firstFrameSink) PutFrame(f kiosk.Frame) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.p.got {
		f.JPEG = nil // only its size is reported
		s.p.got, s.p.frame = true, f
		s.done()
	}
}

func (s *firstFrameSink) SetCameraStatus(st kiosk.CameraStatus) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch st.State {
	case kiosk.CameraStreaming:
		s.p.format = st.Format
	case kiosk.CameraBusy:
		s.p.busy = true
		s.done()
	case kiosk.CameraReconnecting:
		s.p.reason = st.Reason
	}
}

func (s *firstFrameSink) result() frameProbe {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.p
}

// byteSize is an amount of storage: 1GiB, 500MiB, 2G (binary, like df
// -h), 2GB (decimal) or a number of bytes.
type byteSize uint64

type byteUnit struct {
	suffix string
	mult   uint64
}

// byteUnits are the suffixes byteSize takes, binary ones first (String
// uses those).
var byteUnits = []byteUnit{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"PiB", 1 << 50},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"PB", 1e15},
	{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"T", 1 << 40}, {"P", 1 << 50},
	{"B", 1},
}

func (b byteSize) String() string {
	n := uint64(b)
	for i := 4; i >= 0; i-- { // PiB down to KiB
		u := byteUnits[i]
		switch {
		case n < u.mult:
			continue
		case n%u.mult == 0:
			return strconv.FormatUint(n/u.mult, 10) + u.suffix
		}
		return strconv.FormatFloat(float64(n)/float64(u.mult), 'f', 1, 64) + u.suffix
	}
	return strconv.FormatUint(n, 10) + "B"
}

func (b *byteSize) Set(v string) error {
	s := strings.TrimSpace(v)
	mult := uint64(1)
	for _, u := range byteUnits {
		if len(s) > len(u.suffix) && strings.EqualFold(s[len(s)-len(u.suffix):], u.suffix) {
			s, mult = strings.TrimSpace(s[:len(s)-len(u.suffix)]), u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || !(n >= 0) || n*float64(mult) >= 1<<63 { // !(n >= 0) catches NaN
		return fmt.Errorf("want a size like 1GiB, 500MiB or 2G")
	}
	*b = byteSize(n * float64(mult))
	return nil
}

// centralTimeout bounds the doctor's call to central.
const centralTimeout = 5 * time.Second

// maxClockOffset is how far the station's clock may be from central's
// before the doctor warns: records carry the station's time.
const maxClockOffset = 2 * time.Minute

// centralCheck asks central who the station's token belongs to and what
// time it is: reachability, the token, the station's name, the clocks.
func (d *doctor) centralCheck(ctx context.Context, cfg runConfig, stateDir string) finding {
	f := finding{ID: "central"}
	if cfg.central.url == "" {
		f.Status = statusSkip
		f.Summary = text{"未配置中心（-central）：记录只保存在本机", "no central configured (-central): records stay on this station"}
		return f
	}
	station := cfg.stationID
	if station == "" {
		station, _ = os.Hostname()
	}
	client, err := uplink.NewClient(cfg.central.config(stateDir))
	if err != nil {
		f.Status = statusFail
		f.Summary = text{"中心同步设置无效", "the central settings are invalid"}
		f.Detail = err.Error()
		f.Fix = &text{
			"检查 KIOSK_CENTRAL 和令牌文件（在中心运行 kioskd central add-station " + station + " 取得令牌，写入令牌文件，权限 0600）",
			"check KIOSK_CENTRAL and the token file (run 'kioskd central add-station " + station + "' on central for a token; write it to the token file, mode 0600)",
		}
		return f
	}
	defer client.CloseIdleConnections()
	cctx, cancel := context.WithTimeout(ctx, centralTimeout)
	defer cancel()
	hello, err := client.Hello(cctx)
	var se *uplink.StatusError
	switch {
	case errors.As(err, &se) && (se.Status == http.StatusUnauthorized || se.Status == http.StatusForbidden):
		f.Status = statusFail
		f.Summary = text{"中心拒绝本站令牌", "central refuses this station's token"}
		f.Detail = err.Error()
		f.Fix = &text{
			"在中心运行 kioskd central add-station " + station + " 取得新令牌，写入本站令牌文件（权限 0600），然后 sudo systemctl restart kioskd",
			"run 'kioskd central add-station " + station + "' on central for a new token, write it to this station's token file (mode 0600), then sudo systemctl restart kioskd",
		}
		return f
	case err != nil:
		f.Status = statusFail
		f.Summary = text{"无法连接中心", "central is unreachable"}
		f.Detail = fmt.Sprintf("%s: %v", cfg.central.url, err)
		f.Fix = &text{
			"检查网络与地址 KIOSK_CENTRAL；证书错误时检查 KIOSK_CENTRAL_CA。断网期间记录安全保存在本机，恢复后自动上传",
			"check the network and the address KIOSK_CENTRAL; for a certificate error, KIOSK_CENTRAL_CA. Records stay safe on the station meanwhile and upload once central is back",
		}
		return f
	case hello.StationID != station:
		f.Status = statusFail
		f.Summary = text{"令牌属于另一个工作站 " + hello.StationID, "the token belongs to another station, " + hello.StationID}
		f.Detail = fmt.Sprintf("this station is %q; central knows the token as %q", station, hello.StationID)
		f.Fix = &text{
			"把 KIOSK_STATION_ID 设为 " + hello.StationID + "，或换用本站自己的令牌",
			"set KIOSK_STATION_ID=" + hello.StationID + ", or use this station's own token",
		}
		return f
	}
	offset := d.now().Sub(hello.ServerTime)
	f.Detail = fmt.Sprintf("%s: station %s, epoch %s, clock offset %v", cfg.central.url, hello.StationID, hello.ServerEpoch, offset.Round(10*time.Millisecond))
	if offset > maxClockOffset || offset < -maxClockOffset {
		f.Status = statusWarn
		f.Summary = text{"本机时钟与中心相差过大", "the station's clock is far from central's"}
		f.Fix = &text{
			"开启网络校时：sudo timedatectl set-ntp true",
			"turn on network time: sudo timedatectl set-ntp true",
		}
		return f
	}
	f.Status = statusPass
	f.Summary = text{"中心可达，令牌有效", "central is reachable and accepts the token"}
	return f
}
