package camera

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/blackjack/webcam"
)

// ControlID is a V4L2 control id (V4L2_CID_*). Controls are identified by
// id, not by name: kernels have renamed several of them.
type ControlID uint32

// Control ids from the kernel's v4l2-controls.h that a booth uses.
const (
	ControlBrightness            ControlID = 0x00980900
	ControlContrast              ControlID = 0x00980901
	ControlSaturation            ControlID = 0x00980902
	ControlWhiteBalanceAuto      ControlID = 0x0098090C // white_balance_automatic: 0 off, 1 on
	ControlGain                  ControlID = 0x00980913
	ControlPowerLineFrequency    ControlID = 0x00980918 // 0 off, 1 50 Hz, 2 60 Hz
	ControlWhiteBalanceTemp      ControlID = 0x0098091A // kelvin
	ControlSharpness             ControlID = 0x0098091B
	ControlBacklightCompensation ControlID = 0x0098091C
	ControlExposureAuto          ControlID = 0x009A0901 // 0 auto, 1 manual, 2 shutter priority, 3 aperture priority
	ControlExposureAbsolute      ControlID = 0x009A0902 // 100 µs units
	ControlExposureDynamicFPS    ControlID = 0x009A0903 // 0: never lower the frame rate in dim light
	ControlFocusAbsolute         ControlID = 0x009A090A
	ControlFocusAuto             ControlID = 0x009A090C // focus_automatic_continuous: 0 off, 1 on
	ControlZoomAbsolute          ControlID = 0x009A090D
)

// ControlNames maps the kernel's (v4l2-ctl's) names of the controls above
// to their ids; Device.ControlValues keys may use them.
var ControlNames = map[string]ControlID{
	"brightness":                 ControlBrightness,
	"contrast":                   ControlContrast,
	"saturation":                 ControlSaturation,
	"white_balance_automatic":    ControlWhiteBalanceAuto,
	"gain":                       ControlGain,
	"power_line_frequency":       ControlPowerLineFrequency,
	"white_balance_temperature":  ControlWhiteBalanceTemp,
	"sharpness":                  ControlSharpness,
	"backlight_compensation":     ControlBacklightCompensation,
	"auto_exposure":              ControlExposureAuto,
	"exposure_time_absolute":     ControlExposureAbsolute,
	"exposure_dynamic_framerate": ControlExposureDynamicFPS,
	"focus_absolute":             ControlFocusAbsolute,
	"focus_automatic_continuous": ControlFocusAuto,
	"zoom_absolute":              ControlZoomAbsolute,
}

// autoControls are set before every other control: while an automatic
// mode is on, cameras reject or ignore the manual value it governs.
var autoControls = []ControlID{ControlExposureAuto, ControlWhiteBalanceAuto, ControlFocusAuto, ControlExposureDynamicFPS}

// String returns the id in hex, as v4l2-ctl prints it.
func (id ControlID) String() string { return fmt.Sprintf("0x%08x", uint32(id)) }

// ParseControlID reads a control id: a name from ControlNames or a number
// ("0x009a0902" or decimal).
func ParseControlID(s string) (ControlID, error) {
	if id, ok := ControlNames[normalizeControlName(s)]; ok {
		return id, nil
	}
	n, err := strconv.ParseUint(strings.TrimSpace(s), 0, 32)
	if err != nil {
		return 0, fmt.Errorf("camera control %q: not a known name or a number", s)
	}
	return ControlID(n), nil
}

// normalizeControlName turns a camera's control name ("Exposure Time,
// Absolute") into the kernel's form ("exposure_time_absolute").
func normalizeControlName(s string) string {
	var b strings.Builder
	under := false
	for _, r := range strings.ToLower(strings.TrimSpace(s)) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			if under && b.Len() > 0 {
				b.WriteByte('_')
			}
			under = false
			b.WriteRune(r)
			continue
		}
		under = true
	}
	return b.String()
}

// Control describes one of the camera's controls and its current value.
type Control struct {
	ID    ControlID `json:"id"`
	Name  string    `json:"name"`
	Type  string    `json:"type"` // "int", "bool" or "menu"
	Min   int32     `json:"min"`
	Max   int32     `json:"max"`
	Step  int32     `json:"step"`
	Value int32     `json:"value"`
}

// controlSetting is one configured control: an id, or a name to look up
// among the camera's own controls.
type controlSetting struct {
	key   string // as configured, for messages
	id    ControlID
	name  string // normalized; set when id is 0
	value int32
}

// parseControlSettings orders the configured controls: automatic modes
// first, then the rest by key.
func parseControlSettings(m map[string]int32) ([]controlSetting, error) {
	var out []controlSetting
	for _, key := range slices.Sorted(maps.Keys(m)) {
		s := controlSetting{key: key, value: m[key]}
		if id, err := ParseControlID(key); err == nil {
			s.id = id
		} else if s.name = normalizeControlName(key); s.name == "" {
			return nil, fmt.Errorf("camera control %q: empty name", key)
		}
		out = append(out, s)
	}
	slices.SortStableFunc(out, func(a, b controlSetting) int {
		return cmp.Compare(autoRank(a.id), autoRank(b.id))
	})
	return out, nil
}

