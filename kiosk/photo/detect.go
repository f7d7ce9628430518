package photo

import (
	"math"
	"runtime"
	"sort"
	"sync/atomic"

	pigo "github.com/esimov/pigo/core"
)

// Detector parameters. With the face large and centred, a large MinSize
// makes detection 25-60x faster than pigo's README values and removes the
// small false clusters (research/dependencies.md, section 2).
const (
	detShift    = 0.1
	detScale    = 1.1
	detIoU      = 0.2
	minFaceFrac = 0.25 // MinSize = min(rows, cols) * minFaceFrac
	// DefaultMinFaceQ is the smallest clustered detection score counted as
	// a face. Q is a sum over the windows of a cluster; at these
	// parameters real faces score in the hundreds (calibrated on the
	// composed frames, see TestDetectionScores).
	DefaultMinFaceQ = 30
)

// face is one detection in upright frame pixels.
type face struct {
	x, y, side float64 // centre and side of the square box
	q          float64
}

// detectFaces finds the faces in p, biggest first.
func (a *Analyzer) detectFaces(p *pixels, minQ float64) []face {
	short := min(p.w, p.h)
	params := pigo.CascadeParams{
		MinSize:     max(int(float64(short)*minFaceFrac), 24),
		MaxSize:     short,
		ShiftFactor: detShift,
		ScaleFactor: detScale,
		ImageParams: pigo.ImageParams{Pixels: p.gray, Rows: p.h, Cols: p.w, Dim: p.stride},
	}
	// Angle 0 only: pigo's rotated classifier misses faces on the right
	// half of landscape frames, and roll is measured from the pupils.
	dets := runCascade(a.cs.face, params)
	dets = a.cs.face.ClusterDetections(dets, detIoU)
	a.faces = a.faces[:0]
	for _, d := range dets {
		if float64(d.Q) < minQ {
			continue
		}
		a.faces = append(a.faces, face{x: float64(d.Col), y: float64(d.Row), side: float64(d.Scale), q: float64(d.Q)})
	}
	// pigo's clustering can leave two clusters on one face (windows of
	// neighbouring sizes): keep the stronger of boxes whose centres lie
	// within each other's middle half.
	sort.Slice(a.faces, func(i, j int) bool { return a.faces[i].q > a.faces[j].q })
	kept := a.faces[:0]
	for _, f := range a.faces {
		dup := false
		for _, k := range kept {
			if math.Abs(f.x-k.x) < 0.25*max(f.side, k.side) && math.Abs(f.y-k.y) < 0.25*max(f.side, k.side) {
				dup = true
				break
			}
		}
		if !dup {
			kept = append(kept, f)
		}
	}
	a.faces = kept
	// Biggest first; for equal sizes the one nearer the centre.
	cx := float64(p.w) / 2
	sort.Slice(a.faces, func(i, j int) bool {
		fi, fj := a.faces[i], a.faces[j]
		if math.Abs(fi.side-fj.side) > 0.1*max(fi.side, fj.side) {
			return fi.side > fj.side
		}
		return math.Abs(fi.x-cx) < math.Abs(fj.x-cx)
	})
	return a.faces
}

// locate finds the pupils and the landmarks the checks need, for face f.
// It reports ok=false when the pupils are implausible (closed eyes, glasses
// glare, strong side light), in which case the eyes are placed where they
// sit in an average face box and EyesFound stays false.
func (a *Analyzer) locate(p *pixels, f face, g *Geometry) {
	im := p.plane()
	s := f.side
	// The pupil search windows: pigo's proportions of the face box.
	var lp, rp Point
	both(func() {
		lp, a.tmp = a.cs.pupil.search(im, float32(f.y-0.075*s), float32(f.x-0.175*s), float32(0.25*s), false, a.tmp)
	}, func() {
		rp, a.tmp2 = a.cs.pupil.search(im, float32(f.y-0.075*s), float32(f.x+0.185*s), float32(0.25*s), false, a.tmp2)
	})
	g.EyesFound = plausiblePupils(lp, rp, f) && darkPupil(p, lp, rp) && darkPupil(p, rp, lp)
	if !g.EyesFound {
		lp = Point{f.x - 0.18*s, f.y - 0.075*s}
		rp = Point{f.x + 0.18*s, f.y - 0.075*s}
	}
	g.Pupils = [2]Point{lp, rp}
	// The live loop locates only the two landmarks the checks use; Full
	// adds the mouth outline.
	lm := &g.Landmarks
	both(func() {
		lm.NoseTip, a.tmp = a.cs.nose.landmark(im, lp, rp, false, a.tmp)
	}, func() {
		lm.UpperLip, a.tmp2 = a.cs.lip.landmark(im, lp, rp, false, a.tmp2)
	})
	if a.Full {
		var lower, left, right Point
		both(func() {
			lower, a.tmp = a.cs.lower.landmark(im, lp, rp, false, a.tmp)
			right, a.tmp = a.cs.mouth.landmark(im, lp, rp, true, a.tmp)
		}, func() {
			left, a.tmp2 = a.cs.mouth.landmark(im, lp, rp, false, a.tmp2)
		})
		lm.LowerLip, lm.MouthLeft, lm.MouthRight = &lower, &left, &right
	}
}

