package camera

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Where cameras are found.
const (
	byIDDir      = "/dev/v4l/by-id"
	devDir       = "/dev"
	fallbackPath = "/dev/video0"
)

// NoCamerasMessage is what WriteDevices prints when there is no camera.
const NoCamerasMessage = "没有找到摄像头 / no cameras found: plug in a USB camera, check `ls /dev/video*` and membership of the video group"

// V4L2 capability bits and the QUERYCAP request (linux/videodev2.h).
const (
	capVideoCapture = 0x00000001
	capStreaming    = 0x04000000
	capDeviceCaps   = 0x80000000
	// vidiocQueryCap is _IOR('V', 0, struct v4l2_capability), 104 bytes.
	vidiocQueryCap = 0x80685600
)

// v4l2Capability is struct v4l2_capability.
type v4l2Capability struct {
	driver       [16]byte
	card         [32]byte
	busInfo      [32]byte
	version      uint32
	capabilities uint32
	deviceCaps   uint32
	reserved     [3]uint32
}

// Probe checks that path ("" for the camera Run would pick) is a V4L2
// video capture device that this process can open, so that main can stop
// at start-up with a clear message instead of retrying for ever. A camera
// that another program is using passes: that is a state, retried by Run.
func Probe(path string) error {
	if path == "" {
		path = AutoPath()
	}
	err := probe(path)
	switch {
	case err == nil, errors.Is(err, unix.EBUSY):
		return nil
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("camera %s does not exist; list cameras with `kioskd devices`: %w", path, err)
	case errors.Is(err, ErrNotCaptureDevice):
		return fmt.Errorf("%s is not a V4L2 capture device; list cameras with `kioskd devices`: %w", path, err)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("no permission to open camera %s: add the user to the video group: %w", path, err)
	}
	return fmt.Errorf("check camera %s: %w", path, err)
}

// probe opens path and asks the driver what it is. Its errors wrap
// ErrNotCaptureDevice, or the system's error (fs.ErrNotExist, ...).
func probe(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.Mode()&fs.ModeCharDevice == 0 {
		return fmt.Errorf("%s: %w (not a character device)", path, ErrNotCaptureDevice)
	}
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	var c v4l2Capability
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), vidiocQueryCap, uintptr(unsafe.Pointer(&c))); errno != 0 {
		if errno == unix.ENOTTY || errno == unix.EINVAL {
			return fmt.Errorf("%s: %w (not V4L2)", path, ErrNotCaptureDevice)
		}
		return &fs.PathError{Op: "query", Path: path, Err: errno}
	}
	// capabilities describes the whole physical device; device_caps this
	// node. The metadata node of a UVC camera differs only in the latter.
	caps := c.capabilities
	if caps&capDeviceCaps != 0 {
		caps = c.deviceCaps
	}
	if caps&capVideoCapture == 0 {
		return fmt.Errorf("%s: %w (no video capture: a metadata or output node)", path, ErrNotCaptureDevice)
	}
	if caps&capStreaming == 0 {
		return fmt.Errorf("%s: %w (no streaming I/O)", path, ErrNotCaptureDevice)
	}
	return nil
}

// AutoPath returns the camera an empty Device.Path stands for: the first
// capture device under /dev/v4l/by-id, *-video-index0 links first, else
// /dev/video0 (which may not exist).
func AutoPath() string {
	return autoPath(byIDDir, fallbackPath, func(p string) bool { return probe(p) == nil })
}

