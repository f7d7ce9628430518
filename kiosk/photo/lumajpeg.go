package photo

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"math/bits"
	"runtime"
	"sync"
)

// The station's own JPEG decoder, in two modes.
//
// The live loop's: the analysis needs the luma plane at full resolution
// (face search, pupils, sharpness) but colour only over areas (wall cells,
// clothing, exposure), so this decoder entropy-decodes every block of a
// baseline frame, runs the inverse DCT for the luma blocks only, and keeps
// just the DC coefficient of each chroma block: the block's mean, colour at
// one sample per chroma block. That halves the transforms of a 4:2:2
// camera frame and skips the chroma planes' stores altogether.
//
// Decode's (full): every block transformed, the picture image/jpeg would
// give (decodeImage), with the transforms handed to workers on the other
// CPUs while the entropy decoding reads on. A
// 1920x1080 camera frame decodes in about a third of image/jpeg's time.
//
// It handles what UVC cameras send: baseline (SOF0) or extended sequential
// (SOF1) Huffman, 8-bit, one interleaved scan, grey or YCbCr with 1x1
// chroma and luma sampled 1, 2 or 4 times that (4:4:4, 4:2:2, 4:2:0, 4:4:0,
// 4:1:1, 4:1:0; the full mode leaves 1x4, 2x4 and 4x4, which image.YCbCr
// cannot lay out), restart intervals. Anything else (progressive,
// arithmetic, 12-bit, RGB or CMYK, other sampling, several scans, restart
// markers out of place, truncated data, no end of image) is refused with
// errLumaUnsupported or errLumaFormat, and the caller falls back to the
// standard decoder, which handles it or says what is wrong: AnalyzeBytes
// to Decode, Decode to image/jpeg.

// errLumaUnsupported marks a picture this decoder leaves to Decode.
var errLumaUnsupported = errors.New("luma decoder: unsupported JPEG")

// errLumaFormat marks bytes that break the JPEG syntax.
var errLumaFormat = errors.New("luma decoder: bad JPEG")

// errEOBRun: an end-of-band run (a progressive symbol) in a sequential
// scan; image/jpeg skips blocks for it, this decoder leaves it to Decode.
var errEOBRun = fmt.Errorf("%w: end-of-band run in a sequential scan", errLumaUnsupported)

// lumaFrame is a decoded frame: the luma plane, MCU-padded, and one chroma
// sample (the block mean) per chroma block.
type lumaFrame struct {
	w, h    int
	gray    bool    // one component: no chroma
	y       []uint8 // luma; pixel (x, y) at y*ystride+x
	ystride int
	cb, cr  []uint8 // chroma block means; pixel (x, y) at (y>>cshy)*cstride + x>>cshx
	cstride int
	cshx    uint
	cshy    uint
	// maxCoef bounds the magnitude of the dequantized coefficients (DC
	// exactly, AC from above): real 8-bit pictures stay under about 1200.
	// A test hook: garbage far beyond that overflows image/jpeg's integer
	// transform, so the two decoders need not agree there.
	maxCoef int64
}

// at returns the luma and chroma at frame pixel (x, y), inside the frame.
func (f *lumaFrame) at(x, y int) (yy, cb, cr uint8) {
	yy = f.y[y*f.ystride+x]
	if f.gray {
		return yy, 128, 128
	}
	i := (y>>f.cshy)*f.cstride + x>>f.cshx
	return yy, f.cb[i], f.cr[i]
}

const huffLookBits = 9

// huffTable is a Huffman table with a lookup of the codes up to
// huffLookBits long and, for AC tables, of whole coefficients (code and
// extra bits) that fit in huffLookBits.
type huffTable struct {
	defined bool
	look    [1 << huffLookBits]uint16 // length<<8 | symbol; 0 for longer codes
	fastAC  [1 << huffLookBits]int32  // value<<16 | run<<8 | total length; 0 if none
	maxCode [17]int32                 // largest code of each length, -1 if none
	delta   [17]int32                 // vals index of a code of that length: code + delta
	vals    [256]uint8
}

// build fills t from a DHT table's 16 counts and its symbols.
func (t *huffTable) build(counts []byte, vals []byte, ac bool) error {
	*t = huffTable{}
	copy(t.vals[:], vals)
	code, k := int32(0), int32(0)
	for l := 1; l <= 16; l++ {
		n := int32(counts[l-1])
		t.maxCode[l] = -1
		if n > 0 {
			t.delta[l] = k - code
			if code+n > 1<<l {
				return fmt.Errorf("%w: Huffman codes overflow", errLumaFormat)
			}
			for j := int32(0); j < n; j++ {
				if l <= huffLookBits {
					sh := uint(huffLookBits - l)
					e := uint16(l)<<8 | uint16(vals[k+j])
					for c := (code + j) << sh; c < (code+j+1)<<sh; c++ {
						t.look[c] = e
					}
				}
			}
			code += n
			k += n
			t.maxCode[l] = code - 1
		}
		code <<= 1
	}
	if ac {
		t.buildFastAC()
	}
	t.defined = true
	return nil
}

// buildFastAC fills fastAC for the (run, size) symbols whose code and extra
// bits together fit in the lookup.
func (t *huffTable) buildFastAC() {
	for i := range t.look {
		e := t.look[i]
		if e == 0 {
			continue
		}
		l, sym := int(e>>8), int(e&0xFF)
		run, size := sym>>4, sym&15
		if size == 0 || l+size > huffLookBits {
			continue
		}
		v := int32(i>>(huffLookBits-l-size)) & (1<<size - 1)
		if v < 1<<(size-1) {
			v += -1<<size + 1
		}
		t.fastAC[i] = v<<16 | int32(run)<<8 | int32(l+size)
	}
}

