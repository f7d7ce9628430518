package photo_test

import (
	"image/color"

	"kioskd/kiosk/photo"
)

// booth is a composed test case: how it differs from the good frame and
// which checks must fire on it (every other check must pass).
type booth struct {
	name string
	mode photo.Background
	want []photo.CheckID
	edit func(*scene)
}

var (
	lightBlueWall = color.NRGBA{104, 196, 250, 255}
	blueShirt     = color.NRGBA{62, 140, 215, 255}
)

// booths are the cases of issue 3, on a 1280x720 frame.
var booths = []booth{
	{name: "good", edit: func(*scene) {}},
	{name: "good_keep", mode: photo.BackgroundKeep, edit: func(s *scene) { s.Wall = lightBlueWall }},
	{name: "roll_1", edit: func(s *scene) { s.Roll = 1 }},
	{name: "shift_left", want: ids(photo.CheckFraming), edit: func(s *scene) { s.EyeX = 190 }},
	{name: "shift_right", want: ids(photo.CheckFraming), edit: func(s *scene) { s.EyeX = 1090 }},
	{name: "shift_up", want: ids(photo.CheckFraming), edit: func(s *scene) { s.EyeY = 215 }},
	{name: "shift_down", want: ids(photo.CheckFraming), edit: func(s *scene) { s.EyeY = 370 }},
	{name: "too_close", want: ids(photo.CheckFraming), edit: func(s *scene) { s.IPD = 128; s.EyeY = 330 }},
	{name: "too_far", want: ids(photo.CheckResolution), edit: func(s *scene) { s.IPD = 84 }},
	{name: "roll_4", want: ids(photo.CheckRoll), edit: func(s *scene) { s.Roll = 4 }},
	{name: "roll_8", want: ids(photo.CheckRoll), edit: func(s *scene) { s.Roll = -8 }},
	{name: "yaw", want: ids(photo.CheckYaw), edit: func(s *scene) { s.NoseShift = photo.Point{X: 0.2} }},
	{name: "pitch", want: ids(photo.CheckPitch), edit: func(s *scene) { s.NoseShift = photo.Point{Y: -0.22} }},
	{name: "eyes_closed", want: ids(photo.CheckEyesOpen), edit: func(s *scene) { s.EyesClosed = true }},
	{name: "mouth_open", want: ids(photo.CheckMouthClosed), edit: func(s *scene) { s.MouthOpen = true }},
	{name: "under_exposed", want: ids(photo.CheckExposure), edit: func(s *scene) { s.Gain = 0.55 }},
	{name: "over_exposed", want: ids(photo.CheckExposure), edit: func(s *scene) { s.Gain = 1.6 }},
	{name: "side_light", want: ids(photo.CheckLighting), edit: func(s *scene) { s.SideLight = 0.7 }},
	{name: "gaussian_blur", want: ids(photo.CheckSharpness), edit: func(s *scene) { s.Blur = 0.035 }},
	{name: "motion_blur", want: ids(photo.CheckSharpness), edit: func(s *scene) { s.Motion = 0.2 }},
	{name: "blue_shirt", want: ids(photo.CheckClothing), edit: func(s *scene) { s.Shirt = blueShirt }},
	{name: "two_faces", want: ids(photo.CheckFaceCount), edit: func(s *scene) { s.Second = true }},
	{name: "no_face", want: ids(photo.CheckFaceCount), edit: func(s *scene) { s.NoFace = true }},
	{name: "busy_background", want: ids(photo.CheckBackground), edit: func(s *scene) { s.Busy = true }},
	{name: "wall_shadow", want: ids(photo.CheckBackground), edit: func(s *scene) { s.Shadow = 0.3 }},
	{name: "keep_wrong_colour", mode: photo.BackgroundKeep, want: ids(photo.CheckBackground), edit: func(*scene) {}},
}

func ids(c ...photo.CheckID) []photo.CheckID { return c }
