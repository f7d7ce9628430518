package photo

// Point is a position in frame pixels (upright picture, x right, y down).
type Point struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
}

// Rect is an axis-aligned rectangle in frame pixels: top-left corner and size.
type Rect struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
	W float64 `json:"w"`
	H float64 `json:"h"`
}

// Landmarks are the facial points the checks use. Left and right are
// image-left and image-right (the subject's right and left).
type Landmarks struct {
	NoseTip  Point `json:"nose_tip"`
	UpperLip Point `json:"upper_lip"` // centre of the lip line
	// With Analyzer.Full only (capture-time analysis):
	LowerLip   *Point `json:"lower_lip,omitempty"` // bottom centre of the lower lip
	MouthLeft  *Point `json:"mouth_left,omitempty"`
	MouthRight *Point `json:"mouth_right,omitempty"`
}

// Crop is where the output photo falls in the frame when the spec's
// targets are met: the rectangle (frame pixels) that the standardizer
// scales to the output size, and Scale = output pixels per frame pixel.
// Scale > 1 means upscaling.
type Crop struct {
	Rect
	Scale float64 `json:"scale"`
	// Inside is true when the whole rectangle lies within the frame.
	Inside bool `json:"inside"`
}

// Output is the face as it would land in the output photo (output pixels
// from its top-left corner), with the spec's bands, for the UI overlay.
// To draw a band on the preview: frame y = Crop.Y + output y / Crop.Scale.
type Output struct {
	EyeY          float64 `json:"eye_y"`
	CrownY        float64 `json:"crown_y"`
	FaceWidth     float64 `json:"face_width"`
	CentreX       float64 `json:"centre_x"`
	IPD           float64 `json:"ipd"`
	EyeBand       [2]int  `json:"eye_band"`
	CrownBand     [2]int  `json:"crown_band"`
	FaceWidthBand [2]int  `json:"face_width_band"`
	CentreLine    int     `json:"centre_line"`
}

// Geometry is where the face is, in frame pixels of the upright picture.
type Geometry struct {
	// Width and Height of the analysed picture after Rotation (degrees
	// clockwise) was applied.
	Width    int `json:"width"`
	Height   int `json:"height"`
	Rotation int `json:"rotation"`
	// Found is false when no face was analysed; the rest is then zero.
	Found     bool    `json:"found"`
	FaceBox   Rect    `json:"face_box"`
	FaceScore float64 `json:"face_score"`
	// EyesFound is false when the pupil detector gave implausible points;
	// Pupils are then estimated from the face box.
	EyesFound bool      `json:"eyes_found"`
	Pupils    [2]Point  `json:"pupils"` // image-left, image-right
	Landmarks Landmarks `json:"landmarks"`
	// EyeMid is the midpoint of the pupils (the eye line), IPD their
	// distance.
	EyeMid Point   `json:"eye_mid"`
	IPD    float64 `json:"ipd"`
	// FaceWidth is the estimated cheek-to-cheek width; FaceCentreX the
	// horizontal centre of the face (eye line and mouth midpoints).
	FaceWidth   float64 `json:"face_width"`
	FaceCentreX float64 `json:"face_centre_x"`
	// CrownY is the top of the hair: the highest row above the face where
	// the head departs from the wall. CrownCut means the head reaches the
	// top edge of the frame, so the crown is not seen.
	CrownY   float64 `json:"crown_y"`
	CrownCut bool    `json:"crown_cut"`
	// Pose in degrees. Roll > 0: the image-right eye is lower (head leans
	// to the subject's left shoulder). Yaw > 0: the nose points to image
	// right (the subject turned to their left). Pitch > 0: chin up.
	RollDeg  float64 `json:"roll_deg"`
	YawDeg   float64 `json:"yaw_deg"`
	PitchDeg float64 `json:"pitch_deg"`
	Crop     Crop    `json:"crop"`
	Output   Output  `json:"output"`
}

// Measures are the photometric measurements of a frame.
type Measures struct {
	// EyeOpenness per eye (image-left, image-right): height of the dark
	// iris band through the pupil, in IPD units.
	EyeOpenness [2]float64 `json:"eye_openness"`
	// MouthGap is the tallest run of open-mouth rows (dark cavity or
	// teeth) at the lip line, in IPD units.
	MouthGap float64 `json:"mouth_gap"`
	// FaceLuma is the mean luma of the face (0..1); Clipped and Crushed
	// the shares of its pixels at luma >= 250 and <= 20.
	FaceLuma float64 `json:"face_luma"`
	Clipped  float64 `json:"clipped"`
	Crushed  float64 `json:"crushed"`
	// LightBalance is (right - left) / mean of the two cheeks' luma
	// (image sides): negative when the image-left cheek is brighter.
	LightBalance float64 `json:"light_balance"`
	// Sharpness is the variance of the Laplacian over the variance of a
	// face patch resampled to a fixed size (IPD = 40 px), times 100.
	Sharpness float64 `json:"sharpness"`
	// Background measured in the crop window around the head.
	Background BackgroundMeasures `json:"background"`
	// Clothing below the chin.
	Clothing ClothingMeasures `json:"clothing"`
}

// BackgroundMeasures describe the wall inside the crop window, beside and
// above the head.
type BackgroundMeasures struct {
	// Texture is the median, over cells, of the luma's standard deviation
	// inside a cell (objects, patterns).
	Texture float64 `json:"texture"`
	// Spread is the range (90th - 10th percentile) of the cells' L*.
	Spread float64 `json:"spread"`
	// Shadow is how much darker (L*) the cells next to the head are than
	// the other cells at the same height (median), >= 0.
	Shadow float64 `json:"shadow"`
	// L is the median L*; DeltaE is the CIEDE2000 distance of the median
	// colour to the spec's background colour.
	L      float64 `json:"l"`
	DeltaE float64 `json:"delta_e"`
	Cells  int     `json:"cells"`
	// RGB is the median colour of the wall cells (0..255), zero when no
	// cell was measured.
	RGB [3]float64 `json:"rgb"`
}

// ClothingMeasures describe the clothes on the shoulders, below the chin.
type ClothingMeasures struct {
	DeltaE  float64 `json:"delta_e"`  // CIEDE2000 to the spec's background colour
	HueDiff float64 `json:"hue_diff"` // degrees from the background's hue
	Chroma  float64 `json:"chroma"`   // C*ab of the clothes
	// WallDeltaE is the CIEDE2000 distance to the wall measured in this
	// frame (-1 when the wall was not measured): in replace mode clothes
	// as light as the wall would be cut away with it.
	WallDeltaE float64 `json:"wall_delta_e"`
	Seen       bool    `json:"seen"` // false when the frame ends above the shoulders
}

// Analysis is the verdict on one frame. Its JSON is the `kioskd check`
// contract: {"ready", "faces", "checks", "geometry", "measures"}.
type Analysis struct {
	// Ready is true when every check passes on this frame (Readiness adds
	// the hold time over consecutive frames).
	Ready bool `json:"ready"`
	// Faces is the number of faces found.
	Faces    int           `json:"faces"`
	Checks   []CheckResult `json:"checks"`
	Geometry Geometry      `json:"geometry"`
	Measures Measures      `json:"measures"`
}

// Check returns the result of the check with the given id.
func (a Analysis) Check(id CheckID) (CheckResult, bool) {
	for _, c := range a.Checks {
		if c.ID == id {
			return c, true
		}
	}
	return CheckResult{}, false
}