// bitReader reads an entropy-coded segment MSB first, removing the stuffed
// zero after each 0xFF. At a marker or the end of the data it feeds zero
// bits and counts them in fake: consuming any of them means the segment
// was too short.
type bitReader struct {
	data []byte
	pos  int
	acc  uint64 // next bits, left-aligned
	n    uint   // bits in acc
	fake uint   // zero bits appended past a marker or the end
}

// fill tops acc up to at least 57 bits.
func (r *bitReader) fill() {
	for r.n <= 56 {
		var b byte
		switch {
		case r.pos < len(r.data):
			b = r.data[r.pos]
			if b != 0xFF {
				r.pos++
				break
			}
			if r.pos+1 < len(r.data) && r.data[r.pos+1] == 0 {
				r.pos += 2
				break
			}
			b = 0 // a marker: stay on it
			r.fake += 8
		default:
			r.fake += 8
		}
		r.acc |= uint64(b) << (56 - r.n)
		r.n += 8
	}
}

// overrun reports whether bits past the end of the segment were used.
func (r *bitReader) overrun() bool { return r.fake > r.n }

// decode reads one Huffman symbol; t must be defined.
func (r *bitReader) decode(t *huffTable) (uint8, error) {
	if r.n < 16 {
		r.fill()
	}
	if e := t.look[r.acc>>(64-huffLookBits)]; e != 0 {
		l := uint(e >> 8)
		r.acc <<= l
		r.n -= l
		return uint8(e), nil
	}
	for l := uint(huffLookBits + 1); l <= 16; l++ {
		code := int32(r.acc >> (64 - l))
		if code <= t.maxCode[l] {
			r.acc <<= l
			r.n -= l
			return t.vals[uint8(code+t.delta[l])], nil
		}
	}
	return 0, fmt.Errorf("%w: bad Huffman code", errLumaFormat)
}

// receive reads s (1..16) extra bits as a signed value (JPEG's EXTEND).
func (r *bitReader) receive(s uint) int32 {
	if r.n < s {
		r.fill()
	}
	v := int32(r.acc >> (64 - s))
	r.acc <<= s
	r.n -= s
	if v < 1<<(s-1) {
		v += -1<<s + 1
	}
	return v
}

// unzig[k] is the natural (row-major) index of the k-th coefficient in
// zigzag order.
var unzig = [64]uint8{
	0, 1, 8, 16, 9, 2, 3, 10,
	17, 24, 32, 25, 18, 11, 4, 5,
	12, 19, 26, 33, 40, 48, 41, 34,
	27, 20, 13, 6, 7, 14, 21, 28,
	35, 42, 49, 56, 57, 50, 43, 36,
	29, 22, 15, 23, 30, 37, 44, 51,
	58, 59, 52, 45, 38, 31, 39, 46,
	53, 60, 61, 54, 47, 55, 62, 63,
}

// aanScale[k] = cos(k*pi/16) * sqrt(2) for k > 0, 1 for k = 0: the
// factors of the AAN inverse DCT, folded into the dequantization.
var aanScale = [8]float32{1, 1.387039845, 1.306562965, 1.175875602, 1, 0.785694958, 0.541196100, 0.275899379}

type lumaComp struct {
	id, h, v, tq uint8
}

type scanComp struct {
	ci     int // frame component index: 0 luma, 1 Cb, 2 Cr
	td, ta uint8
}

// lumaDecoder decodes frames for the analysis, reusing its planes. It is
// not safe for concurrent use.
type lumaDecoder struct {
	frame lumaFrame

	quantRaw [4][64]uint16 // zigzag order, as in DQT
	quantSet [4]bool
	dcTab    [4]huffTable
	acTab    [4]huffTable

	sof      bool
	ncomp    int
	comp     [3]lumaComp
	ri       int
	jfif     bool
	adobe    bool
	adobeXfm uint8
	nscan    int
	scan     [3]scanComp

	// full: transform the chroma blocks too, into planes of their own
	// (decodeImage); otherwise chroma is one mean per block.
	full bool

	mxx, myy int            // MCUs across and down
	qf       [3][64]float32 // dequantization per component with AAN scale and 1/8, zigzag order
	qmax     int64          // largest AC quantizer of the transformed components
	qc       [3]int64       // DC quantizer per component
	acOr     uint32         // OR of the transformed AC magnitudes (minus one): a bound for maxCoef
	blk      [64]float32    // coefficients of the block being decoded
	ws       [64]float32    // IDCT workspace
}

