package photo

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
)

// DefaultMaxPixels bounds the size of a picture Decode accepts: 25 MP covers
// a 4K camera frame and a 24 MP still, and keeps the worst decode (16-bit
// RGBA) near 200 MB.
const DefaultMaxPixels = 25_000_000

// ErrTooLarge is returned for a picture whose header declares more pixels
// than allowed; nothing is decoded.
var ErrTooLarge = errors.New("picture too large")

// ErrFormat is returned for bytes that are neither JPEG nor PNG.
var ErrFormat = errors.New("not a JPEG or PNG picture")

// Decode decodes a JPEG or PNG picture after checking, from its header
// alone, that it has at most maxPixels pixels (DefaultMaxPixels if
// maxPixels <= 0). A JPEG decodes to *image.YCbCr (or *image.Gray,
// *image.CMYK), whose luma plane the analysis uses without conversion.
// Baseline JPEGs (what cameras write) go through the station's own
// decoder (decodeImage), which gives image/jpeg's picture within a level
// or two, about three times faster; anything it does not handle goes to
// image/jpeg.
func Decode(b []byte, maxPixels int) (image.Image, error) {
	if maxPixels <= 0 {
		maxPixels = DefaultMaxPixels
	}
	var (
		decodeConfig func([]byte) (image.Config, error)
		decode       func([]byte) (image.Image, error)
		format       string
	)
	switch {
	case len(b) >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF:
		format = "jpeg"
		decodeConfig = func(b []byte) (image.Config, error) { return jpeg.DecodeConfig(bytes.NewReader(b)) }
		decode = func(b []byte) (image.Image, error) { return jpeg.Decode(bytes.NewReader(b)) }
	case len(b) >= 8 && string(b[:8]) == "\x89PNG\r\n\x1a\n":
		format = "png"
		decodeConfig = func(b []byte) (image.Config, error) { return png.DecodeConfig(bytes.NewReader(b)) }
		decode = func(b []byte) (image.Image, error) { return png.Decode(bytes.NewReader(b)) }
	default:
		return nil, ErrFormat
	}
	cfg, err := decodeConfig(b)
	if err != nil {
		return nil, fmt.Errorf("decode %s header: %w", format, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, fmt.Errorf("decode %s: empty picture %dx%d", format, cfg.Width, cfg.Height)
	}
	if int64(cfg.Width)*int64(cfg.Height) > int64(maxPixels) {
		return nil, fmt.Errorf("decode %s %dx%d: %w (limit %d pixels)", format, cfg.Width, cfg.Height, ErrTooLarge, maxPixels)
	}
	if format == "jpeg" {
		if img, err := decodeImage(b, maxPixels); err == nil {
			return img, nil
		}
		// Refused or broken: image/jpeg handles it or says what is wrong.
	}
	img, err := decode(b)
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", format, err)
	}
	return img, nil
}
