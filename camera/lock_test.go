package camera_test

import (
	"context"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/blackjack/webcam"

	"kioskd/camera"
)

func TestLockCamera(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cam := newFakeCam(hd)
		cam.controls = map[webcam.ControlID]webcam.Control{
			webcam.ControlID(camera.ControlExposureAuto):     {Name: "Auto Exposure", Min: 0, Max: 3, Type: 2, Step: 1},
			webcam.ControlID(camera.ControlExposureAbsolute): {Name: "Exposure Time, Absolute", Min: 3, Max: 2047, Step: 1},
			webcam.ControlID(camera.ControlWhiteBalanceAuto): {Name: "White Balance, Automatic", Min: 0, Max: 1, Type: 1, Step: 1},
			webcam.ControlID(camera.ControlWhiteBalanceTemp): {Name: "White Balance Temperature", Min: 2800, Max: 6500, Step: 10},
		}
		cam.values = map[webcam.ControlID]int32{
			webcam.ControlID(camera.ControlExposureAuto):     3, // aperture priority (automatic)
			webcam.ControlID(camera.ControlExposureAbsolute): 156,
			webcam.ControlID(camera.ControlWhiteBalanceAuto): 1,
			webcam.ControlID(camera.ControlWhiteBalanceTemp): 5100,
		}
		jpg := testJPEG(t, 16, 16, 0)
		cam.live = func() []byte { return jpg }
		d := newDevice(&opener{results: []any{cam}}, nil)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- d.Run(ctx, &sink{}) }()
		time.Sleep(50 * time.Millisecond)

		locked, err := d.LockCamera(ctx)
		if err != nil {
			t.Fatalf("LockCamera = %v", err)
		}
		want := map[string]int32{
			"auto_exposure": 1, "white_balance_automatic": 0,
			"exposure_time_absolute": 156, "white_balance_temperature": 5100,
		}
		for name, v := range want {
			if got, ok := locked[name]; !ok || got != v {
				t.Errorf("locked %s = %d (set: %v); want %d", name, got, ok, v)
			}
		}
		if _, ok := locked["focus_automatic_continuous"]; ok {
			t.Errorf("locked = %v; the camera has no autofocus to lock", locked)
		}
		// The automatic modes were switched off before the manual values
		// were written back.
		auto := slices.Index(cam.setLog, "0x009a0901=1")
		manual := slices.Index(cam.setLog, "0x009a0902=156")
		if auto < 0 || manual < 0 || manual < auto {
			t.Errorf("set order %v; want auto_exposure=1 before exposure_time_absolute=156", cam.setLog)
		}
		cancel()
		<-done
	})
}
