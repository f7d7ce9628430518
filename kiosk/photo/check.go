package photo

import "math"

// CheckID names a check; the vocabulary is fixed (DESIGN.md, `kioskd check`).
type CheckID string

// The checks, in the order Analysis.Checks lists them.
const (
	CheckFaceCount   CheckID = "face_count"   // exactly one face
	CheckFraming     CheckID = "framing"      // the crop window fits in the frame
	CheckResolution  CheckID = "resolution"   // the crop window holds the output's pixels
	CheckRoll        CheckID = "roll"         // pupil line level
	CheckYaw         CheckID = "yaw"          // face turned left/right
	CheckPitch       CheckID = "pitch"        // chin up/down
	CheckEyesOpen    CheckID = "eyes_open"    // both eyes open
	CheckMouthClosed CheckID = "mouth_closed" // lips closed, no teeth
	CheckExposure    CheckID = "exposure"     // face neither dark nor blown
	CheckLighting    CheckID = "lighting"     // no 阴阳脸
	CheckSharpness   CheckID = "sharpness"    // in focus, no motion blur
	CheckBackground  CheckID = "background"   // plain wall, no shadow (keep: right colour)
	CheckClothing    CheckID = "clothing"     // clothes differ from the background colour
)

// CheckIDs lists every check in report order.
var CheckIDs = []CheckID{
	CheckFaceCount, CheckFraming, CheckResolution, CheckRoll, CheckYaw, CheckPitch,
	CheckEyesOpen, CheckMouthClosed, CheckExposure, CheckLighting, CheckSharpness,
	CheckBackground, CheckClothing,
}

// Status is a check's verdict.
type Status string

// The verdicts. A frame is ready only when every check passes. Skip means
// the check could not be measured on this frame (no face to measure from).
const (
	StatusPass Status = "pass"
	StatusWarn Status = "warn"
	StatusFail Status = "fail"
	StatusSkip Status = "skip"
)

// Hint is a physical instruction with a direction, in zh-CN and English.
// Left and right are the student's own, as they face the camera.
type Hint struct {
	Zh string `json:"zh"`
	En string `json:"en"`
}

// CheckResult is one check on one frame: the measured value against its
// limit (units depend on the check; see the constants' comments in
// doc.go), and a hint unless it passed.
type CheckResult struct {
	ID     CheckID `json:"id"`
	Status Status  `json:"status"`
	Value  float64 `json:"value"`
	Limit  float64 `json:"limit"`
	// Measure names the sub-measure that decided, where a check has
	// several (exposure: luma, clipped, crushed; background: texture,
	// spread, shadow, colour; framing: left, right, top, bottom, size).
	Measure string `json:"measure,omitempty"`
	Hint    *Hint  `json:"hint,omitempty"`
}

// Limits are the gates that depend on the camera and the booth rather than
// on the template, calibrated on composed frames (docs/check-accuracy.md).
type Limits struct {
	MinEyeOpenness float64 // eye dark band / IPD
	MaxMouthGap    float64 // open-mouth rows / IPD
	MinSharpness   float64 // Measures.Sharpness
	// Pose beyond the spec's limit but within PoseWarnFactor times it is a
	// warning (yaw and pitch are estimated from few landmarks).
	PoseWarnFactor       float64
	MaxBackgroundTexture float64 // luma standard deviation inside a cell
	MaxBackgroundSpread  float64 // L* range of the cells
	MaxShadow            float64 // L* darker next to the head
	// ClothingBlueHue and ClothingBlueChroma: in replace mode clothes
	// within this many degrees of the background hue and at least this
	// chroma fail even when far enough in CIEDE2000.
	ClothingBlueHue    float64
	ClothingBlueChroma float64
	// MinClothingWallDeltaE: in replace mode clothes closer than this
	// (CIEDE2000) to the wall fail: the matte would take them for wall.
	MinClothingWallDeltaE float64
}

