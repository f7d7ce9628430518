package camera

import (
	"bytes"
	"errors"
	"fmt"
)

// ErrBadFrame is wrapped by every error for a frame that cannot be
// delivered: NormalizeJPEG's when the bytes are not a complete JPEG stream
// that image/jpeg can read, and the capture loop's for a short YUYV frame.
var ErrBadFrame = errors.New("bad camera frame")

// JPEG marker codes (ISO 10918-1 Table B.1) that the scanner tells apart.
const (
	mSOF0 = 0xC0 // baseline
	mSOF1 = 0xC1 // extended sequential, Huffman
	mSOF2 = 0xC2 // progressive, Huffman
	mDHT  = 0xC4
	mRST0 = 0xD0
	mRST7 = 0xD7
	mSOI  = 0xD8
	mEOI  = 0xD9
	mSOS  = 0xDA
	mDQT  = 0xDB
	mDRI  = 0xDD
	mAPP0 = 0xE0
	mAPPF = 0xEF
	mCOM  = 0xFE
)

// jpegLayout is what scanJPEG learns about a frame.
type jpegLayout struct {
	width, height int
	// insertAt is where the standard Huffman tables go when needTables is
	// set: before the frame's first DHT segment (so that the frame's own
	// tables, read later, still win), or else before the first SOS.
	insertAt   int
	needTables bool
	// end is the index just past the EOI marker; bytes after it (padding
	// some cameras leave in the buffer) are dropped.
	end int
}

// NormalizeJPEG checks that b is one complete JPEG stream that image/jpeg
// can read, and returns it ready for a kiosk.Frame: cut after its EOI
// marker, with the standard Huffman tables of ISO 10918-1 Annex K.3 inserted
// when the first scan uses a table that no DHT segment defines (UVC MJPEG
// cameras may leave them out). w and h are the picture's size from its SOF
// header.
//
// out shares b's memory when no tables had to be inserted; otherwise it is a
// new slice. Only baseline, extended sequential and progressive Huffman
// JPEGs with 8-bit samples and 1 or 3 components are accepted, as those are
// what image/jpeg decodes. The check is structural (markers, segment
// lengths, SOF and SOS headers, the EOI after the scan); it does not decode
// the entropy-coded data. Every error wraps ErrBadFrame. NormalizeJPEG never
// panics, whatever b holds.
func NormalizeJPEG(b []byte) (out []byte, w, h int, err error) {
	l, err := scanJPEG(b)
	if err != nil {
		return nil, 0, 0, err
	}
	if !l.needTables {
		return b[:l.end:l.end], l.width, l.height, nil
	}
	return appendJPEG(nil, b, l), l.width, l.height, nil
}

// size is the length of the normalized stream: up to EOI, plus the
// standard tables when they are inserted.
func (l jpegLayout) size() int {
	if l.needTables {
		return l.end + len(standardDHT)
	}
	return l.end
}

// copyTo writes the normalized stream of src, as scanned into l, to out,
// which must be l.size() bytes long: the one copy out of driver memory.
func (l jpegLayout) copyTo(out, src []byte) {
	if !l.needTables {
		copy(out, src[:l.end])
		return
	}
	n := copy(out, src[:l.insertAt])
	n += copy(out[n:], standardDHT)
	copy(out[n:], src[l.insertAt:l.end])
}

// appendJPEG appends the normalized stream of b, as scanned into l, to dst:
// one copy, with the standard tables inserted where l says.
func appendJPEG(dst, b []byte, l jpegLayout) []byte {
	n := l.end
	if l.needTables {
		n += len(standardDHT)
	}
	dst = grow(dst, n)
	if !l.needTables {
		return append(dst, b[:l.end]...)
	}
	dst = append(dst, b[:l.insertAt]...)
	dst = append(dst, standardDHT...)
	return append(dst, b[l.insertAt:l.end]...)
}

func grow(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b
	}
	nb := make([]byte, len(b), len(b)+n)
	copy(nb, b)
	return nb
}