// decode decodes the JPEG b into d.frame. It checks the frame size against
// maxPixels (DefaultMaxPixels if <= 0) before it allocates.
func (d *lumaDecoder) decode(b []byte, maxPixels int) error {
	if maxPixels <= 0 {
		maxPixels = DefaultMaxPixels
	}
	if len(b) < 4 || b[0] != 0xFF || b[1] != 0xD8 {
		return errLumaUnsupported
	}
	d.sof, d.ri, d.jfif, d.adobe, d.nscan = false, 0, false, false, 0
	d.quantSet = [4]bool{}
	for i := range d.dcTab {
		d.dcTab[i].defined, d.acTab[i].defined = false, false
	}
	i := 2
	for {
		if i+1 >= len(b) {
			return fmt.Errorf("%w: no scan", errLumaFormat)
		}
		if b[i] != 0xFF {
			return fmt.Errorf("%w: junk before marker", errLumaUnsupported)
		}
		m := b[i+1]
		i += 2
		switch {
		case m == 0xFF: // fill byte
			i--
			continue
		case m == 0x01 || (m >= 0xD0 && m <= 0xD9) || m == 0x00:
			return fmt.Errorf("%w: marker %#02x before the scan", errLumaUnsupported, m)
		}
		if i+2 > len(b) {
			return fmt.Errorf("%w: truncated segment", errLumaFormat)
		}
		n := int(b[i])<<8 | int(b[i+1])
		if n < 2 || i+n > len(b) {
			return fmt.Errorf("%w: segment length %d", errLumaFormat, n)
		}
		seg := b[i+2 : i+n]
		i += n
		var err error
		switch m {
		case 0xDB:
			err = d.parseDQT(seg)
		case 0xC4:
			err = d.parseDHT(seg)
		case 0xC0, 0xC1:
			err = d.parseSOF(seg, maxPixels)
		case 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF:
			return fmt.Errorf("%w: SOF%d", errLumaUnsupported, m-0xC0)
		case 0xCC: // arithmetic conditioning
			return fmt.Errorf("%w: arithmetic coding", errLumaUnsupported)
		case 0xDD:
			if len(seg) != 2 {
				return fmt.Errorf("%w: DRI length", errLumaFormat)
			}
			d.ri = int(seg[0])<<8 | int(seg[1])
		case 0xE0: // as image/jpeg: the last APP0 of 5 bytes or more decides
			if len(seg) >= 5 {
				d.jfif = string(seg[:5]) == "JFIF\x00"
			}
		case 0xEE:
			if len(seg) >= 12 && string(seg[:5]) == "Adobe" {
				d.adobe, d.adobeXfm = true, seg[11]
			}
		case 0xDA:
			if err := d.parseSOS(seg); err != nil {
				return err
			}
			if err := d.prepare(len(b) - i); err != nil {
				return err
			}
			end, err := d.decodeScan(b[i:])
			if err != nil {
				return err
			}
			return checkTail(b[i+end:])
		}
		if err != nil {
			return err
		}
	}
}

func (d *lumaDecoder) parseDQT(seg []byte) error {
	for len(seg) > 0 {
		pq, tq := seg[0]>>4, seg[0]&15
		if pq != 0 {
			return fmt.Errorf("%w: 16-bit quantization table", errLumaUnsupported)
		}
		if tq > 3 || len(seg) < 65 {
			return fmt.Errorf("%w: DQT", errLumaFormat)
		}
		for k := 0; k < 64; k++ {
			d.quantRaw[tq][k] = uint16(seg[1+k])
		}
		d.quantSet[tq] = true
		seg = seg[65:]
	}
	return nil
}

func (d *lumaDecoder) parseDHT(seg []byte) error {
	for len(seg) > 0 {
		if len(seg) < 17 {
			return fmt.Errorf("%w: DHT", errLumaFormat)
		}
		tc, th := seg[0]>>4, seg[0]&15
		if tc > 1 || th > 3 {
			return fmt.Errorf("%w: DHT class %d id %d", errLumaFormat, tc, th)
		}
		counts := seg[1:17]
		total := 0
		for _, c := range counts {
			total += int(c)
		}
		if total == 0 || total > 256 || len(seg) < 17+total {
			return fmt.Errorf("%w: DHT with %d codes", errLumaFormat, total)
		}
		t := &d.dcTab[th]
		if tc == 1 {
			t = &d.acTab[th]
		}
		if err := t.build(counts, seg[17:17+total], tc == 1); err != nil {
			return err
		}
		seg = seg[17+total:]
	}
	return nil
}

func (d *lumaDecoder) parseSOF(seg []byte, maxPixels int) error {
	if d.sof {
		return fmt.Errorf("%w: two frame headers", errLumaFormat)
	}
	if len(seg) < 6 {
		return fmt.Errorf("%w: SOF length", errLumaFormat)
	}
	if seg[0] != 8 {
		return fmt.Errorf("%w: %d-bit samples", errLumaUnsupported, seg[0])
	}
	h := int(seg[1])<<8 | int(seg[2])
	w := int(seg[3])<<8 | int(seg[4])
	nc := int(seg[5])
	if w == 0 || h == 0 {
		return fmt.Errorf("%w: empty picture %dx%d", errLumaUnsupported, w, h)
	}
	if int64(w)*int64(h) > int64(maxPixels) {
		return fmt.Errorf("luma decoder %dx%d: %w (limit %d pixels)", w, h, ErrTooLarge, maxPixels)
	}
	if nc != 1 && nc != 3 {
		return fmt.Errorf("%w: %d components", errLumaUnsupported, nc)
	}
	if len(seg) != 6+3*nc {
		return fmt.Errorf("%w: SOF length", errLumaFormat)
	}
	for c := 0; c < nc; c++ {
		p := seg[6+3*c:]
		lc := lumaComp{id: p[0], h: p[1] >> 4, v: p[1] & 15, tq: p[2]}
		if lc.tq > 3 || lc.h < 1 || lc.h > 4 || lc.v < 1 || lc.v > 4 {
			return fmt.Errorf("%w: component %d", errLumaFormat, c)
		}
		for j := 0; j < c; j++ {
			if d.comp[j].id == lc.id {
				return fmt.Errorf("%w: repeated component id", errLumaFormat)
			}
		}
		d.comp[c] = lc
	}
	if nc == 1 {
		d.comp[0].h, d.comp[0].v = 1, 1 // one component: one block per MCU
	} else {
		for c := 1; c < 3; c++ {
			if d.comp[c].h != 1 || d.comp[c].v != 1 {
				return fmt.Errorf("%w: chroma sampling %dx%d", errLumaUnsupported, d.comp[c].h, d.comp[c].v)
			}
		}
		if y := d.comp[0]; y.h == 3 || y.v == 3 {
			return fmt.Errorf("%w: luma sampling %dx%d", errLumaUnsupported, y.h, y.v)
		}
	}
	d.sof, d.ncomp = true, nc
	d.frame.w, d.frame.h = w, h
	return nil
}

