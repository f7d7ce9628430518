package kiosk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"time"

	"kioskd/kiosk/photo"
)

// EventCalibration is published when the booth is calibrated, and once a
// second with the drift while it is; Data is a CalibrationStatus.
const EventCalibration = "calibration"

// Calibration files in the state folder.
const (
	calibrationFile = "calibration.json"
	cleanPlateFile  = "clean-plate.jpg"
)

// ErrBoothNotEmpty: calibration needs a frame of the empty booth.
var ErrBoothNotEmpty = errors.New("the booth is not empty")

// CameraLocker fixes a camera's automatic exposure and white balance at
// their current values (camera.Device does, through V4L2).
type CameraLocker interface {
	LockCamera(ctx context.Context) (map[string]int32, error)
}

// Calibration is what the station knows of the empty booth: a clean plate
// (a frame of the wall with nobody in front of it), the wall's colour then,
// and the camera settings that were locked.
type Calibration struct {
	Time time.Time  `json:"time"`
	Wall photo.Wall `json:"wall"`
	// Width, Height and Rotation are the clean plate's frame.
	Width    int `json:"width"`
	Height   int `json:"height"`
	Rotation int `json:"rotation"`
	// Locked lists the camera controls fixed at calibration (empty for a
	// camera without controls, such as the demo camera); LockProblem says
	// why they could not be, if so.
	Locked      map[string]int32 `json:"locked,omitempty"`
	LockProblem string           `json:"lock_problem,omitempty"`

	plate image.Image // the decoded clean plate
}

// CalibrationStatus is the calibration as the operator sees it.
type CalibrationStatus struct {
	Calibrated bool      `json:"calibrated"`
	Time       time.Time `json:"time,omitempty"`
	// Drift is the CIEDE2000 distance between the wall now and at
	// calibration: above DriftWarn the light or the wall has changed
	// enough to calibrate again.
	Drift     float64          `json:"drift"`
	DriftWarn float64          `json:"drift_warn"`
	Locked    map[string]int32 `json:"locked,omitempty"`
	Problem   string           `json:"problem,omitempty"`
}

// DriftWarn is the wall colour change (CIEDE2000) from which the UI
// suggests calibrating again.
const DriftWarn = 5.0

// Calibrate takes the newest frame as the clean plate of the empty booth:
// it must show no face. It measures the wall, locks the camera's exposure
// and white balance when the camera can, saves both in the state folder
// (when the station has one) and publishes the new calibration.
func (s *Station) Calibrate(ctx context.Context) (CalibrationStatus, error) {
	select {
	case s.capturing <- struct{}{}: // one capture or calibration at a time
		defer func() { <-s.capturing }()
	default:
		return CalibrationStatus{}, ErrCaptureBusy
	}
	f := s.frames.get()
	if f.Seq == 0 || time.Since(f.Time) > recentWindow {
		return CalibrationStatus{}, ErrNoFrame
	}
	spec, bg := s.spec()
	var img image.Image
	var wall photo.Wall
	err := s.safely("calibration", func() (err error) {
		img, wall, err = emptyBooth(f, spec, bg)
		return err
	})
	if err != nil {
		return CalibrationStatus{}, err
	}
	cal := &Calibration{Time: time.Now(), Wall: wall, Width: f.Width, Height: f.Height, Rotation: f.Rotation, plate: img}
	if s.Camera != nil {
		cal.Locked, err = s.Camera.LockCamera(ctx)
		if err != nil {
			cal.LockProblem = err.Error()
			s.logger.Warn("calibrate: lock the camera", "err", err)
		}
	}
	if s.StateDir != "" {
		if err := saveCalibration(s.StateDir, cal, f.JPEG); err != nil {
			return CalibrationStatus{}, err
		}
	}
	s.mu.Lock()
	s.calibration = cal
	s.drift = 0
	s.mu.Unlock()
	st := s.calibrationStatus()
	s.logger.Info("calibrated", "wall", fmt.Sprintf("%.0f,%.0f,%.0f", wall.RGB[0], wall.RGB[1], wall.RGB[2]), "locked", len(cal.Locked))
	s.hub.Publish(Event{Type: EventCalibration, Time: time.Now(), Data: st})
	return st, nil
}

// calibrationStatus is the calibration in force, for events and status.
func (s *Station) calibrationStatus() CalibrationStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := CalibrationStatus{DriftWarn: DriftWarn}
	if c := s.calibration; c != nil {
		st.Calibrated, st.Time, st.Drift, st.Locked, st.Problem = true, c.Time, s.drift, c.Locked, c.LockProblem
	}
	return st
}