// DefaultLimits returns the calibrated gates.
func DefaultLimits() Limits {
	return Limits{
		MinEyeOpenness:       0.07,
		MaxMouthGap:          0.08,
		MinSharpness:         30,
		PoseWarnFactor:       2.5,
		MaxBackgroundTexture: 8,
		MaxBackgroundSpread:  8,
		MaxShadow:            5,
		ClothingBlueHue:      20,
		ClothingBlueChroma:   20,

		MinClothingWallDeltaE: 15,
	}
}

func pass(id CheckID, v, lim float64) CheckResult {
	return CheckResult{ID: id, Status: StatusPass, Value: round3(v), Limit: lim}
}

func bad(id CheckID, st Status, v, lim float64, measure, zh, en string) CheckResult {
	return CheckResult{ID: id, Status: st, Value: round3(v), Limit: lim, Measure: measure, Hint: &Hint{Zh: zh, En: en}}
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// evaluate turns measurements into the 13 check results.
func evaluate(faces int, g *Geometry, m *Measures, spec Spec, mode Background, lim Limits, out []CheckResult) []CheckResult {
	out = out[:0]
	switch {
	case faces == 0:
		out = append(out, bad(CheckFaceCount, StatusFail, 0, 1, "", "请正对镜头，让整张脸出现在画面中", "Face the camera so that your whole face is in view"))
		for _, id := range CheckIDs[1:] {
			out = append(out, CheckResult{ID: id, Status: StatusSkip})
		}
		return out
	case faces > 1:
		out = append(out, bad(CheckFaceCount, StatusFail, float64(faces), 1, "", "画面里只能有一个人：请其他人离开镜头", "Only one person may be in the picture: others please step out"))
	default:
		out = append(out, pass(CheckFaceCount, 1, 1))
	}
	out = append(out, framing(g, spec), resolution(g, spec))

	// Pose, from the pupils: not measurable when they were not found.
	if !g.EyesFound {
		out = append(out, CheckResult{ID: CheckRoll, Status: StatusSkip}, CheckResult{ID: CheckYaw, Status: StatusSkip},
			CheckResult{ID: CheckPitch, Status: StatusSkip})
	} else if r := g.RollDeg; math.Abs(r) <= spec.MaxRollDeg {
		out = append(out, pass(CheckRoll, r, spec.MaxRollDeg))
	} else if r > 0 {
		out = append(out, bad(CheckRoll, StatusFail, r, spec.MaxRollDeg, "", "头向左肩歪了：请把头稍微向右摆正", "Your head leans to your left shoulder: straighten it a little to the right"))
	} else {
		out = append(out, bad(CheckRoll, StatusFail, r, spec.MaxRollDeg, "", "头向右肩歪了：请把头稍微向左摆正", "Your head leans to your right shoulder: straighten it a little to the left"))
	}
	if g.EyesFound {
		out = append(out, poseCheck(CheckYaw, g.YawDeg, spec.MaxYawDeg, lim,
			Hint{"脸向左转了：请稍微向右转，正对镜头", "You are turned to your left: turn a little to your right to face the camera"},
			Hint{"脸向右转了：请稍微向左转，正对镜头", "You are turned to your right: turn a little to your left to face the camera"}))
		out = append(out, poseCheck(CheckPitch, g.PitchDeg, spec.MaxPitchDeg, lim,
			Hint{"下巴抬得太高：请稍微收下巴", "Chin too high: lower your chin a little"},
			Hint{"头低了：请把下巴稍微抬起", "Head bowed: raise your chin a little"}))
	}

	// Eyes and mouth.
	eo := min(m.EyeOpenness[0], m.EyeOpenness[1])
	if g.EyesFound && eo >= lim.MinEyeOpenness {
		out = append(out, pass(CheckEyesOpen, eo, lim.MinEyeOpenness))
	} else {
		out = append(out, bad(CheckEyesOpen, StatusFail, eo, lim.MinEyeOpenness, "", "请自然睁大眼睛，看着镜头", "Open your eyes naturally and look at the camera"))
	}
	if m.MouthGap <= lim.MaxMouthGap {
		out = append(out, pass(CheckMouthClosed, m.MouthGap, lim.MaxMouthGap))
	} else {
		out = append(out, bad(CheckMouthClosed, StatusFail, m.MouthGap, lim.MaxMouthGap, "", "请自然闭上嘴，不要露出牙齿", "Close your lips naturally, no teeth showing"))
	}

	// Light.
	switch {
	case m.FaceLuma < spec.ExposureMin:
		out = append(out, bad(CheckExposure, StatusFail, m.FaceLuma, spec.ExposureMin, "luma", "脸部太暗：请把灯光调亮", "Face too dark: turn the lights up"))
	case m.FaceLuma > spec.ExposureMax:
		out = append(out, bad(CheckExposure, StatusFail, m.FaceLuma, spec.ExposureMax, "luma", "脸部太亮：请把灯光调暗", "Face too bright: turn the lights down"))
	case m.Clipped > spec.MaxClipped:
		out = append(out, bad(CheckExposure, StatusFail, m.Clipped, spec.MaxClipped, "clipped", "脸上有过曝的亮斑：请调暗或移远灯光", "Blown-out highlights on the face: dim the lights or move them back"))
	case m.Crushed > spec.MaxCrushed:
		out = append(out, bad(CheckExposure, StatusFail, m.Crushed, spec.MaxCrushed, "crushed", "脸上有死黑的阴影：请补光", "Crushed shadows on the face: add light"))
	default:
		out = append(out, pass(CheckExposure, m.FaceLuma, spec.ExposureMax))
	}
	switch lb := m.LightBalance; {
	case math.Abs(lb) <= spec.MaxLightImbalance:
		out = append(out, pass(CheckLighting, lb, spec.MaxLightImbalance))
	case lb > 0: // image-left cheek darker: the student's right cheek
		out = append(out, bad(CheckLighting, StatusFail, lb, spec.MaxLightImbalance, "", "右脸偏暗（阴阳脸）：请在学生右侧补光", "The right side of the face is darker: add light on the student's right"))
	default:
		out = append(out, bad(CheckLighting, StatusFail, lb, spec.MaxLightImbalance, "", "左脸偏暗（阴阳脸）：请在学生左侧补光", "The left side of the face is darker: add light on the student's left"))
	}
	if m.Sharpness >= lim.MinSharpness {
		out = append(out, pass(CheckSharpness, m.Sharpness, lim.MinSharpness))
	} else {
		out = append(out, bad(CheckSharpness, StatusFail, m.Sharpness, lim.MinSharpness, "", "画面模糊：请保持不动，或重新对焦", "Blurred: hold still, or refocus the camera"))
	}
	out = append(out, backgroundCheck(&m.Background, spec, mode, lim), clothingCheck(&m.Clothing, spec, mode, lim))
	return out
}

func poseCheck(id CheckID, v, limit float64, lim Limits, pos, neg Hint) CheckResult {
	if math.Abs(v) <= limit {
		return pass(id, v, limit)
	}
	st := StatusFail
	if math.Abs(v) <= limit*lim.PoseWarnFactor {
		st = StatusWarn
	}
	h := pos
	if v < 0 {
		h = neg
	}
	return bad(id, st, v, limit, "", h.Zh, h.En)
}

// framing: how far (output pixels) the crop window sticks out of the frame.
func framing(g *Geometry, spec Spec) CheckResult {
	c := g.Crop
	s := c.Scale
	left := -c.X * s
	right := (c.X + c.W - float64(g.Width)) * s
	top := -c.Y * s
	bottom := (c.Y + c.H - float64(g.Height)) * s
	worst := max(left, right, top, bottom)
	const tol = 0.5
	switch {
	case worst <= tol:
	case c.W > float64(g.Width)+tol || c.H > float64(g.Height)+tol:
		return bad(CheckFraming, StatusFail, worst, 0, "size", "离镜头太近：请向后坐一点", "Too close to the camera: move back a little")
	case worst == left: // face near image-left: the student is too far to their right
		return bad(CheckFraming, StatusFail, left, 0, "left", "请向左移一点", "Move a little to your left")
	case worst == right:
		return bad(CheckFraming, StatusFail, right, 0, "right", "请向右移一点", "Move a little to your right")
	case worst == top:
		return bad(CheckFraming, StatusFail, top, 0, "top", "头太靠上：请坐低一点，或把镜头调高", "Head too high: sit a little lower, or raise the camera")
	default:
		return bad(CheckFraming, StatusFail, bottom, 0, "bottom", "头太靠下：请坐直坐高一点，或把镜头调低", "Head too low: sit up taller, or lower the camera")
	}
	fw := g.Output.FaceWidth
	if !g.CrownCut && (fw < float64(spec.FaceWidthMin)-2 || fw > float64(spec.FaceWidthMax)+2) {
		return bad(CheckFraming, StatusWarn, fw, float64(spec.FaceWidthMin), "proportion", "头顶到眼睛的距离异常：请整理头发或摘下头饰", "The top of the head is unusually high or low: flatten your hair or remove headwear")
	}
	return pass(CheckFraming, max(worst, 0), 0)
}

func resolution(g *Geometry, spec Spec) CheckResult {
	rows := g.Crop.H
	if g.Crop.Scale <= 1 {
		return pass(CheckResolution, rows, float64(spec.Height))
	}
	return bad(CheckResolution, StatusFail, rows, float64(spec.Height), "", "离镜头太远：请靠近镜头一点", "Too far from the camera: move a little closer")
}

func backgroundCheck(b *BackgroundMeasures, spec Spec, mode Background, lim Limits) CheckResult {
	switch {
	case b.Cells == 0:
		return CheckResult{ID: CheckBackground, Status: StatusSkip}
	case b.Texture > lim.MaxBackgroundTexture:
		return bad(CheckBackground, StatusFail, b.Texture, lim.MaxBackgroundTexture, "texture", "背景有杂物或图案：请清理学生身后的墙面", "Objects or patterns behind the student: clear the wall")
	case b.Shadow > lim.MaxShadow:
		return bad(CheckBackground, StatusFail, b.Shadow, lim.MaxShadow, "shadow", "墙上有人影：请离墙远一点（向前一步）", "Shadow on the wall: step forward, away from the wall")
	case b.Spread > lim.MaxBackgroundSpread:
		return bad(CheckBackground, StatusFail, b.Spread, lim.MaxBackgroundSpread, "spread", "背景明暗不均：请调整背景灯光", "The wall is unevenly lit: adjust the background light")
	case mode == BackgroundKeep && b.DeltaE > spec.BackgroundMaxDeltaE:
		return bad(CheckBackground, StatusFail, b.DeltaE, spec.BackgroundMaxDeltaE, "colour", "背景颜色不符：请检查背景布和白平衡", "Background colour is off: check the backdrop and the white balance")
	}
	return pass(CheckBackground, b.Texture, lim.MaxBackgroundTexture)
}

func clothingCheck(c *ClothingMeasures, spec Spec, mode Background, lim Limits) CheckResult {
	if !c.Seen {
		return CheckResult{ID: CheckClothing, Status: StatusSkip}
	}
	blue := mode == BackgroundReplace && c.HueDiff <= lim.ClothingBlueHue && c.Chroma >= lim.ClothingBlueChroma
	if c.DeltaE < spec.MinClothingDeltaE || blue {
		return bad(CheckClothing, StatusFail, c.DeltaE, spec.MinClothingDeltaE, "", "上衣颜色和背景太接近：请换一件非蓝色的上衣", "Your top is too close to the background colour: change into a top that is not blue")
	}
	if mode == BackgroundReplace && c.WallDeltaE >= 0 && c.WallDeltaE < lim.MinClothingWallDeltaE {
		return bad(CheckClothing, StatusFail, c.WallDeltaE, lim.MinClothingWallDeltaE, "wall", "上衣和墙面颜色太接近，换背景时会被一起去掉：请换一件深色上衣", "Your top is as light as the wall and would vanish with it: change into a darker top")
	}
	return pass(CheckClothing, c.DeltaE, spec.MinClothingDeltaE)
}