func (d *lumaDecoder) parseSOS(seg []byte) error {
	if !d.sof {
		return fmt.Errorf("%w: scan before frame header", errLumaFormat)
	}
	if len(seg) < 1 {
		return fmt.Errorf("%w: SOS length", errLumaFormat)
	}
	ns := int(seg[0])
	if len(seg) != 4+2*ns {
		return fmt.Errorf("%w: SOS length", errLumaFormat)
	}
	if ns != d.ncomp {
		return fmt.Errorf("%w: scan of %d of %d components", errLumaUnsupported, ns, d.ncomp)
	}
	var seen [3]bool
	for s := 0; s < ns; s++ {
		id, tables := seg[1+2*s], seg[2+2*s]
		ci := -1
		for c := 0; c < d.ncomp; c++ {
			if d.comp[c].id == id {
				ci = c
			}
		}
		if ci < 0 || seen[ci] {
			return fmt.Errorf("%w: scan component %d", errLumaFormat, id)
		}
		seen[ci] = true
		sc := scanComp{ci: ci, td: tables >> 4, ta: tables & 15}
		if sc.td > 3 || sc.ta > 3 || !d.dcTab[sc.td].defined || !d.acTab[sc.ta].defined {
			return fmt.Errorf("%w: scan uses an undefined Huffman table", errLumaFormat)
		}
		if !d.quantSet[d.comp[ci].tq] {
			return fmt.Errorf("%w: frame uses an undefined quantization table", errLumaFormat)
		}
		d.scan[s] = sc
	}
	p := seg[1+2*ns:]
	if p[0] != 0 || p[1] != 63 || p[2] != 0 {
		return fmt.Errorf("%w: spectral selection %d-%d", errLumaUnsupported, p[0], p[1])
	}
	d.nscan = ns
	return nil
}

// prepare checks the colour model, sizes the planes (reusing them) and
// sets up the dequantization. scanBytes is what follows the scan header:
// every block takes at least two bits (a DC code and an end of block), so
// a scan too short for the frame's blocks is refused before any plane is
// allocated (a header of a few hundred bytes must not cost a 25 MP
// picture's planes).
func (d *lumaDecoder) prepare(scanBytes int) error {
	f := &d.frame
	if d.ncomp == 3 {
		// image/jpeg's rule for RGB JPEGs: no JFIF, and an Adobe transform
		// of 0 or component ids 'R', 'G', 'B'.
		rgb := !d.jfif && ((d.adobe && d.adobeXfm == 0) ||
			(d.comp[0].id == 'R' && d.comp[1].id == 'G' && d.comp[2].id == 'B'))
		if rgb {
			return fmt.Errorf("%w: RGB JPEG", errLumaUnsupported)
		}
	}
	y := d.comp[0]
	if _, ok := subsampling[[2]uint8{y.h, y.v}]; d.full && d.ncomp == 3 && !ok {
		return fmt.Errorf("%w: luma sampling %dx%d in a full decode", errLumaUnsupported, y.h, y.v)
	}
	bw, bh := 8*int(y.h), 8*int(y.v)
	d.mxx, d.myy = (f.w+bw-1)/bw, (f.h+bh-1)/bh
	perMCU := int(y.h) * int(y.v)
	if d.ncomp == 3 {
		perMCU += 2
	}
	if blocks := d.mxx * d.myy * perMCU; scanBytes < (blocks+3)/4 {
		return fmt.Errorf("%w: %d bytes of scan for %d blocks", errLumaFormat, scanBytes, blocks)
	}
	f.gray = d.ncomp == 1
	f.ystride = d.mxx * bw
	if d.full {
		f.y = make([]uint8, f.ystride*d.myy*bh) // the picture keeps its planes
	} else {
		f.y = grow(f.y, f.ystride*d.myy*bh)
	}
	f.maxCoef = 0
	if !f.gray && !d.full {
		f.cstride = d.mxx
		f.cshx, f.cshy = 3+log2(y.h), 3+log2(y.v)
		f.cb = grow(f.cb, d.mxx*d.myy)
		f.cr = grow(f.cr, d.mxx*d.myy)
	}
	if d.full && !f.gray {
		// The chroma planes, one sample per chroma pixel, as
		// image.NewYCbCr lays them out for the MCU-padded picture.
		f.cstride = d.mxx * 8
		f.cb = make([]uint8, f.cstride*d.myy*8)
		f.cr = make([]uint8, f.cstride*d.myy*8)
	}
	d.qmax = 0
	for c := 0; c < d.ncomp; c++ {
		q := &d.quantRaw[d.comp[c].tq]
		d.qc[c] = int64(q[0])
		if c > 0 && !d.full {
			continue // only the DC of a chroma block is used
		}
		for k := 0; k < 64; k++ {
			n := unzig[k]
			d.qf[c][k] = float32(q[k]) * aanScale[n>>3] * aanScale[n&7] / 8
			if k > 0 {
				d.qmax = max(d.qmax, int64(q[k]))
			}
		}
	}
	d.acOr = 0
	return nil
}

