package replay

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// DefaultMaxFrame is the largest frame a Splitter accepts unless told
// otherwise: far above any camera frame (a 4K MJPEG frame is about 2 MB),
// small enough that a stream without an end marker cannot exhaust memory.
const DefaultMaxFrame = 16 << 20

// ErrBadFrame is wrapped by the errors of frames that a Splitter skips:
// cut short, malformed, or larger than its limit. Reading can go on after
// it.
var ErrBadFrame = errors.New("bad JPEG frame")

// JPEG markers (ISO 10918-1, Table B.1).
const (
	markerTEM  = 0x01
	markerRST0 = 0xd0
	markerRST7 = 0xd7
	markerSOI  = 0xd8
	markerEOI  = 0xd9
	markerSOS  = 0xda
)

// Splitter cuts a byte stream into the JPEG images it holds: an MJPEG file
// (JPEG images one after the other) or a multipart/x-mixed-replace body.
// Whatever lies between images (part boundaries and headers, padding) is
// skipped. It follows the marker segments rather than looking for the
// first end marker, so a thumbnail inside an APP1 (Exif) segment does not
// end the frame. A Splitter never holds more than its limit of bytes.
type Splitter struct {
	r   *bufio.Reader
	max int
	// inFrame is set when the last call stopped at the start marker of the
	// next frame (the one before it was cut short).
	inFrame bool
	hint    int // the size of the last frame, to allocate the next one
}

// NewSplitter returns a Splitter reading r that accepts frames of up to max
// bytes (DefaultMaxFrame if max <= 0).
func NewSplitter(r io.Reader, max int) *Splitter {
	if max <= 0 {
		max = DefaultMaxFrame
	}
	return &Splitter{r: bufio.NewReaderSize(r, 64<<10), max: max}
}

// Next returns the next JPEG image, from its start marker (SOI) to its end
// marker (EOI), in a new slice that the caller owns. It returns an error
// wrapping ErrBadFrame for a frame it had to skip (call Next again for the
// one after it), io.EOF at the end of the stream, and any other error of the
// reader.
func (s *Splitter) Next() ([]byte, error) {
	if !s.inFrame {
		if err := s.findSOI(); err != nil {
			return nil, err
		}
	}
	s.inFrame = false
	f := frame{b: make([]byte, 0, min(s.hint+4096, s.max)), max: s.max}
	f.b = append(f.b, 0xff, markerSOI)
	err := s.readFrame(&f)
	switch {
	case err == nil:
		s.hint = len(f.b)
		return f.b, nil
	case errors.Is(err, io.EOF):
		return nil, fmt.Errorf("%w: cut short by the end of the stream after %d bytes", ErrBadFrame, len(f.b))
	default:
		return nil, err
	}
}

// frame is the image being assembled, bounded by max.
type frame struct {
	b   []byte
	max int
}

func (f *frame) add(p ...byte) error {
	if len(f.b)+len(p) > f.max {
		return fmt.Errorf("%w: larger than %d bytes", ErrBadFrame, f.max)
	}
	f.b = append(f.b, p...)
	return nil
}

// findSOI skips to just after the next start-of-image marker.
func (s *Splitter) findSOI() error {
	for {
		// ReadSlice keeps nothing: the skipped bytes are never stored.
		_, err := s.r.ReadSlice(0xff)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil {
			return err
		}
		c, err := s.r.ReadByte()
		if err != nil {
			return err
		}
		switch c {
		case markerSOI:
			return nil
		case 0xff:
			// It may start the marker.
			if err := s.r.UnreadByte(); err != nil {
				return err
			}
		}
	}
}

// readFrame reads the rest of a frame after its SOI into f, up to and
// including EOI.
func (s *Splitter) readFrame(f *frame) error {
	m, err := s.marker(f)
	for {
		if err != nil {
			return err
		}
		switch {
		case m == markerEOI:
			return f.add(0xff, m)
		case m == markerSOI:
			// A new image starts before this one ended: this one was cut
			// short (a USB hiccup in a recorded stream). Keep the new one.
			s.inFrame = true
			return fmt.Errorf("%w: cut short by the next frame after %d bytes", ErrBadFrame, len(f.b))
		case m == markerTEM || (m >= markerRST0 && m <= markerRST7):
			// Markers without a segment.
			if err := f.add(0xff, m); err != nil {
				return err
			}
			m, err = s.marker(f)
		default:
			if err := s.segment(f, m); err != nil {
				return err
			}
			if m == markerSOS {
				m, err = s.entropy(f)
			} else {
				m, err = s.marker(f)
			}
		}
	}
}

// marker reads the next marker, which must come now, into f (with the fill
// bytes 0xFF that may precede it) and returns its code.
func (s *Splitter) marker(f *frame) (byte, error) {
	c, err := s.r.ReadByte()
	if err != nil {
		return 0, err
	}
	if c != 0xff {
		return 0, fmt.Errorf("%w: byte 0x%02x where a marker should be", ErrBadFrame, c)
	}
	return s.markerCode(f)
}

// markerCode reads the code of a marker whose first 0xFF has been read,
// keeping fill bytes in f.
func (s *Splitter) markerCode(f *frame) (byte, error) {
	for {
		c, err := s.r.ReadByte()
		if err != nil {
			return 0, err
		}
		switch c {
		case 0xff:
			if err := f.add(0xff); err != nil {
				return 0, err
			}
		case 0:
			return 0, fmt.Errorf("%w: stuffed zero where a marker should be", ErrBadFrame)
		default:
			return c, nil
		}
	}
}

// segment copies marker m's segment (length and contents) into f.
func (s *Splitter) segment(f *frame, m byte) error {
	var l [2]byte
	if _, err := io.ReadFull(s.r, l[:]); err != nil {
		return eof(err)
	}
	n := int(l[0])<<8 | int(l[1])
	if n < 2 {
		return fmt.Errorf("%w: segment 0x%02x has length %d", ErrBadFrame, m, n)
	}
	if err := f.add(0xff, m, l[0], l[1]); err != nil {
		return err
	}
	if len(f.b)+n-2 > f.max {
		return fmt.Errorf("%w: larger than %d bytes", ErrBadFrame, f.max)
	}
	start := len(f.b)
	f.b = append(f.b, make([]byte, n-2)...)
	if _, err := io.ReadFull(s.r, f.b[start:]); err != nil {
		f.b = f.b[:start]
		return eof(err)
	}
	return nil
}

// entropy copies entropy-coded data into f up to the next marker that is
// not a restart marker, and returns that marker's code.
func (s *Splitter) entropy(f *frame) (byte, error) {
	for {
		chunk, err := s.r.ReadSlice(0xff)
		if errors.Is(err, bufio.ErrBufferFull) {
			if err := f.add(chunk...); err != nil {
				return 0, err
			}
			continue
		}
		if err != nil {
			return 0, err
		}
		// chunk ends with 0xFF: what follows says what it is.
		if err := f.add(chunk[:len(chunk)-1]...); err != nil {
			return 0, err
		}
		c, err := s.r.ReadByte()
		for err == nil && c == 0xff { // fill bytes before a marker
			if err = f.add(0xff); err == nil {
				c, err = s.r.ReadByte()
			}
		}
		if err != nil {
			return 0, err
		}
		switch {
		case c == 0 || (c >= markerRST0 && c <= markerRST7):
			// A stuffed 0xFF data byte, or a restart marker: data goes on.
			if err := f.add(0xff, c); err != nil {
				return 0, err
			}
		default:
			return c, nil
		}
	}
}

// eof turns a short read into io.EOF: the stream ended inside a frame.
func eof(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return io.EOF
	}
	return err
}