func autoPath(dir, fallback string, isCapture func(string) bool) string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fallback
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.SortFunc(names, func(a, b string) int {
		ia, ib := strings.HasSuffix(a, "-video-index0"), strings.HasSuffix(b, "-video-index0")
		if c := cmp.Compare(boolInt(ib), boolInt(ia)); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	for _, n := range names {
		if p := filepath.Join(dir, n); isCapture(p) {
			return p
		}
	}
	return fallback
}

// DeviceInfo describes a /dev/video* node for `kioskd devices`.
type DeviceInfo struct {
	Path    string       `json:"path"`
	Links   []string     `json:"links,omitempty"` // /dev/v4l/by-id links to Path
	Name    string       `json:"name,omitempty"`
	Bus     string       `json:"bus,omitempty"`
	Formats []FormatInfo `json:"formats,omitempty"`
	// Err says why the node cannot be used as a camera ("" if it can).
	Err string `json:"error,omitempty"`
}

// FormatInfo is one pixel format of a device with its sizes.
type FormatInfo struct {
	Format      PixelFormat `json:"format"`
	Description string      `json:"description"`
	Sizes       []SizeInfo  `json:"sizes"`
}

// SizeInfo is one frame size with its frame rates, fastest first.
type SizeInfo struct {
	Width  int       `json:"width"`
	Height int       `json:"height"`
	FPS    []float64 `json:"fps,omitempty"`
}

// ListDevices describes every /dev/video* node, in number order, with the
// /dev/v4l/by-id links that point to it. Nodes that cannot be opened are
// listed with the reason. No devices is an empty list, not an error.
func ListDevices() ([]DeviceInfo, error) {
	return listDevices(devDir, byIDDir, openWebcam)
}

func listDevices(dev, byID string, open opener) ([]DeviceInfo, error) {
	paths, err := filepath.Glob(filepath.Join(dev, "video*"))
	if err != nil {
		return nil, fmt.Errorf("list cameras: %w", err)
	}
	slices.SortFunc(paths, func(a, b string) int { return cmp.Compare(nodeNumber(a), nodeNumber(b)) })
	links := make(map[string][]string)
	if entries, err := os.ReadDir(byID); err == nil {
		for _, e := range entries {
			l := filepath.Join(byID, e.Name())
			if target, err := filepath.EvalSymlinks(l); err == nil {
				links[target] = append(links[target], l)
			}
		}
	}
	var out []DeviceInfo
	for _, p := range paths {
		info := DeviceInfo{Path: p, Links: links[p]}
		cam, err := open(p)
		if err != nil {
			info.Err = err.Error()
			out = append(out, info)
			continue
		}
		describe(&info, cam)
		cam.Close()
		out = append(out, info)
	}
	return out, nil
}

// nodeNumber returns N of /dev/videoN, so that video10 sorts after video9.
func nodeNumber(p string) int {
	n, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(p), "video"))
	if err != nil {
		return -1
	}
	return n
}

func describe(info *DeviceInfo, cam v4l2Device) {
	info.Name, _ = cam.GetName()
	info.Bus, _ = cam.GetBusInfo()
	formats := cam.GetSupportedFormats()
	for _, pf := range slices.Sorted(maps.Keys(formats)) {
		fi := FormatInfo{Format: PixelFormat(pf), Description: formats[pf]}
		for _, sz := range sizes(cam.GetSupportedFrameSizes(pf)) {
			fi.Sizes = append(fi.Sizes, SizeInfo{
				Width: sz[0], Height: sz[1],
				FPS: frameRates(cam.GetSupportedFramerates(pf, uint32(sz[0]), uint32(sz[1]))),
			})
		}
		info.Formats = append(info.Formats, fi)
	}
	if len(info.Formats) == 0 {
		info.Err = "lists no formats (a metadata node?)"
	}
}

// WriteDevices writes devs for people, or NoCamerasMessage when none of
// them is a usable camera.
func WriteDevices(w io.Writer, devs []DeviceInfo) error {
	var b strings.Builder
	usable := 0
	for _, d := range devs {
		fmt.Fprintf(&b, "%s", d.Path)
		if d.Name != "" {
			fmt.Fprintf(&b, ": %s", d.Name)
		}
		if d.Bus != "" {
			fmt.Fprintf(&b, " (%s)", d.Bus)
		}
		b.WriteByte('\n')
		for _, l := range d.Links {
			fmt.Fprintf(&b, "  link: %s\n", l)
		}
		if d.Err != "" {
			fmt.Fprintf(&b, "  not usable: %s\n", d.Err)
			continue
		}
		usable++
		for _, f := range d.Formats {
			fmt.Fprintf(&b, "  %s (%s):", f.Format, f.Description)
			for _, s := range f.Sizes {
				fmt.Fprintf(&b, " %dx%d", s.Width, s.Height)
				for i, r := range s.FPS {
					sep := ","
					if i == 0 {
						sep = "@"
					}
					fmt.Fprintf(&b, "%s%s", sep, strconv.FormatFloat(r, 'g', 4, 64))
				}
			}
			b.WriteByte('\n')
		}
	}
	if usable == 0 {
		b.WriteString(NoCamerasMessage + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
