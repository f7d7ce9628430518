package photo

import (
	"fmt"
	"image/color"
	"sort"
)

// DefaultSpecID is the template used when none is named: the 学信网
// graduation photo.
const DefaultSpecID = "chsi-graduation"

// Spec is a photo template as data: the output file, where the head must
// fall in it, and the gates of the live checks. All positions and sizes are
// in output pixels, measured from the top-left corner of the output photo.
//
// Numbers come from PHOTO-SPEC.md; where the rule leaves a gap (a target
// inside a band), the value is ours and the comment says so.
type Spec struct {
	ID     string `json:"id"`
	NameZh string `json:"name_zh"`
	NameEn string `json:"name_en"`

	// Width and Height of the output photo in pixels; DPI is the density
	// written into its JFIF header.
	Width  int `json:"width"`
	Height int `json:"height"`
	DPI    int `json:"dpi"`
	// MinQuality is the lowest JPEG quality allowed. The file should be
	// between TargetMinKB and TargetMaxKB and never above HardMaxKB.
	MinQuality  int `json:"min_quality"`
	TargetMinKB int `json:"target_min_kb"`
	TargetMaxKB int `json:"target_max_kb"`
	HardMaxKB   int `json:"hard_max_kb"`

	// Background is the reference background colour (sRGB). In keep mode
	// the measured wall must be within BackgroundMaxDeltaE (CIEDE2000).
	Background          color.RGBA `json:"-"`
	BackgroundMaxDeltaE float64    `json:"background_max_delta_e"`

	// CrownMin..CrownMax is the band for the top of the hair, from the top
	// edge; CrownTarget is where the crop planner aims.
	CrownMin, CrownTarget, CrownMax int
	// EyeMin..EyeMax is the band for the eye line (midpoint of the pupils),
	// from the top edge. The crop planner puts the eye line on EyeTarget.
	EyeMin, EyeTarget, EyeMax int
	// FaceWidthMin..FaceWidthMax is the band for the cheek-to-cheek width.
	FaceWidthMin, FaceWidthTarget, FaceWidthMax int
	// MinIPD is the smallest distance between the pupils in the output.
	MinIPD int

	// MaxRollDeg, MaxYawDeg and MaxPitchDeg bound the head pose in degrees.
	MaxRollDeg  float64
	MaxYawDeg   float64
	MaxPitchDeg float64

	// ExposureMin..ExposureMax bounds the face's mean luma (0..1).
	// MaxClipped and MaxCrushed bound the share of face pixels that are
	// blown out (luma >= 250) or crushed (luma <= 20).
	ExposureMin, ExposureMax float64
	MaxClipped, MaxCrushed   float64
	// MaxLightImbalance bounds |left - right| / mean of the cheek lumas.
	MaxLightImbalance float64
	// MinClothingDeltaE is the smallest CIEDE2000 distance between the
	// clothing below the chin and Background.
	MinClothingDeltaE float64
}