func grow(b []uint8, n int) []uint8 {
	if cap(b) < n {
		return make([]uint8, n)
	}
	return b[:n]
}

func log2(v uint8) uint {
	switch v {
	case 2:
		return 1
	case 4:
		return 2
	}
	return 0
}

// checkTail looks at what follows the scan, skipping to each marker as
// image/jpeg does: a second scan (which would overwrite or add to the
// first) or frame is left to Decode; EOI ends the picture, and bytes that
// end before an EOI are a truncated file, which image/jpeg refuses too.
func checkTail(b []byte) error {
	noEOI := fmt.Errorf("%w: no end of image after the scan", errLumaFormat)
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], 0xFF)
		if j < 0 || i+j+1 >= len(b) {
			return noEOI
		}
		i += j
		m := b[i+1]
		switch {
		case m == 0x00 || m == 0xFF || (m >= 0xD0 && m <= 0xD7):
			i++
			continue
		case m == 0xD9:
			return nil
		case m == 0xDA || (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC):
			return fmt.Errorf("%w: marker %#02x after the scan", errLumaUnsupported, m)
		}
		if i+4 > len(b) {
			return noEOI
		}
		i += 2 + (int(b[i+2])<<8 | int(b[i+3]))
		if i >= len(b) {
			return noEOI
		}
	}
}

// decodeScan decodes the interleaved scan whose entropy-coded data start
// at data[0], and returns where its reading stopped (the data after it
// hold at most padding bits before the next marker). A full decode on
// several CPUs hands runs of decoded blocks to transform workers while it
// reads on (blockPipe): the entropy decoding is serial, the transforms are
// most of the work.
func (d *lumaDecoder) decodeScan(data []byte) (n int, err error) {
	f := &d.frame
	r := bitReader{data: data}
	var pred [3]int32
	y := d.comp[0]
	var pipe *blockPipe
	if d.full && d.mxx*d.myy > 1 && runtime.GOMAXPROCS(0) > 1 {
		pipe = d.startPipe()
		defer pipe.finish()
	}
	// decodeBlock entropy-decodes one block bound for plane ci at off and
	// transforms it, or queues it for the workers.
	decodeBlock := func(sc scanComp, off int) error {
		blk := &d.blk
		if pipe != nil {
			blk = &pipe.cur.coef[pipe.cur.n]
		}
		used, err := d.blockCoefs(&r, sc, &pred[sc.ci], blk)
		if err != nil {
			return err
		}
		job := blockJob{ci: uint8(sc.ci), used: used, off: off}
		if pipe == nil {
			d.render(blk, &d.ws, job)
			return nil
		}
		pipe.cur.job[pipe.cur.n] = job
		if pipe.cur.n++; pipe.cur.n == len(pipe.cur.job) {
			pipe.send()
		}
		return nil
	}
	nextRST := 0
	mcu := 0
	for my := 0; my < d.myy; my++ {
		for mx := 0; mx < d.mxx; mx++ {
			if d.ri > 0 && mcu > 0 && mcu%d.ri == 0 {
				if r.overrun() {
					return 0, fmt.Errorf("%w: restart interval cut short", errLumaUnsupported)
				}
				p := r.pos
				for p+2 < len(data) && data[p] == 0xFF && data[p+1] == 0xFF {
					p++ // fill bytes before the marker
				}
				if p+1 >= len(data) || data[p] != 0xFF || data[p+1] != byte(0xD0+nextRST) {
					return 0, fmt.Errorf("%w: restart marker out of place", errLumaUnsupported)
				}
				r = bitReader{data: data, pos: p + 2}
				nextRST = (nextRST + 1) & 7
				pred = [3]int32{}
			}
			mcu++
			for _, sc := range d.scan[:d.nscan] {
				if sc.ci != 0 && d.full {
					if err := decodeBlock(sc, my*8*f.cstride+mx*8); err != nil {
						return 0, err
					}
					continue
				}
				if sc.ci != 0 {
					dc, err := d.chromaBlock(&r, sc, &pred[sc.ci])
					if err != nil {
						return 0, err
					}
					if sc.ci == 1 {
						f.cb[my*f.cstride+mx] = dc
					} else {
						f.cr[my*f.cstride+mx] = dc
					}
					continue
				}
				for bv := 0; bv < int(y.v); bv++ {
					row := (my*int(y.v) + bv) * 8
					for bh := 0; bh < int(y.h); bh++ {
						if err := decodeBlock(sc, row*f.ystride+(mx*int(y.h)+bh)*8); err != nil {
							return 0, err
						}
					}
				}
			}
			if r.overrun() {
				return 0, fmt.Errorf("%w: entropy-coded data cut short", errLumaUnsupported)
			}
		}
	}
	if pipe != nil && pipe.cur.n > 0 {
		pipe.send()
	}
	if d.acOr != 0 {
		f.maxCoef = max(f.maxCoef, int64(1)<<bits.Len32(d.acOr)*d.qmax)
	}
	return r.pos, nil
}

