package camera

// V4L2Device is the seam between the Device and the webcam library, for the
// scripted fake in the external tests.
type V4L2Device = v4l2Device

// Backoff bounds, for tests of the reconnect schedule.
const (
	FirstBackoff = firstBackoff
	MaxBackoff   = maxBackoff
)

// StandardDHT is the Annex K.3 DHT segment NormalizeJPEG inserts.
var StandardDHT = standardDHT

// SetOpener replaces how d opens cameras.
func SetOpener(d *Device, open func(path string) (V4L2Device, error)) { d.open = open }

// ChooseMode is chooseMode.
func ChooseMode(cam V4L2Device, maxW, maxH int, minFPS float64) (Mode, error) {
	return chooseMode(cam, maxW, maxH, minFPS)
}

// AutoPathIn is AutoPath over a by-id folder of the test's making.
func AutoPathIn(dir, fallback string, isCapture func(string) bool) string {
	return autoPath(dir, fallback, isCapture)
}

// ListDevicesIn is ListDevices over folders of the test's making.
func ListDevicesIn(dev, byID string, open func(path string) (V4L2Device, error)) ([]DeviceInfo, error) {
	return listDevices(dev, byID, open)
}

// CopyFrame is what the capture loop does with the newest MJPEG buffer:
// check it, and copy it out once with the Huffman tables it needs.
func CopyFrame(src []byte) ([]byte, int, int, error) {
	return newConverter(Mode{Format: MJPEG}, DefaultYUYVQuality).convert(src)
}
