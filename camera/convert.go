package camera

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
)

// converter turns the newest driver buffer into the JPEG bytes of a
// kiosk.Frame, copying out of driver memory exactly once. It belongs to
// one session and reuses its scratch image between frames.
type converter struct {
	mode     Mode
	quality  int
	ycbcr    *image.YCbCr // YUYV only: the de-interleaved frame
	sizeHint int          // YUYV only: the last JPEG's size, to size the next buffer
}

func newConverter(m Mode, quality int) *converter {
	return &converter{mode: m, quality: quality}
}

// convert returns a new slice with the frame as a normalized JPEG, and the
// picture's size. src is only read, and not kept.
func (c *converter) convert(src []byte) ([]byte, int, int, error) {
	if c.mode.Format == YUYV {
		return c.yuyv(src)
	}
	l, err := scanJPEG(src)
	if err != nil {
		return nil, 0, 0, err
	}
	out := make([]byte, l.size())
	l.copyTo(out, src)
	return out, l.width, l.height, nil
}

// yuyv de-interleaves a packed 4:2:2 frame (Y0 Cb Y1 Cr for each pair of
// pixels) into a YCbCr image and encodes it as JPEG.
func (c *converter) yuyv(src []byte) ([]byte, int, int, error) {
	w, h := c.mode.Width, c.mode.Height
	if w <= 0 || h <= 0 || w%2 != 0 || len(src) < w*h*2 {
		return nil, 0, 0, fmt.Errorf("%w: YUYV frame of %d bytes for %dx%d", ErrBadFrame, len(src), w, h)
	}
	if c.ycbcr == nil {
		c.ycbcr = image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio422)
	}
	deinterleaveYUYV(c.ycbcr, src)
	var buf bytes.Buffer
	buf.Grow(c.sizeHint + c.sizeHint/8)
	if err := jpeg.Encode(&buf, c.ycbcr, &jpeg.Options{Quality: c.quality}); err != nil {
		return nil, 0, 0, fmt.Errorf("encode YUYV frame: %w", err)
	}
	c.sizeHint = buf.Len()
	return buf.Bytes(), w, h, nil
}

// deinterleaveYUYV fills m (4:2:2, even width) from packed YUYV bytes.
func deinterleaveYUYV(m *image.YCbCr, src []byte) {
	w, h := m.Rect.Dx(), m.Rect.Dy()
	for y := range h {
		row := src[y*w*2 : (y+1)*w*2]
		yrow := m.Y[y*m.YStride : y*m.YStride+w]
		crow := m.Cb[y*m.CStride : y*m.CStride+w/2]
		rrow := m.Cr[y*m.CStride : y*m.CStride+w/2]
		for x := 0; x < w/2; x++ {
			p := row[4*x : 4*x+4]
			yrow[2*x] = p[0]
			crow[x] = p[1]
			yrow[2*x+1] = p[2]
			rrow[x] = p[3]
		}
	}
}