// blockJob is where an entropy-decoded block goes.
type blockJob struct {
	ci   uint8  // component: 0 luma, 1 Cb, 2 Cr
	used uint16 // idct's mask of non-zero rows and columns; 0 for a flat block
	off  int    // the block's first pixel in the component's plane
}

// render writes the pixels of the block blk (as blockCoefs left it) to its
// plane and zeroes blk again; ws is the transform's workspace.
func (d *lumaDecoder) render(blk, ws *[64]float32, job blockJob) {
	f := &d.frame
	plane, stride := f.y, f.ystride
	switch job.ci {
	case 1:
		plane, stride = f.cb, f.cstride
	case 2:
		plane, stride = f.cr, f.cstride
	}
	dst := plane[job.off : job.off+7*stride+8]
	if job.used == 0 {
		fillBlock(dst, stride, uint8(blk[0]))
		blk[0] = 0
		return
	}
	idct(blk, ws, dst, stride, job.used)
	*blk = [64]float32{}
}

// blockPipe carries runs of entropy-decoded blocks to the transform
// workers, in a ring of runs that bounds the memory whatever the width.
type blockPipe struct {
	free, work chan *blockRun
	cur        *blockRun // the run being filled
	workers    group
}

// pipeRun is the number of blocks in a run: 512 blocks (128 KB of
// coefficients) are about one MCU row of a 1080p 4:2:2 frame.
const pipeRun = 512

// blockRun holds blocks in decoding order: coefficients and where they go.
type blockRun struct {
	n    int
	coef [pipeRun][64]float32
	job  [pipeRun]blockJob
}

// startPipe starts one transform worker per CPU (at most four).
func (d *lumaDecoder) startPipe() *blockPipe {
	workers := min(runtime.GOMAXPROCS(0), 4)
	runs := 2*workers + 2
	p := &blockPipe{free: make(chan *blockRun, runs), work: make(chan *blockRun, runs)}
	for range runs {
		p.free <- runPool.Get().(*blockRun)
	}
	for range workers {
		p.workers.start(func() {
			var ws [64]float32
			for row := range p.work {
				// A run goes back to the ring even after a panic, so the
				// decoder never waits for one; finish raises the panic.
				transformed := p.workers.guard(func() {
					for i, job := range row.job[:row.n] {
						d.render(&row.coef[i], &ws, job)
					}
				})
				if !transformed {
					clear(row.coef[:row.n])
				}
				row.n = 0
				p.free <- row
			}
		})
	}
	p.cur = <-p.free
	return p
}

// send hands the filled run to the workers and takes a free one.
func (p *blockPipe) send() {
	p.work <- p.cur
	p.cur = <-p.free
}

// finish waits for the workers to transform every run sent, and gives
// the runs back to the pool, zero. A run left half filled (the scan
// failed) is dropped with its decode. A worker's panic is raised here,
// and the runs are then left to the collector.
func (p *blockPipe) finish() {
	close(p.work)
	p.workers.wait()
	// Also the block being decoded, which a panic in blockCoefs leaves
	// unzeroed and uncounted: the pool outlives a recovered panic.
	clear(p.cur.coef[:min(p.cur.n+1, pipeRun)])
	p.cur.n = 0
	runPool.Put(p.cur)
	for len(p.free) > 0 {
		runPool.Put(<-p.free)
	}
}

// runPool keeps block runs between decodes; a run in the pool is zero.
var runPool = sync.Pool{New: func() any { return new(blockRun) }}

// blockCoefs entropy-decodes one block of component sc.ci into blk, which
// must be zero: the coefficients dequantized and scaled for idct, and the
// mask of their rows and columns; or, for a block with no AC coefficient,
// mask 0 and the block's level in blk[0].
func (d *lumaDecoder) blockCoefs(r *bitReader, sc scanComp, pred *int32, blk *[64]float32) (used uint16, err error) {
	defer func() {
		if err != nil {
			*blk = [64]float32{} // leave it zero for the next picture
		}
	}()
	dc, err := d.decodeDC(r, sc, pred)
	if err != nil {
		return 0, err
	}
	t := &d.acTab[sc.ta]
	qf := &d.qf[sc.ci]
	last := 0
	used = 1<<8 | 1
	for k := 1; k < 64; {
		if r.n < 32 {
			r.fill()
		}
		// Fast path: code and value in one lookup (not for a run past
		// the block's end, where image/jpeg reads no value bits).
		if e := t.fastAC[r.acc>>(64-huffLookBits)]; e != 0 && k+int(e>>8&0xFF) <= 63 {
			l := uint(e & 0xFF)
			r.acc <<= l
			r.n -= l
			k += int(e >> 8 & 0xFF)
			v := e >> 16
			n := unzig[k]
			blk[n] = float32(v) * qf[k]
			used |= 1<<(8+n>>3) | 1<<(n&7)
			d.acOr |= uint32(v ^ v>>31)
			last = k
			k++
			continue
		}
		rs, err := r.decode(t)
		if err != nil {
			return 0, err
		}
		run, size := int(rs>>4), uint(rs&15)
		if size == 0 {
			if run == 0 {
				break // end of block
			}
			if run != 15 {
				return 0, errEOBRun
			}
			k += 16
			continue
		}
		k += run
		if k > 63 {
			break
		}
		v := r.receive(size)
		n := unzig[k]
		blk[n] = float32(v) * qf[k]
		used |= 1<<(8+n>>3) | 1<<(n&7)
		d.acOr |= uint32(v ^ v>>31)
		last = k
		k++
	}
	if last == 0 {
		blk[0] = float32(clampU8((dc+4)>>3 + 128))
		return 0, nil
	}
	blk[0] = float32(dc) / 8
	return used, nil
}