func autoRank(id ControlID) int {
	if i := slices.Index(autoControls, id); i >= 0 {
		return i
	}
	return len(autoControls)
}

// applyControls sets the session's controls on cam. After streaming has
// started it also reads each back and logs what the camera did not take.
// Failures are logged, not fatal: a booth with a wrong control still shows
// a picture.
func (r *run) applyControls(cam v4l2Device, readBack bool) {
	if len(r.controls) == 0 {
		return
	}
	var byName map[string]ControlID
	for _, s := range r.controls {
		id := s.id
		if id == 0 {
			if byName == nil {
				byName = make(map[string]ControlID)
				for cid, c := range cam.GetControls() {
					byName[normalizeControlName(c.Name)] = ControlID(cid)
				}
			}
			var ok bool
			if id, ok = byName[s.name]; !ok {
				if readBack {
					r.d.logger.Warn("camera has no such control", "device", r.path, "control", s.key)
				}
				continue
			}
		}
		err := cam.SetControl(webcam.ControlID(id), s.value)
		if !readBack {
			continue
		}
		if err != nil {
			r.d.logger.Warn("camera control not set", "device", r.path, "control", s.key, "value", s.value, "err", err)
			continue
		}
		if got, err := cam.GetControl(webcam.ControlID(id)); err == nil && got != s.value {
			r.d.logger.Warn("camera control changed by the camera", "device", r.path, "control", s.key, "want", s.value, "got", got)
		}
	}
}

// controlRequest is a call into the capture goroutine, which alone may use
// the camera.
type controlRequest struct {
	fn    func(r *run, cam v4l2Device) ([]Control, error)
	reply chan controlReply // buffered: the capture loop never waits on it
}

type controlReply struct {
	controls []Control
	err      error
}

// serveControls answers the control requests waiting now, without
// blocking: the capture loop calls it between frames.
func (r *run) serveControls(cam v4l2Device) {
	for {
		select {
		case req := <-r.d.reqs:
			cs, err := req.fn(r, cam)
			req.reply <- controlReply{controls: cs, err: err}
		default:
			return
		}
	}
}

// call runs fn in the capture goroutine and waits for its answer. The
// capture loop looks for requests at least once a second; while the camera
// is not open the answer is ErrCameraGone. Without a running Run, call
// waits until ctx is done.
func (d *Device) call(ctx context.Context, fn func(r *run, cam v4l2Device) ([]Control, error)) ([]Control, error) {
	req := controlRequest{fn: fn, reply: make(chan controlReply, 1)}
	select {
	case d.reqs <- req:
	case <-ctx.Done():
		return nil, fmt.Errorf("camera controls: %w", ctx.Err())
	}
	select {
	case rep := <-req.reply:
		return rep.controls, rep.err
	case <-ctx.Done():
		return nil, fmt.Errorf("camera controls: %w", ctx.Err())
	}
}

// Controls lists the camera's controls with their current values, sorted
// by id. It is answered by Run's goroutine within about a second;
// ErrCameraGone while the camera is not open; and it waits for ctx when
// Run is not running.
func (d *Device) Controls(ctx context.Context) ([]Control, error) {
	return d.call(ctx, func(r *run, cam v4l2Device) ([]Control, error) {
		var out []Control
		for id, c := range cam.GetControls() {
			v, err := cam.GetControl(id)
			if err != nil {
				return nil, fmt.Errorf("read camera control %s (%s): %w", ControlID(id), c.Name, err)
			}
			out = append(out, Control{
				ID: ControlID(id), Name: c.Name, Type: controlType(c.Type),
				Min: c.Min, Max: c.Max, Step: c.Step, Value: v,
			})
		}
		slices.SortFunc(out, func(a, b Control) int { return cmp.Compare(a.ID, b.ID) })
		return out, nil
	})
}

// SetControl sets a control of the open camera and remembers the value, so
// that it is set again whenever the camera is reopened.
func (d *Device) SetControl(ctx context.Context, id ControlID, value int32) error {
	_, err := d.call(ctx, func(r *run, cam v4l2Device) ([]Control, error) {
		if err := cam.SetControl(webcam.ControlID(id), value); err != nil {
			return nil, fmt.Errorf("set camera control %s to %d: %w", id, value, err)
		}
		r.remember(controlSetting{key: id.String(), id: id, value: value})
		return nil, nil
	})
	return err
}

// remember replaces or adds s in the controls applied on every open,
// keeping automatic modes first.
func (r *run) remember(s controlSetting) {
	cs := slices.DeleteFunc(slices.Clone(r.controls), func(c controlSetting) bool { return c.id == s.id && c.id != 0 })
	cs = append(cs, s)
	slices.SortStableFunc(cs, func(a, b controlSetting) int { return cmp.Compare(autoRank(a.id), autoRank(b.id)) })
	r.controls = cs
}

func controlType(t int32) string {
	switch t {
	case 1:
		return "bool"
	case 2:
		return "menu"
	}
	return "int"
}
