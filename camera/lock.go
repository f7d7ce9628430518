package camera

import (
	"context"
	"errors"
	"fmt"

	"kioskd/kiosk"
)

var _ kiosk.CameraLocker = (*Device)(nil)

// LockCamera fixes the camera's exposure and white balance at their
// current values, for a calibrated booth: it reads the current manual
// values, turns the automatic modes off (manual exposure, no automatic white
// balance, no frame-rate lowering in dim light) and writes the values back,
// because some cameras jump when their automatic mode ends. Focus is left
// alone: calibration sees the empty booth, and a focus locked on the wall
// would blur the student sitting a metre in front of it. The settings are
// remembered and applied again whenever the camera is reopened (and, after a
// restart, from the calibration file: Device.ControlValues). Controls the
// camera does not have are skipped. It returns the values set, by control
// name.
func (d *Device) LockCamera(ctx context.Context) (map[string]int32, error) {
	controls, err := d.Controls(ctx)
	if err != nil {
		return nil, err
	}
	have := make(map[ControlID]Control, len(controls))
	for _, c := range controls {
		have[c.ID] = c
	}
	// Automatic modes first (off), then the manual values they were using.
	steps := []struct {
		id    ControlID
		value func(Control) int32
	}{
		{ControlExposureAuto, func(Control) int32 { return 1 }}, // manual
		{ControlExposureDynamicFPS, func(Control) int32 { return 0 }},
		{ControlWhiteBalanceAuto, func(Control) int32 { return 0 }},
		{ControlExposureAbsolute, func(c Control) int32 { return c.Value }},
		{ControlGain, func(c Control) int32 { return c.Value }},
		{ControlWhiteBalanceTemp, func(c Control) int32 { return c.Value }},
	}
	out := make(map[string]int32)
	var errs []error
	for _, s := range steps {
		c, ok := have[s.id]
		if !ok {
			continue // this camera has no such control
		}
		v := s.value(c)
		if err := d.SetControl(ctx, s.id, v); err != nil {
			errs = append(errs, err)
			continue
		}
		out[controlName(s.id)] = v
	}
	if len(errs) > 0 {
		return out, fmt.Errorf("lock camera exposure: %w", errors.Join(errs...))
	}
	return out, nil
}

// controlName is the kernel's name of a known control, else its number.
func controlName(id ControlID) string {
	for name, known := range ControlNames {
		if known == id {
			return name
		}
	}
	return id.String()
}