// emptyBooth decodes f, checks that nobody is in it, and measures its
// wall.
func emptyBooth(f Frame, spec photo.Spec, bg photo.Background) (image.Image, photo.Wall, error) {
	img, err := photo.Decode(f.JPEG, photo.DefaultMaxPixels)
	if err != nil {
		return nil, photo.Wall{}, fmt.Errorf("calibrate: %w", err)
	}
	an, err := photo.NewAnalyzer()
	if err != nil {
		return nil, photo.Wall{}, err
	}
	a, err := an.Analyze(img, photo.Options{Spec: spec, Background: bg, Rotation: f.Rotation})
	if err != nil {
		return nil, photo.Wall{}, fmt.Errorf("calibrate: %w", err)
	}
	if a.Faces > 0 {
		return nil, photo.Wall{}, ErrBoothNotEmpty
	}
	wall, err := photo.MeasureWall(img, f.Rotation)
	if err != nil {
		return nil, photo.Wall{}, fmt.Errorf("calibrate: %w", err)
	}
	return img, wall, nil
}

// measureDrift compares the wall in f with the calibration's and
// publishes the result; the stats loop calls it once a second.
func (s *Station) measureDrift(f Frame) {
	s.mu.Lock()
	cal := s.calibration
	s.mu.Unlock()
	if cal == nil || f.Seq == 0 || f.Rotation != cal.Rotation {
		return
	}
	var wall photo.Wall
	err := s.safely("wall drift", func() error {
		img, err := photo.Decode(f.JPEG, photo.DefaultMaxPixels)
		if err != nil {
			return err
		}
		wall, err = photo.MeasureWall(img, f.Rotation)
		return err
	})
	if err != nil {
		return
	}
	s.mu.Lock()
	s.drift = cal.Wall.DeltaE(wall)
	s.mu.Unlock()
	s.hub.Publish(Event{Type: EventCalibration, Time: time.Now(), Data: s.calibrationStatus()})
}

// saveCalibration writes the clean plate, then the calibration that
// names it, each atomically (temporary file, fsync, rename, fsync the
// folder), so a power cut leaves the old calibration or the new one.
func saveCalibration(dir string, cal *Calibration, plate []byte) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("save calibration: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(dir, cleanPlateFile), plate); err != nil {
		return fmt.Errorf("save calibration: %w", err)
	}
	b, err := json.MarshalIndent(cal, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(dir, calibrationFile), append(b, '\n')); err != nil {
		return fmt.Errorf("save calibration: %w", err)
	}
	return nil
}

// LockedControls returns the camera controls the booth's calibration in
// dir locked (nil when the booth is not calibrated), so that the program
// can set them again when it opens the camera after a restart.
func LockedControls(dir string) (map[string]int32, error) {
	cal, err := readCalibration(dir)
	if cal == nil || err != nil {
		return nil, err
	}
	return cal.Locked, nil
}

// readCalibration reads calibration.json in dir, without the clean plate.
// A missing calibration is (nil, nil).
func readCalibration(dir string) (*Calibration, error) {
	b, err := os.ReadFile(filepath.Join(dir, calibrationFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var cal Calibration
	if err := json.Unmarshal(b, &cal); err != nil {
		return nil, fmt.Errorf("%s: %w", calibrationFile, err)
	}
	return &cal, nil
}

// loadCalibration reads the calibration saved in dir, if any. A missing
// calibration is (nil, nil).
func loadCalibration(dir string) (*Calibration, error) {
	cal, err := readCalibration(dir)
	if cal == nil || err != nil {
		return nil, err
	}
	pb, err := os.ReadFile(filepath.Join(dir, cleanPlateFile))
	if err != nil {
		return nil, fmt.Errorf("clean plate: %w", err)
	}
	img, err := jpeg.Decode(bytes.NewReader(pb))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cleanPlateFile, err)
	}
	if b := img.Bounds(); b.Dx() != cal.Width || b.Dy() != cal.Height {
		return nil, fmt.Errorf("%s is %dx%d; %s says %dx%d", cleanPlateFile, b.Dx(), b.Dy(), calibrationFile, cal.Width, cal.Height)
	}
	cal.plate = img
	return cal, nil
}

// writeFileAtomic replaces name with data so that a crash leaves either
// the old file or the new one, never a part.
func writeFileAtomic(name string, data []byte) error {
	dir := filepath.Dir(name)
	f, err := os.CreateTemp(dir, "."+filepath.Base(name)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a successful rename there is nothing to remove
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, name); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
