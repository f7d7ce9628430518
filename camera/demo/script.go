package demo

import (
	"image"
	"math"
	"time"
)

// The names of the scripted phases, in the order they play.
const (
	PhaseEmpty     = "empty"      // the empty booth wall
	PhaseEnter     = "enter"      // the student walks in from the left
	PhaseOffCentre = "off-centre" // stands still, 200 px left of centre, level
	PhaseTilt      = "tilt"       // moves to the centre while the head rolls to 7°
	PhaseTilted    = "tilted"     // centred, head rolled 7° clockwise, still
	PhaseSettle    = "settle"     // straightens the head
	PhaseHold      = "hold"       // centred, level and still: every framing check can pass
	PhaseExit      = "exit"       // walks out to the right; the loop starts again
)

// Phase is one part of the scripted scene: it plays from Start (included) to
// End (excluded), measured from the start of the loop.
type Phase struct {
	Name       string
	Start, End time.Duration
}

// LoopLength is how long the scene plays before it starts again.
const LoopLength = 15 * time.Second

// timeline is the script. The poses of each phase are in pose.
var timeline = []Phase{
	{PhaseEmpty, 0, 1000 * time.Millisecond},
	{PhaseEnter, 1000 * time.Millisecond, 3000 * time.Millisecond},
	{PhaseOffCentre, 3000 * time.Millisecond, 4400 * time.Millisecond},
	{PhaseTilt, 4400 * time.Millisecond, 5400 * time.Millisecond},
	{PhaseTilted, 5400 * time.Millisecond, 6800 * time.Millisecond},
	{PhaseSettle, 6800 * time.Millisecond, 7600 * time.Millisecond},
	{PhaseHold, 7600 * time.Millisecond, 13600 * time.Millisecond},
	{PhaseExit, 13600 * time.Millisecond, LoopLength},
}

// Timeline returns the script's phases in order. They cover [0, LoopLength)
// without gaps.
func Timeline() []Phase {
	return append([]Phase(nil), timeline...)
}

// Where the student is at the scripted poses, in frame pixels.
const (
	// TiltRoll is the head roll the student holds in PhaseTilted.
	TiltRoll = 7.0
	// OffCentre is how far left of the frame's centre the eyes are in
	// PhaseOffCentre.
	OffCentre = 200.0
)

// settledEyes is the midpoint between the pupils in PhaseHold.
var settledEyes = Point{X: Width / 2, Y: 285}

// Point is a position in frame pixels (x to the right, y down), with
// sub-pixel precision.
type Point struct{ X, Y float64 }

// Truth is where the student's face is in one frame of the scene: the
// ground truth that detectors and framing checks are tested against.
// Positions are exact for the geometry the renderer used; the pupil centres
// were measured on the portrait to about ±1 px (times the scale, 1.175).
type Truth struct {
	// Phase is the name of the scripted phase (PhaseEmpty, ...).
	Phase string
	// Present is set when the whole Face box lies inside the frame. Outside
	// PhaseEmpty the geometry is given even when the head is partly out of
	// the frame.
	Present bool
	// Eyes are the pupil centres: [0] is image-left (the subject's right
	// eye), [1] image-right.
	Eyes [2]Point
	// Crown is the top of the hair on the face's vertical axis; Chin the
	// bottom of the chin on the same axis.
	Crown, Chin Point
	// Face is the axis-aligned bounding box of the head's own box (crown
	// to chin, and the sides of the head at the eye line, ears included)
	// as turned by Roll.
	Face image.Rectangle
	// FaceWidth is the width of the face at the temples, ears excluded
	// (cheek to cheek), in frame pixels.
	FaceWidth float64
	// Roll is the angle of the pupil line in degrees: positive when the
	// head is turned clockwise as seen on the screen (the image-right eye
	// is lower).
	Roll float64
}

// pose is where the person is: the midpoint of the pupils as it would be
// with a level head, and the head's roll (about the base of the neck).
type pose struct {
	present bool
	eye     Point   // pupil midpoint at roll 0
	roll    float64 // degrees, clockwise on screen
}