// Specs are the built-in templates, by ID.
var Specs = map[string]Spec{
	"chsi-graduation": {
		ID: "chsi-graduation", NameZh: "学信网学历证书电子注册照片", NameEn: "CHSI graduation photo",
		Width: 480, Height: 640, DPI: 300,
		MinQuality: 60, TargetMinKB: 30, TargetMaxKB: 40, HardMaxKB: 60,
		Background: color.RGBA{100, 197, 255, 255}, BackgroundMaxDeltaE: 8,
		CrownMin: 60, CrownTarget: 80, CrownMax: 100,
		EyeMin: 215, EyeTarget: 250, EyeMax: 285,
		FaceWidthMin: 200, FaceWidthTarget: 220, FaceWidthMax: 260,
		MinIPD:     90,
		MaxRollDeg: 2, MaxYawDeg: 5, MaxPitchDeg: 5,
		ExposureMin: 0.35, ExposureMax: 0.65, MaxClipped: 0.005, MaxCrushed: 0.02,
		MaxLightImbalance: 0.10,
		MinClothingDeltaE: 20,
	},
	// cn-id-card: 358x441 at 350 dpi, face width 207 +/- 14, crown 7-21 px.
	// The rule only says the eyes are at least 207 px above the bottom
	// (eye line <= 234); the lower bound and the target are ours.
	"cn-id-card": {
		ID: "cn-id-card", NameZh: "居民身份证照片", NameEn: "Chinese ID card photo",
		Width: 358, Height: 441, DPI: 350,
		MinQuality: 70, TargetMinKB: 14, TargetMaxKB: 20, HardMaxKB: 20,
		Background: color.RGBA{255, 255, 255, 255}, BackgroundMaxDeltaE: 8,
		CrownMin: 7, CrownTarget: 14, CrownMax: 21,
		EyeMin: 150, EyeTarget: 180, EyeMax: 234,
		FaceWidthMin: 193, FaceWidthTarget: 207, FaceWidthMax: 221,
		MinIPD:     90,
		MaxRollDeg: 2, MaxYawDeg: 5, MaxPitchDeg: 5,
		ExposureMin: 0.35, ExposureMax: 0.65, MaxClipped: 0.005, MaxCrushed: 0.02,
		MaxLightImbalance: 0.10,
		MinClothingDeltaE: 20,
	},
	// cn-passport: 354x472 at 300 dpi, head width 230-283 (used as the face
	// width band), crown 25-45, eyes 176-251; the targets are ours.
	"cn-passport": {
		ID: "cn-passport", NameZh: "中国护照照片", NameEn: "Chinese passport photo",
		Width: 354, Height: 472, DPI: 300,
		MinQuality: 60, TargetMinKB: 30, TargetMaxKB: 45, HardMaxKB: 45,
		Background: color.RGBA{255, 255, 255, 255}, BackgroundMaxDeltaE: 8,
		CrownMin: 25, CrownTarget: 35, CrownMax: 45,
		EyeMin: 176, EyeTarget: 225, EyeMax: 251,
		FaceWidthMin: 230, FaceWidthTarget: 256, FaceWidthMax: 283,
		MinIPD:     90,
		MaxRollDeg: 2, MaxYawDeg: 5, MaxPitchDeg: 5,
		ExposureMin: 0.35, ExposureMax: 0.65, MaxClipped: 0.005, MaxCrushed: 0.02,
		MaxLightImbalance: 0.10,
		MinClothingDeltaE: 20,
	},
}

// SpecIDs returns the IDs of the built-in templates, sorted.
func SpecIDs() []string {
	ids := make([]string, 0, len(Specs))
	for id := range Specs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// LookupSpec returns the built-in template with the given ID; an empty ID
// means DefaultSpecID.
func LookupSpec(id string) (Spec, error) {
	if id == "" {
		id = DefaultSpecID
	}
	s, ok := Specs[id]
	if !ok {
		return Spec{}, fmt.Errorf("photo spec %q: unknown (known: %v)", id, SpecIDs())
	}
	return s, nil
}

// Validate reports the first field that makes s unusable.
func (s Spec) Validate() error {
	switch {
	case s.Width <= 0 || s.Height <= 0:
		return fmt.Errorf("photo spec %q: width and height must be positive", s.ID)
	case !(s.CrownMin <= s.CrownTarget && s.CrownTarget <= s.CrownMax):
		return fmt.Errorf("photo spec %q: crown target outside its band", s.ID)
	case !(s.EyeMin <= s.EyeTarget && s.EyeTarget <= s.EyeMax && s.EyeMax < s.Height):
		return fmt.Errorf("photo spec %q: eye target outside its band", s.ID)
	case !(0 < s.FaceWidthMin && s.FaceWidthMin <= s.FaceWidthTarget && s.FaceWidthTarget <= s.FaceWidthMax):
		return fmt.Errorf("photo spec %q: face width target outside its band", s.ID)
	case s.CrownMax >= s.EyeTarget:
		return fmt.Errorf("photo spec %q: crown band must lie above the eye target", s.ID)
	case !(0 < s.ExposureMin && s.ExposureMin < s.ExposureMax && s.ExposureMax < 1):
		return fmt.Errorf("photo spec %q: exposure band must be inside (0, 1)", s.ID)
	}
	return nil
}

// Background says what happens to the wall behind the student.
type Background string

// The background modes (PHOTO-SPEC.md, "Background: two modes").
const (
	// BackgroundReplace: the student stands before a light wall and the
	// standardized photo gets the spec's colour. The wall must be plain
	// enough to separate the person from it.
	BackgroundReplace Background = "replace"
	// BackgroundKeep: the booth has a physical backdrop of the spec's
	// colour, which must itself pass (colour, uniformity, no shadow).
	BackgroundKeep Background = "keep"
)

// ParseBackground checks a mode name; empty means BackgroundReplace.
func ParseBackground(s string) (Background, error) {
	switch Background(s) {
	case "", BackgroundReplace:
		return BackgroundReplace, nil
	case BackgroundKeep:
		return BackgroundKeep, nil
	}
	return "", fmt.Errorf("background mode %q: want %q or %q", s, BackgroundReplace, BackgroundKeep)
}
