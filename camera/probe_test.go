package camera_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"kioskd/camera"
)

func TestProbe(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "video0")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		path   string
		is     error
		phrase string
	}{
		{"missing", filepath.Join(dir, "video9"), fs.ErrNotExist, "does not exist; list cameras with `kioskd devices`"},
		{"regular file", file, camera.ErrNotCaptureDevice, "is not a V4L2 capture device; list cameras with `kioskd devices`"},
		{"directory", dir, camera.ErrNotCaptureDevice, "is not a V4L2 capture device"},
		{"character device that is not V4L2", "/dev/null", camera.ErrNotCaptureDevice, "/dev/null is not a V4L2 capture device"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.path == "/dev/null" {
				if fi, err := os.Stat(tc.path); err != nil || fi.Mode()&fs.ModeCharDevice == 0 {
					t.Skip("no /dev/null character device here")
				}
			}
			err := camera.Probe(tc.path)
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.phrase) {
				t.Errorf("Probe(%s) = %v; want %v saying %q", tc.path, err, tc.is, tc.phrase)
			}
		})
	}
}

func TestAutoPath(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"usb-B_Cam-video-index1", "usb-A_Cam-video-index1", "usb-C_Cam-video-index0", "usb-A_Cam-video-index0"} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	all := func(string) bool { return true }
	not := func(names ...string) func(string) bool {
		return func(p string) bool { return !slices.Contains(names, filepath.Base(p)) }
	}
	for _, tc := range []struct {
		name      string
		dir       string
		isCapture func(string) bool
		want      string
	}{
		{"index0 first, by name", dir, all, filepath.Join(dir, "usb-A_Cam-video-index0")},
		{"skips nodes that cannot capture", dir, not("usb-A_Cam-video-index0"), filepath.Join(dir, "usb-C_Cam-video-index0")},
		{"then other nodes", dir, not("usb-A_Cam-video-index0", "usb-C_Cam-video-index0"), filepath.Join(dir, "usb-A_Cam-video-index1")},
		{"none can capture", dir, func(string) bool { return false }, "/dev/video0"},
		{"no by-id folder", filepath.Join(dir, "missing"), all, "/dev/video0"},
	} {
		if got := camera.AutoPathIn(tc.dir, "/dev/video0", tc.isCapture); got != tc.want {
			t.Errorf("%s: AutoPath = %s; want %s", tc.name, got, tc.want)
		}
	}
}

func TestListDevices(t *testing.T) {
	dev, byID := t.TempDir(), t.TempDir()
	for _, n := range []string{"video10", "video2", "video0", "video1"} {
		if err := os.WriteFile(filepath.Join(dev, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for link, target := range map[string]string{
		"usb-Fake_Cam_123-video-index0": "video0",
		"usb-Fake_Cam_123-video-index1": "video1",
	} {
		if err := os.Symlink(filepath.Join(dev, target), filepath.Join(byID, link)); err != nil {
			t.Fatal(err)
		}
	}
	open := func(p string) (camera.V4L2Device, error) {
		switch filepath.Base(p) {
		case "video0":
			c := newFakeCam(mode(camera.YUYV, 640, 480, 30))
			c.addMode(camera.MJPEG, 1920, 1080, 30, 15)
			c.addMode(camera.MJPEG, 1280, 720, 30)
			return c, nil
		case "video1":
			return nil, fmt.Errorf("%s: %w (no video capture: a metadata or output node)", p, camera.ErrNotCaptureDevice)
		case "video2":
			return newFakeCam(), nil // opens, lists nothing
		}
		c := newFakeCam(mode(camera.YUYV, 320, 240, 7.5))
		c.name = "Other Cam"
		return c, nil
	}
	devs, err := camera.ListDevicesIn(dev, byID, open)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, d := range devs {
		paths = append(paths, filepath.Base(d.Path))
	}
	if want := []string{"video0", "video1", "video2", "video10"}; !slices.Equal(paths, want) {
		t.Fatalf("devices %q; want %q (in number order)", paths, want)
	}
	if len(devs[0].Links) != 1 || filepath.Base(devs[0].Links[0]) != "usb-Fake_Cam_123-video-index0" {
		t.Errorf("video0 links = %q; want its by-id link", devs[0].Links)
	}
	if devs[0].Err != "" || devs[1].Err == "" || devs[2].Err == "" || devs[3].Err != "" {
		t.Errorf("errors = %q, %q, %q, %q; want only video1 (metadata node) and video2 (no formats)", devs[0].Err, devs[1].Err, devs[2].Err, devs[3].Err)
	}

	var out strings.Builder
	if err := camera.WriteDevices(&out, devs); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"video0: Fake Cam (usb-fake-1)\n",
		"  link: " + filepath.Join(byID, "usb-Fake_Cam_123-video-index0") + "\n",
		"  MJPEG (Motion-JPEG): 1920x1080@30,15 1280x720@30\n",
		"  YUYV (YUYV 4:2:2): 640x480@30\n",
		"video1\n  link: " + filepath.Join(byID, "usb-Fake_Cam_123-video-index1") + "\n  not usable: ",
		"video10: Other Cam (usb-fake-1)\n  YUYV (YUYV 4:2:2): 320x240@7.5\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("WriteDevices output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), camera.NoCamerasMessage) {
		t.Errorf("WriteDevices says there are no cameras:\n%s", out.String())
	}
}

func TestWriteDevicesWithoutCameras(t *testing.T) {
	for _, tc := range []struct {
		name string
		devs []camera.DeviceInfo
	}{
		{"none", nil},
		{"none usable", []camera.DeviceInfo{{Path: "/dev/video1", Err: "not a V4L2 capture device"}}},
	} {
		var out strings.Builder
		if err := camera.WriteDevices(&out, tc.devs); err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(out.String(), camera.NoCamerasMessage+"\n") || !strings.HasPrefix(camera.NoCamerasMessage, "没有找到摄像头 / no cameras found") {
			t.Errorf("%s: WriteDevices = %q; want it to end with the no-cameras message", tc.name, out.String())
		}
	}
}

func TestListDevicesOnThisMachine(t *testing.T) {
	// Whatever this machine has (CI has no cameras), listing must work and
	// agree with /dev.
	devs, err := camera.ListDevices()
	if err != nil {
		t.Fatalf("ListDevices = %v", err)
	}
	nodes, _ := filepath.Glob("/dev/video*")
	if len(devs) != len(nodes) {
		t.Errorf("ListDevices found %d devices; /dev has %d video nodes", len(devs), len(nodes))
	}
}