func badJPEG(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrBadFrame}, args...)...)
}

// scanJPEG walks the marker segments from SOI to the first SOS, checking
// what image/jpeg would check in the SOF and SOS headers, and then finds the
// EOI that ends the entropy-coded data.
func scanJPEG(b []byte) (jpegLayout, error) {
	var l jpegLayout
	if len(b) < 4 || b[0] != 0xFF || b[1] != mSOI {
		return l, badJPEG("no SOI marker")
	}
	var (
		sof         []byte // the SOF segment's payload
		progressive bool
		firstDHT    = -1
		// defined[class][id]: a DHT before the first SOS defines the table.
		defined [2][4]bool
	)
	i := 2
	for {
		start := i
		if i >= len(b) || b[i] != 0xFF {
			return l, badJPEG("no marker at offset %d", i)
		}
		for i < len(b) && b[i] == 0xFF { // fill bytes (B.1.1.2)
			i++
		}
		if i >= len(b) {
			return l, badJPEG("truncated before SOS")
		}
		m := b[i]
		i++
		switch {
		case m == 0x00 || m == mSOI || m == mEOI:
			return l, badJPEG("marker %#02x before SOS", m)
		case mRST0 <= m && m <= mRST7:
			continue // standalone, no length
		}
		if i+2 > len(b) {
			return l, badJPEG("truncated segment length")
		}
		n := int(b[i])<<8 | int(b[i+1])
		if n < 2 || i+n > len(b) {
			return l, badJPEG("segment %#02x length %d out of range", m, n)
		}
		seg := b[i+2 : i+n]
		i += n
		switch {
		case m == mSOF0 || m == mSOF1 || m == mSOF2:
			if sof != nil {
				return l, badJPEG("more than one SOF")
			}
			if err := checkSOF(seg); err != nil {
				return l, err
			}
			sof, progressive = seg, m == mSOF2
		case m == mDHT:
			if firstDHT < 0 {
				firstDHT = start
			}
			if err := readDHT(seg, &defined); err != nil {
				return l, err
			}
		case m == mSOS:
			if sof == nil {
				return l, badJPEG("SOS before SOF")
			}
			need, err := checkSOS(seg, sof, progressive)
			if err != nil {
				return l, err
			}
			for class := range 2 {
				for id := range 4 {
					if need[class][id] && !defined[class][id] {
						if id > 1 {
							return l, badJPEG("scan uses undefined Huffman table %d/%d", class, id)
						}
						l.needTables = true
					}
				}
			}
			l.insertAt = start
			if firstDHT >= 0 {
				l.insertAt = firstDHT
			}
			end, err := findEOI(b, i)
			if err != nil {
				return l, err
			}
			l.end = end
			l.height = int(sof[1])<<8 | int(sof[2])
			l.width = int(sof[3])<<8 | int(sof[4])
			return l, nil
		case m == mDQT || m == mDRI || m == mCOM || (mAPP0 <= m && m <= mAPPF):
			// Skipped by length; image/jpeg checks DQT and DRI itself.
		default:
			// Arithmetic coding, lossless, hierarchical, DNL and the
			// reserved codes: image/jpeg reads none of them.
			return l, badJPEG("unsupported marker %#02x", m)
		}
	}
}

// checkSOF checks a SOF payload the way image/jpeg's processSOF does.
func checkSOF(s []byte) error {
	if len(s) < 6 {
		return badJPEG("short SOF")
	}
	nc := int(s[5])
	if nc != 1 && nc != 3 {
		return badJPEG("%d components", nc)
	}
	if len(s) != 6+3*nc {
		return badJPEG("SOF length does not match its %d components", nc)
	}
	if s[0] != 8 {
		return badJPEG("%d-bit samples", s[0])
	}
	if h, w := int(s[1])<<8|int(s[2]), int(s[3])<<8|int(s[4]); w == 0 || h == 0 {
		return badJPEG("size %dx%d", w, h)
	}
	var hs, vs [3]int
	for c := range nc {
		p := s[6+3*c:]
		for d := range c {
			if s[6+3*d] == p[0] {
				return badJPEG("repeated component id")
			}
		}
		if p[2] > 3 {
			return badJPEG("quantization table %d", p[2])
		}
		h, v := int(p[1]>>4), int(p[1]&0x0F)
		if h < 1 || h > 4 || v < 1 || v > 4 || h == 3 || v == 3 {
			return badJPEG("sampling factors %dx%d", h, v)
		}
		hs[c], vs[c] = h, v
	}
	if nc == 3 {
		if vs[0] == 4 || hs[0]%hs[1] != 0 || vs[0]%vs[1] != 0 || hs[1] != hs[2] || vs[1] != vs[2] {
			return badJPEG("unsupported chroma subsampling")
		}
	}
	return nil
}

