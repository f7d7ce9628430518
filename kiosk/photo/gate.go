package photo

import "errors"

// ErrSubject is the refusal reason when the student's own pose, face,
// light or clothes fail a check that no crop or global correction can
// fix (a tilted head, closed eyes, a top the colour of the background).
var ErrSubject = errors.New("the student's pose, face or clothes fail the spec")

// subjectChecks are the live checks that standardization cannot repair:
// the standard forbids rotating or retouching, so the student must fix
// them in front of the camera.
var subjectChecks = []CheckID{
	CheckRoll, CheckYaw, CheckPitch, CheckEyesOpen, CheckMouthClosed,
	CheckLighting, CheckSharpness, CheckClothing,
}

// SubjectRefusal returns a refusal for the first failing check among
// those about the student (pose, eyes, mouth, light on the face,
// sharpness, clothes) in checks, or nil when none fails. Warnings pass.
// Standardize itself gates the file, the framing and the background; the
// capture flow and `kioskd standardize` add this gate so that a photo the
// central review would reject is never offered as good.
func SubjectRefusal(checks []CheckResult) *RefusalError {
	for _, id := range subjectChecks {
		for _, c := range checks {
			if c.ID != id || c.Status != StatusFail {
				continue
			}
			r := &RefusalError{Reason: ErrSubject, Code: string(id), Detail: string(id) + " fails"}
			if c.Hint != nil {
				r.Hint = *c.Hint
			}
			return r
		}
	}
	return nil
}