// both runs f and g, side by side when there is more than one CPU, and
// returns when both are done. They must not share what they write.
func both(f, g func()) {
	if runtime.GOMAXPROCS(0) == 1 {
		f()
		g()
		return
	}
	var gr group
	gr.start(g)
	gr.guard(f)
	gr.wait()
}

// plausiblePupils: inter-pupil distance 0.25-0.5 of the box side, both
// inside the upper half of the box, and roll within 20 degrees.
func plausiblePupils(l, r Point, f face) bool {
	if l.X <= 0 || l.Y <= 0 || r.X <= 0 || r.Y <= 0 {
		return false
	}
	d := math.Hypot(r.X-l.X, r.Y-l.Y)
	if d < 0.25*f.side || d > 0.5*f.side || r.X <= l.X {
		return false
	}
	if math.Abs(math.Atan2(r.Y-l.Y, r.X-l.X)) > 20*math.Pi/180 {
		return false
	}
	top, mid := f.y-f.side/2, f.y+0.1*f.side
	return l.Y > top && r.Y > top && l.Y < mid && r.Y < mid
}

// darkPupil: on closed eyes the pupil detector often settles between the
// lid and the brow; a real pupil is much darker than the cheek below it.
func darkPupil(p *pixels, e, other Point) bool {
	d := math.Hypot(other.X-e.X, other.Y-e.Y)
	r := max(int(0.03*d), 1)
	var pupil, skin float64
	n := 0
	for dy := -r; dy <= r; dy++ {
		for dx := -r; dx <= r; dx++ {
			pupil += float64(p.y(int(e.X)+dx, int(e.Y)+dy))
			skin += float64(p.y(int(e.X)+dx*3, int(e.Y+0.55*d)+dy*3))
			n++
		}
	}
	return pupil < darkPupilRatio*skin
}

// darkPupilRatio: pupil-to-cheek luma ratio below which a pupil is real.
const darkPupilRatio = 0.6

// runCascade is c.RunCascade(cp, 0) with its scales shared among the CPUs
// (at most four): the detections are the same, in the same order (each
// scale's, scale after scale), so clustering gives the same faces. The
// scales follow RunCascade's own step (TestRunCascadeSameAsPigo); the
// small ones, which cost the most, are taken first.
func runCascade(c *pigo.Pigo, cp pigo.CascadeParams) []pigo.Detection {
	var scales []int
	for s := cp.MinSize; s <= cp.MaxSize; s = int(float64(s) + math.Max(2, float64(s)*cp.ScaleFactor-float64(s))) {
		scales = append(scales, s)
	}
	workers := min(runtime.GOMAXPROCS(0), 4, len(scales))
	if workers <= 1 {
		return c.RunCascade(cp, 0)
	}
	per := make([][]pigo.Detection, len(scales))
	var next atomic.Int32
	var g group
	for range workers {
		g.start(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(scales) {
					return
				}
				one := cp
				one.MinSize, one.MaxSize = scales[i], scales[i]
				per[i] = c.RunCascade(one, 0)
			}
		})
	}
	g.wait()
	var all []pigo.Detection
	for _, d := range per {
		all = append(all, d...)
	}
	return all
}