// readDHT marks the tables a DHT payload defines, checking its structure.
func readDHT(s []byte, defined *[2][4]bool) error {
	for len(s) > 0 {
		if len(s) < 17 {
			return badJPEG("short DHT")
		}
		class, id := s[0]>>4, s[0]&0x0F
		if class > 1 || id > 3 {
			return badJPEG("Huffman table %d/%d", class, id)
		}
		codes := 0
		for _, c := range s[1:17] {
			codes += int(c)
		}
		if codes == 0 || codes > 256 || len(s) < 17+codes {
			return badJPEG("Huffman table with %d codes", codes)
		}
		defined[class][id] = true
		s = s[17+codes:]
	}
	return nil
}

// checkSOS checks a SOS payload against the SOF, the way image/jpeg's
// processSOS does, and reports the Huffman tables ([0] DC, [1] AC) the scan
// uses.
func checkSOS(s, sof []byte, progressive bool) (need [2][4]bool, err error) {
	if len(s) < 1 {
		return need, badJPEG("short SOS")
	}
	ns := int(s[0])
	nc := int(sof[5])
	if ns < 1 || ns > nc || len(s) != 4+2*ns {
		return need, badJPEG("SOS with %d components", ns)
	}
	ss := s[1+2*ns]
	for k := range ns {
		id, tables := s[1+2*k], s[2+2*k]
		found := false
		for c := range nc {
			if sof[6+3*c] == id {
				found = true
			}
		}
		if !found {
			return need, badJPEG("SOS names an unknown component")
		}
		dc, ac := tables>>4, tables&0x0F
		if dc > 3 || ac > 3 {
			return need, badJPEG("Huffman table selector %d/%d", dc, ac)
		}
		if !progressive || ss == 0 {
			need[0][dc] = true
		}
		if !progressive || ss > 0 {
			need[1][ac] = true
		}
	}
	return need, nil
}

var eoi = []byte{0xFF, mEOI}

// findEOI returns the index just past the last EOI marker after the scan
// header at from. Inside entropy-coded data a 0xFF byte is always followed
// by 0x00 or a RST marker, so 0xFF 0xD9 there can only be the real EOI.
func findEOI(b []byte, from int) (int, error) {
	if n := len(b); n-from >= 2 && b[n-2] == 0xFF && b[n-1] == mEOI {
		return n, nil // the usual case: nothing after EOI
	}
	k := bytes.LastIndex(b[from:], eoi)
	if k < 0 {
		return 0, badJPEG("no EOI: truncated frame")
	}
	return from + k + 2, nil
}

// standardDHT is one DHT segment holding the four Huffman tables of
// ISO 10918-1 Annex K.3 (Tables K.3 to K.6), which UVC MJPEG frames without
// their own tables are coded with (the AVI1 convention): luminance DC
// (class 0, id 0), luminance AC (1, 0), chrominance DC (0, 1) and
// chrominance AC (1, 1). Each table is its class/id byte, the number of
// codes of each length 1 to 16, then the symbols in code order.
var standardDHT = buildDHT([]huffTable{
	{0x00, [16]byte{0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0}, dcSymbols},
	{0x10, [16]byte{0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7D}, lumaACSymbols},
	{0x01, [16]byte{0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0}, dcSymbols},
	{0x11, [16]byte{0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77}, chromaACSymbols},
})