const (
	enterFrom = -420.0              // eye x where the walk in starts: wholly outside
	exitTo    = Width + 420.0       // eye x where the walk out ends
	walkBob   = 4.0                 // px the head rises at each step
	stepTime  = 0.45                // seconds per step
	offX      = Width/2 - OffCentre // eye x in PhaseOffCentre
)

// phaseAt returns the index in timeline of the phase playing at t (taken
// modulo LoopLength) and how far into it t is, from 0 to 1.
func phaseAt(t time.Duration) (int, float64) {
	t %= LoopLength
	if t < 0 {
		t += LoopLength
	}
	for i, p := range timeline {
		if t < p.End {
			return i, float64(t-p.Start) / float64(p.End-p.Start)
		}
	}
	return len(timeline) - 1, 1 // not reached: the phases cover the loop
}

// poseAt returns the scripted pose at t.
func poseAt(t time.Duration) pose {
	i, f := phaseAt(t)
	eyeY := settledEyes.Y
	switch timeline[i].Name {
	case PhaseEmpty:
		return pose{}
	case PhaseEnter:
		secs := f * float64(timeline[i].End-timeline[i].Start) / float64(time.Second)
		return pose{present: true, eye: Point{lerp(enterFrom, offX, easeOut(f)), eyeY - bob(secs, f)}}
	case PhaseOffCentre:
		return pose{present: true, eye: Point{offX, eyeY}}
	case PhaseTilt:
		e := smooth(f)
		return pose{present: true, eye: Point{lerp(offX, settledEyes.X, e), eyeY}, roll: TiltRoll * e}
	case PhaseTilted:
		return pose{present: true, eye: settledEyes, roll: TiltRoll}
	case PhaseSettle:
		return pose{present: true, eye: settledEyes, roll: TiltRoll * (1 - smooth(f))}
	case PhaseHold:
		return pose{present: true, eye: settledEyes}
	default: // PhaseExit
		secs := f * float64(timeline[i].End-timeline[i].Start) / float64(time.Second)
		return pose{present: true, eye: Point{lerp(settledEyes.X, exitTo, easeIn(f)), eyeY - bob(secs, 1-f)}}
	}
}

// still reports whether the phase is a held pose, whose frames differ only
// by their sensor noise.
func still(phase int) bool {
	switch timeline[phase].Name {
	case PhaseEmpty, PhaseOffCentre, PhaseTilted, PhaseHold:
		return true
	}
	return false
}

// bob is the rise of the head while walking: a step every stepTime, fading
// out as the walk slows down (amp goes from 1 to 0).
func bob(secs, amp float64) float64 {
	return walkBob * math.Abs(math.Sin(math.Pi*secs/stepTime)) * (1 - amp*amp*amp)
}

func lerp(a, b, f float64) float64 { return a + (b-a)*f }
func smooth(f float64) float64     { return f * f * (3 - 2*f) }
func easeOut(f float64) float64    { return 1 - (1-f)*(1-f) }
func easeIn(f float64) float64     { return f * f }

// truth computes the Truth of pose p in phase i.
func truthOf(i int, p pose) Truth {
	t := Truth{Phase: timeline[i].Name}
	if !p.present {
		return t
	}
	m := headTransform(p)
	t.Eyes = [2]Point{m.apply(pupilLeft), m.apply(pupilRight)}
	t.Crown = m.apply(crownAt)
	t.Chin = m.apply(chinAt)
	t.FaceWidth = templeWidth * scale
	t.Roll = p.roll
	minX, minY := math.Inf(1), math.Inf(1)
	maxX, maxY := math.Inf(-1), math.Inf(-1)
	for _, c := range faceCorners {
		q := m.apply(c)
		minX, maxX = math.Min(minX, q.X), math.Max(maxX, q.X)
		minY, maxY = math.Min(minY, q.Y), math.Max(maxY, q.Y)
	}
	t.Face = image.Rect(int(math.Floor(minX)), int(math.Floor(minY)), int(math.Ceil(maxX)), int(math.Ceil(maxY)))
	t.Present = t.Face.In(image.Rect(0, 0, Width, Height))
	return t
}
