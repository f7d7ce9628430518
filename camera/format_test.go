package camera_test

import (
	"strings"
	"testing"

	"github.com/blackjack/webcam"

	"kioskd/camera"
)

func mode(pf camera.PixelFormat, w, h int, fps float64) camera.Mode {
	return camera.Mode{Format: pf, Width: w, Height: h, FPS: fps}
}

func TestChooseMode(t *testing.T) {
	const M, Y = camera.MJPEG, camera.YUYV
	stepwise := newFakeCam()
	stepwise.formats[webcam.PixelFormat(Y)] = "YUYV 4:2:2"
	stepwise.sizes[webcam.PixelFormat(Y)] = []webcam.FrameSize{{MinWidth: 320, MaxWidth: 2592, StepWidth: 16, MinHeight: 240, MaxHeight: 1944, StepHeight: 8}}
	stepwise.rates[rateKey{webcam.PixelFormat(Y), 0, 0}] = []webcam.FrameRate{{MinNumerator: 1, MinDenominator: 30, MaxNumerator: 1, MaxDenominator: 5, StepNumerator: 1, StepDenominator: 1}}

	fps := func(c *fakeCam, pf camera.PixelFormat, w, h int, r ...float64) *fakeCam {
		c.addMode(pf, w, h, r...)
		return c
	}
	for _, tc := range []struct {
		name       string
		cam        *fakeCam
		maxW, maxH int
		want       camera.Mode
		err        string
	}{
		{
			name: "largest MJPEG within the limit",
			cam: newFakeCam(mode(M, 3840, 2160, 30), mode(M, 640, 480, 30), mode(M, 1920, 1080, 30),
				mode(M, 1280, 720, 30), mode(Y, 1920, 1080, 30)),
			maxW: 1920, maxH: 1080,
			want: mode(M, 1920, 1080, 30),
		},
		{
			name: "MJPEG too slow at the largest size",
			cam:  newFakeCam(mode(M, 1920, 1080, 10), mode(M, 1280, 720, 30), mode(Y, 1920, 1080, 5)),
			maxW: 1920, maxH: 1080,
			want: mode(M, 1280, 720, 30),
		},
		{
			name: "a lower limit",
			cam:  newFakeCam(mode(M, 1920, 1080, 30), mode(M, 1280, 720, 30)),
			maxW: 1280, maxH: 720,
			want: mode(M, 1280, 720, 30),
		},
		{
			name: "YUYV when there is no MJPEG",
			cam:  newFakeCam(mode(Y, 1920, 1080, 5), mode(Y, 1280, 720, 10), mode(Y, 640, 480, 30)),
			maxW: 1920, maxH: 1080,
			want: mode(Y, 640, 480, 30),
		},
		{
			name: "YUYV when MJPEG is too slow",
			cam:  newFakeCam(mode(M, 1920, 1080, 10), mode(Y, 640, 480, 30)),
			maxW: 1920, maxH: 1080,
			want: mode(Y, 640, 480, 30),
		},
		{
			name: "30 fps rather than 60",
			cam:  fps(newFakeCam(), M, 1920, 1080, 60, 30, 15),
			maxW: 1920, maxH: 1080,
			want: mode(M, 1920, 1080, 30),
		},
		{
			name: "60 fps when that is all there is",
			cam:  fps(newFakeCam(), M, 1280, 720, 60),
			maxW: 1920, maxH: 1080,
			want: mode(M, 1280, 720, 60),
		},
		{
			name: "nothing fast enough: the fastest",
			cam:  newFakeCam(mode(M, 1920, 1080, 5), mode(M, 1280, 720, 10), mode(Y, 640, 480, 12)),
			maxW: 1920, maxH: 1080,
			want: mode(M, 1280, 720, 10),
		},
		{
			name: "stepwise sizes",
			cam:  stepwise,
			maxW: 1920, maxH: 1080,
			want: mode(Y, 1920, 1080, 30),
		},
		{
			name: "only H.264",
			cam: func() *fakeCam {
				c := newFakeCam()
				c.formats[webcam.PixelFormat(0x34363248)] = "H.264"
				return c
			}(),
			maxW: 1920, maxH: 1080,
			err: "camera offers [H264]",
		},
		{
			name: "every size too big",
			cam:  newFakeCam(mode(M, 3840, 2160, 30)),
			maxW: 1920, maxH: 1080,
			err: "within 1920x1080",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := camera.ChooseMode(tc.cam, tc.maxW, tc.maxH, camera.DefaultMinFPS)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("ChooseMode = %v, %v; want an error about %q", got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("ChooseMode = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestModeString(t *testing.T) {
	for _, tc := range []struct {
		m    camera.Mode
		want string
	}{
		{mode(camera.MJPEG, 1920, 1080, 30), "MJPEG 1920x1080 30fps"},
		{mode(camera.YUYV, 640, 480, 7.5), "YUYV 640x480 7.5fps"},
		{mode(camera.PixelFormat(0x34363248), 1280, 720, 0), "H264 1280x720"},
		{mode(camera.PixelFormat(1), 1, 1, 0), "0x00000001 1x1"},
	} {
		if got := tc.m.String(); got != tc.want {
			t.Errorf("Mode%+v.String() = %q; want %q", tc.m, got, tc.want)
		}
	}
}