type huffTable struct {
	classID byte
	counts  [16]byte
	symbols []byte
}

func buildDHT(tables []huffTable) []byte {
	var body []byte
	for _, t := range tables {
		body = append(body, t.classID)
		body = append(body, t.counts[:]...)
		body = append(body, t.symbols...)
	}
	n := len(body) + 2
	return append([]byte{0xFF, mDHT, byte(n >> 8), byte(n)}, body...)
}

// dcSymbols are the DC difference categories 0 to 11 (Tables K.3 and K.4).
var dcSymbols = []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}

// lumaACSymbols are Table K.5's run/size symbols in code order.
var lumaACSymbols = []byte{
	0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12,
	0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07,
	0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xA1, 0x08,
	0x23, 0x42, 0xB1, 0xC1, 0x15, 0x52, 0xD1, 0xF0,
	0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0A, 0x16,
	0x17, 0x18, 0x19, 0x1A, 0x25, 0x26, 0x27, 0x28,
	0x29, 0x2A, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39,
	0x3A, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49,
	0x4A, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59,
	0x5A, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69,
	0x6A, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79,
	0x7A, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
	0x8A, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98,
	0x99, 0x9A, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7,
	0xA8, 0xA9, 0xAA, 0xB2, 0xB3, 0xB4, 0xB5, 0xB6,
	0xB7, 0xB8, 0xB9, 0xBA, 0xC2, 0xC3, 0xC4, 0xC5,
	0xC6, 0xC7, 0xC8, 0xC9, 0xCA, 0xD2, 0xD3, 0xD4,
	0xD5, 0xD6, 0xD7, 0xD8, 0xD9, 0xDA, 0xE1, 0xE2,
	0xE3, 0xE4, 0xE5, 0xE6, 0xE7, 0xE8, 0xE9, 0xEA,
	0xF1, 0xF2, 0xF3, 0xF4, 0xF5, 0xF6, 0xF7, 0xF8,
	0xF9, 0xFA,
}

// chromaACSymbols are Table K.6's run/size symbols in code order.
var chromaACSymbols = []byte{
	0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21,
	0x31, 0x06, 0x12, 0x41, 0x51, 0x07, 0x61, 0x71,
	0x13, 0x22, 0x32, 0x81, 0x08, 0x14, 0x42, 0x91,
	0xA1, 0xB1, 0xC1, 0x09, 0x23, 0x33, 0x52, 0xF0,
	0x15, 0x62, 0x72, 0xD1, 0x0A, 0x16, 0x24, 0x34,
	0xE1, 0x25, 0xF1, 0x17, 0x18, 0x19, 0x1A, 0x26,
	0x27, 0x28, 0x29, 0x2A, 0x35, 0x36, 0x37, 0x38,
	0x39, 0x3A, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48,
	0x49, 0x4A, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58,
	0x59, 0x5A, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68,
	0x69, 0x6A, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78,
	0x79, 0x7A, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87,
	0x88, 0x89, 0x8A, 0x92, 0x93, 0x94, 0x95, 0x96,
	0x97, 0x98, 0x99, 0x9A, 0xA2, 0xA3, 0xA4, 0xA5,
	0xA6, 0xA7, 0xA8, 0xA9, 0xAA, 0xB2, 0xB3, 0xB4,
	0xB5, 0xB6, 0xB7, 0xB8, 0xB9, 0xBA, 0xC2, 0xC3,
	0xC4, 0xC5, 0xC6, 0xC7, 0xC8, 0xC9, 0xCA, 0xD2,
	0xD3, 0xD4, 0xD5, 0xD6, 0xD7, 0xD8, 0xD9, 0xDA,
	0xE2, 0xE3, 0xE4, 0xE5, 0xE6, 0xE7, 0xE8, 0xE9,
	0xEA, 0xF2, 0xF3, 0xF4, 0xF5, 0xF6, 0xF7, 0xF8,
	0xF9, 0xFA,
}