func (d *lumaDecoder) noteCoef(v int64) {
	if v < 0 {
		v = -v
	}
	if v > d.frame.maxCoef {
		d.frame.maxCoef = v
	}
}

// decodeDC reads a block's DC difference, updates the predictor and
// returns the dequantized DC coefficient.
func (d *lumaDecoder) decodeDC(r *bitReader, sc scanComp, pred *int32) (int64, error) {
	s, err := r.decode(&d.dcTab[sc.td])
	if err != nil {
		return 0, err
	}
	if s > 11 {
		return 0, fmt.Errorf("%w: DC magnitude %d", errLumaUnsupported, s)
	}
	if s > 0 {
		*pred += r.receive(uint(s))
	}
	dc := int64(*pred) * d.qc[sc.ci]
	d.noteCoef(dc)
	return dc, nil
}

// chromaBlock decodes one chroma block and returns its mean.
func (d *lumaDecoder) chromaBlock(r *bitReader, sc scanComp, pred *int32) (uint8, error) {
	dc, err := d.decodeDC(r, sc, pred)
	if err != nil {
		return 0, err
	}
	t := &d.acTab[sc.ta]
	for k := 1; k < 64; {
		if r.n < 32 {
			r.fill()
		}
		if e := t.fastAC[r.acc>>(64-huffLookBits)]; e != 0 && k+int(e>>8&0xFF) <= 63 {
			l := uint(e & 0xFF)
			r.acc <<= l
			r.n -= l
			k += int(e>>8&0xFF) + 1
			continue
		}
		rs, err := r.decode(t)
		if err != nil {
			return 0, err
		}
		run, size := int(rs>>4), uint(rs&15)
		if size == 0 {
			if run == 0 {
				break
			}
			if run != 15 {
				return 0, errEOBRun
			}
			k += 16
			continue
		}
		k += run
		if k > 63 {
			break
		}
		r.receive(size)
		k++
	}
	return clampU8((dc+4)>>3 + 128), nil
}

func clampU8(v int64) uint8 {
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

func fillBlock(dst []uint8, stride int, v uint8) {
	for y := 0; y < 8; y++ {
		row := dst[y*stride : y*stride+8]
		for x := range row {
			row[x] = v
		}
	}
}

// idct is the AAN (Arai, Agui, Nakajima) inverse DCT in float32 on
// coefficients already dequantized and scaled by aanScale and 1/8; it
// writes the level-shifted, rounded and clamped pixels to dst. used has
// bit 8+r for each row r and bit c for each column c holding a non-zero
// coefficient: when they all lie in the first four rows (columns), the
// column (row) transforms drop the terms of the zero half, as most blocks
// of a camera frame allow. (The 1-D transform is written out four times:
// as a function it would not be inlined, and the calls cost a tenth of
// the decode.)
func idct(in *[64]float32, ws *[64]float32, dst []uint8, stride int, used uint16) {
	const (
		r2 = 1.414213562 // sqrt(2)
		ka = 1.847759065 // 2 cos(pi/8)
		kb = 1.082392200 // 2 (cos(pi/8) - cos(3pi/8))
		kc = 2.613125930 // 2 (cos(pi/8) + cos(3pi/8))
	)
	cols4 := used&0xFF < 16
	nc := 8
	if cols4 {
		nc = 4 // the row transforms read only columns 0-3
	}
	if used>>8 < 16 { // rows 4-7 zero
		for c := 0; c < nc; c++ {
			i0, i1, i2, i3 := in[c], in[8+c], in[16+c], in[24+c]
			if i1 == 0 && i2 == 0 && i3 == 0 {
				ws[c], ws[8+c], ws[16+c], ws[24+c], ws[32+c], ws[40+c], ws[48+c], ws[56+c] = i0, i0, i0, i0, i0, i0, i0, i0
				continue
			}
			t12 := i2 * (r2 - 1)
			e0, e3 := i0+i2, i0-i2
			e1, e2 := i0+t12, i0-t12
			o7 := i1 + i3
			o11 := (i1 - i3) * r2
			z5 := (i1 - i3) * ka
			o6 := z5 + kc*i3 - o7
			o5 := o11 - o6
			o4 := kb*i1 - z5 + o5
			ws[c], ws[56+c] = e0+o7, e0-o7
			ws[8+c], ws[48+c] = e1+o6, e1-o6
			ws[16+c], ws[40+c] = e2+o5, e2-o5
			ws[32+c], ws[24+c] = e3+o4, e3-o4
		}
	} else {
		for c := 0; c < nc; c++ {
			i0, i1, i2, i3, i4, i5, i6, i7 := in[c], in[8+c], in[16+c], in[24+c], in[32+c], in[40+c], in[48+c], in[56+c]
			if i1 == 0 && i2 == 0 && i3 == 0 && i4 == 0 && i5 == 0 && i6 == 0 && i7 == 0 {
				ws[c], ws[8+c], ws[16+c], ws[24+c], ws[32+c], ws[40+c], ws[48+c], ws[56+c] = i0, i0, i0, i0, i0, i0, i0, i0
				continue
			}
			t10, t11 := i0+i4, i0-i4
			t13 := i2 + i6
			t12 := (i2-i6)*r2 - t13
			e0, e3 := t10+t13, t10-t13
			e1, e2 := t11+t12, t11-t12
			z13, z10 := i5+i3, i5-i3
			z11, z12 := i1+i7, i1-i7
			o7 := z11 + z13
			o11 := (z11 - z13) * r2
			z5 := (z10 + z12) * ka
			o6 := z5 - kc*z10 - o7
			o5 := o11 - o6
			o4 := kb*z12 - z5 + o5
			ws[c], ws[56+c] = e0+o7, e0-o7
			ws[8+c], ws[48+c] = e1+o6, e1-o6
			ws[16+c], ws[40+c] = e2+o5, e2-o5
			ws[32+c], ws[24+c] = e3+o4, e3-o4
		}
	}
	if cols4 {
		for y := 0; y < 8; y++ {
			w := ws[y*8 : y*8+4 : y*8+4]
			i0, i1, i2, i3 := w[0], w[1], w[2], w[3]
			t12 := i2 * (r2 - 1)
			e0, e3 := i0+i2, i0-i2
			e1, e2 := i0+t12, i0-t12
			o7 := i1 + i3
			o11 := (i1 - i3) * r2
			z5 := (i1 - i3) * ka
			o6 := z5 + kc*i3 - o7
			o5 := o11 - o6
			o4 := kb*i1 - z5 + o5
			row := dst[y*stride : y*stride+8 : y*stride+8]
			row[0], row[7] = pix(e0+o7), pix(e0-o7)
			row[1], row[6] = pix(e1+o6), pix(e1-o6)
			row[2], row[5] = pix(e2+o5), pix(e2-o5)
			row[4], row[3] = pix(e3+o4), pix(e3-o4)
		}
		return
	}
	for y := 0; y < 8; y++ {
		w := ws[y*8 : y*8+8 : y*8+8]
		i0, i1, i2, i3, i4, i5, i6, i7 := w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]
		t10, t11 := i0+i4, i0-i4
		t13 := i2 + i6
		t12 := (i2-i6)*r2 - t13
		e0, e3 := t10+t13, t10-t13
		e1, e2 := t11+t12, t11-t12
		z13, z10 := i5+i3, i5-i3
		z11, z12 := i1+i7, i1-i7
		o7 := z11 + z13
		o11 := (z11 - z13) * r2
		z5 := (z10 + z12) * ka
		o6 := z5 - kc*z10 - o7
		o5 := o11 - o6
		o4 := kb*z12 - z5 + o5
		row := dst[y*stride : y*stride+8 : y*stride+8]
		row[0], row[7] = pix(e0+o7), pix(e0-o7)
		row[1], row[6] = pix(e1+o6), pix(e1-o6)
		row[2], row[5] = pix(e2+o5), pix(e2-o5)
		row[4], row[3] = pix(e3+o4), pix(e3-o4)
	}
}

