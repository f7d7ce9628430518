package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"kioskd/kiosk/photo"
)

// stdLine is one line of `kioskd standardize` output: the input, the file
// written, and the report (or why there is no file).
type stdLine struct {
	File   string        `json:"file"`
	Out    string        `json:"out,omitempty"`
	Error  string        `json:"error,omitempty"`
	Report *photo.Report `json:"report,omitempty"`
}

// errNotStandardized reports that some photos could not be standardized
// (exit 2: the frame is the problem, not the program); errUnreadable, that
// some inputs could not be read (exit 1).
var errNotStandardized = errors.New("some photos could not be standardized")

// standardize is `kioskd standardize`: each input frame becomes the spec's
// photo, with its proof printed as one JSON line per input. A frame that
// cannot be standardized, or whose result misses the spec, produces no
// file: its line has the reason and the exit code is 2.
func (m *Main) standardize(ctx context.Context, args []string) error {
	var pf photoFlags
	var out, plate string
	fs := newFlagSet("standardize", "kioskd standardize [-spec ID] [-background replace|keep] [-plate FILE] -o OUT IN...", m.Stderr, onlyTwins("spec", "background"))
	pf.register(fs)
	fs.Var(&pf.rotate, "rotate", "how far the inputs must turn clockwise to stand upright: 0, 90, 180 or 270 (a camera mounted on its side)")
	fs.StringVar(&out, "o", "", "the output JPEG, or a folder (made if missing) for several inputs")
	fs.StringVar(&plate, "plate", "", "a clean plate: a frame of the empty booth from the same camera (optional)")
	if err := parseFlags(fs, args, envOnly(m.Getenv, "spec", "background")); err != nil {
		return err
	}
	inputs := fs.Args()
	switch {
	case len(inputs) == 0:
		return usageError{errors.New("standardize: name at least one input frame (JPEG or PNG)")}
	case out == "":
		return usageError{errors.New("standardize: -o OUT is required (a file, or a folder for several inputs)")}
	}
	opt, err := pf.resolve()
	if err != nil {
		return err
	}
	sopt := photo.StandardizeOptions{Spec: opt.Spec, Background: opt.Background, Rotation: opt.Rotation}
	if plate != "" {
		b, err := readStill(plate)
		if err != nil {
			return fmt.Errorf("standardize: clean plate: %w", err)
		}
		if sopt.CleanPlate, err = photo.Decode(b, photo.DefaultMaxPixels); err != nil {
			return fmt.Errorf("standardize: clean plate %s: %w", plate, err)
		}
	}
	outs, err := outputNames(out, inputs)
	if err != nil {
		return err
	}
	an, err := photo.NewAnalyzer()
	if err != nil {
		return fmt.Errorf("standardize: %w", err)
	}
	an.Full = true

	enc := json.NewEncoder(m.Stdout)
	enc.SetEscapeHTML(false)
	var refused, unreadable int
	for i, in := range inputs {
		if err := ctx.Err(); err != nil {
			return err
		}
		line := stdLine{File: in}
		verdict := ""
		b, err := readStill(in)
		if err == nil {
			var res photo.Result
			res, err = an.StandardizeBytes(b, sopt)
			if res.Report.Spec != "" {
				line.Report = &res.Report
			}
			if err == nil {
				// What only the student can fix (pose, eyes, light,
				// clothes) is refused too: no file outside the spec.
				if r := photo.SubjectRefusal(res.Report.InputChecks); r != nil {
					err = r
				}
			}
			if err == nil {
				if err = writeFileAtomic(outs[i], res.JPEG); err == nil {
					line.Out = outs[i]
					verdict = fmt.Sprintf("ok, %.1f KB, quality %d", float64(res.Report.Bytes)/1024, res.Report.Quality)
				}
			}
		}
		var refusal *photo.RefusalError
		switch {
		case err == nil:
		case errors.As(err, &refusal):
			refused++
			line.Error = refusal.Error()
			verdict = fmt.Sprintf("refused: %s / %s", refusal.Hint.Zh, refusal.Hint.En)
		case errors.Is(err, photo.ErrOutOfSpec):
			refused++
			line.Error = err.Error()
			verdict = "not written: the result misses the spec (see the report)"
		default:
			unreadable++
			line.Error = err.Error()
			verdict = "error: " + err.Error()
		}
		fmt.Fprintf(m.Stderr, "[%d/%d] %s: %s\n", i+1, len(inputs), in, verdict)
		if err := enc.Encode(line); err != nil {
			return fmt.Errorf("standardize: write report: %w", err)
		}
	}
	switch {
	case refused > 0:
		return exitError{code: 2, err: fmt.Errorf("%w (%d of %d)", errNotStandardized, refused, len(inputs))}
	case unreadable > 0:
		return fmt.Errorf("%w (%d of %d)", errUnreadable, unreadable, len(inputs))
	}
	return nil
}

// outputNames maps the inputs to their output files: out itself for one
// input unless out is a folder; else out/<input name>.jpg, made unique.
func outputNames(out string, inputs []string) ([]string, error) {
	fi, err := os.Stat(out)
	isDir := err == nil && fi.IsDir()
	if len(inputs) == 1 && !isDir && !strings.HasSuffix(out, string(os.PathSeparator)) {
		if dir := filepath.Dir(out); dir != "" {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, fmt.Errorf("standardize: -o %s: %w", out, err)
			}
		}
		return []string{out}, nil
	}
	if err == nil && !isDir {
		return nil, usageError{fmt.Errorf("standardize: -o %s is a file; several inputs need a folder", out)}
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, fmt.Errorf("standardize: -o %s: %w", out, err)
	}
	names := make([]string, len(inputs))
	seen := make(map[string]bool)
	for i, in := range inputs {
		base := strings.TrimSuffix(filepath.Base(in), filepath.Ext(in))
		name := base + ".jpg"
		for n := 2; seen[name]; n++ {
			name = fmt.Sprintf("%s-%d.jpg", base, n)
		}
		seen[name] = true
		names[i] = filepath.Join(out, name)
	}
	return names, nil
}

// readStill reads a picture file, refusing files no camera frame is as big as.
func readStill(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", name)
	}
	if fi.Size() > maxStillBytes {
		return nil, fmt.Errorf("%s: larger than %d MiB; not a camera frame", name, maxStillBytes>>20)
	}
	return os.ReadFile(name)
}

// writeFileAtomic writes name through a temporary file and a rename, so a
// reader never sees half a photo.
func writeFileAtomic(name string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(f.Name(), name)
}

// envOnly is getenv restricted to the twins of the named flags: the booth's
// template and background mode apply, but a file to write or read is never
// taken from the environment.
func envOnly(getenv func(string) string, flags ...string) func(string) string {
	return func(name string) string {
		for _, f := range flags {
			if name == envName(f) {
				return getenv(name)
			}
		}
		return ""
	}
}

// exitError carries an exit code other than 1.
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string { return e.err.Error() }
func (e exitError) Unwrap() error { return e.err }
