package photo_test

import (
	"errors"
	"testing"

	"kioskd/kiosk/photo"
)

func TestSubjectRefusal(t *testing.T) {
	hint := &photo.Hint{Zh: "请把头摆正", En: "Hold your head level"}
	for _, tc := range []struct {
		name   string
		checks []photo.CheckResult
		want   string // refusal code; "" for none
	}{
		{"all pass", []photo.CheckResult{{ID: photo.CheckRoll, Status: photo.StatusPass}}, ""},
		{"warning passes", []photo.CheckResult{{ID: photo.CheckYaw, Status: photo.StatusWarn}}, ""},
		{"framing is not the subject's", []photo.CheckResult{{ID: photo.CheckFraming, Status: photo.StatusFail}}, ""},
		{"roll fails", []photo.CheckResult{{ID: photo.CheckRoll, Status: photo.StatusFail, Hint: hint}}, "roll"},
		{"first in gate order", []photo.CheckResult{
			{ID: photo.CheckClothing, Status: photo.StatusFail},
			{ID: photo.CheckEyesOpen, Status: photo.StatusFail},
		}, "eyes_open"},
	} {
		r := photo.SubjectRefusal(tc.checks)
		switch {
		case tc.want == "" && r != nil:
			t.Errorf("%s: SubjectRefusal = %+v; want nil", tc.name, r)
		case tc.want != "" && (r == nil || r.Code != tc.want || !errors.Is(r, photo.ErrSubject)):
			t.Errorf("%s: SubjectRefusal = %+v; want code %s wrapping ErrSubject", tc.name, r, tc.want)
		}
		if tc.want == "roll" && r != nil && r.Hint != *hint {
			t.Errorf("%s: hint %+v; want the check's %+v", tc.name, r.Hint, *hint)
		}
	}
}