// pix level-shifts, rounds and clamps one transformed sample.
func pix(v float32) uint8 {
	i := int32(v + 128.5) // truncates: rounds in range, clamps below
	if uint32(i) > 255 {
		if i < 0 {
			return 0
		}
		return 255
	}
	return uint8(i)
}

// decodeImage decodes a baseline JPEG whole, as image/jpeg would: an
// *image.YCbCr with the frame's chroma subsampling (or an *image.Gray),
// its planes padded to whole MCUs. The same entropy decoder and float
// transform as the live loop's, about three times faster than image/jpeg
// on a camera frame; samples differ from image/jpeg's integer transform
// by a level or two at most (TestDecodeImageMatchesImageJPEG). Pictures
// this decoder does not handle give errLumaUnsupported, broken ones
// errLumaFormat; Decode then uses image/jpeg.
func decodeImage(b []byte, maxPixels int) (image.Image, error) {
	d := &lumaDecoder{full: true}
	if err := d.decode(b, maxPixels); err != nil {
		return nil, err
	}
	return d.picture()
}

// subsampling is the image.YCbCr layout of each luma sampling (times the
// chroma's) that the full decode gives; the image package has none for
// the others (1x4, 2x4, 4x4), which the full decode refuses.
var subsampling = map[[2]uint8]image.YCbCrSubsampleRatio{
	{1, 1}: image.YCbCrSubsampleRatio444,
	{2, 1}: image.YCbCrSubsampleRatio422,
	{2, 2}: image.YCbCrSubsampleRatio420,
	{1, 2}: image.YCbCrSubsampleRatio440,
	{4, 1}: image.YCbCrSubsampleRatio411,
	{4, 2}: image.YCbCrSubsampleRatio410,
}

// picture wraps the planes of a full decode in an image.Image.
func (d *lumaDecoder) picture() (image.Image, error) {
	f := &d.frame
	r := image.Rect(0, 0, f.w, f.h)
	if f.gray {
		return &image.Gray{Pix: f.y, Stride: f.ystride, Rect: r}, nil
	}
	y := d.comp[0]
	ratio, ok := subsampling[[2]uint8{y.h, y.v}]
	if !ok { // prepare refuses these before decoding
		return nil, fmt.Errorf("%w: luma sampling %dx%d", errLumaUnsupported, y.h, y.v)
	}
	return &image.YCbCr{
		Y: f.y, Cb: f.cb, Cr: f.cr,
		YStride: f.ystride, CStride: f.cstride,
		SubsampleRatio: ratio,
		Rect:           r,
	}, nil
}
