package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"

	"kioskd/kiosk/photo"
)

// maxStillBytes bounds the size of a file `kioskd check` reads.
const maxStillBytes = 64 << 20

// photoFlags are the flags shared by the commands that judge photos.
type photoFlags struct {
	spec       string
	background string
	rotate     rotationValue
}

func (p *photoFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&p.spec, "spec", photo.DefaultSpecID, fmt.Sprintf("photo template: one of %v", photo.SpecIDs()))
	fs.StringVar(&p.background, "background", string(photo.BackgroundReplace), "background mode: replace (a light wall, replaced by the template's colour) or keep (a physical backdrop of the right colour)")
}

// resolve validates the flags into the analysis options.
func (p *photoFlags) resolve() (photo.Options, error) {
	spec, err := photo.LookupSpec(p.spec)
	if err != nil {
		return photo.Options{}, usageError{fmt.Errorf("-spec %q: %v", p.spec, err)}
	}
	bg, err := photo.ParseBackground(p.background)
	if err != nil {
		return photo.Options{}, usageError{fmt.Errorf("-background %q: %v", p.background, err)}
	}
	return photo.Options{Spec: spec, Background: bg, Rotation: int(p.rotate)}, nil
}

// checkLine is one line of `kioskd check` output.
type checkLine struct {
	File  string `json:"file"`
	Error string `json:"error,omitempty"`
	*photo.Analysis
}

// errUnreadable reports that some files could not be analysed; each was
// already named on stderr.
var errUnreadable = errors.New("some files could not be analysed")

// check is `kioskd check`: it analyses still frames as the live loop would
// and prints one JSON object per file and line. It fails (exit 1) when a
// file could not be read or decoded, after analysing all the others.
func (m *Main) check(ctx context.Context, args []string) error {
	var pf photoFlags
	fs := newFlagSet("check", "kioskd check [-spec ID] [-background replace|keep] [-rotate DEG] FILE...", m.Stderr)
	pf.register(fs)
	fs.Var(&pf.rotate, "rotate", "how far the pictures must turn clockwise to stand upright: 0, 90, 180 or 270")
	if err := parseFlags(fs, args, m.Getenv); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usageError{errors.New("check: name at least one JPEG or PNG file")}
	}
	opt, err := pf.resolve()
	if err != nil {
		return err
	}
	an, err := photo.NewAnalyzer()
	if err != nil {
		return fmt.Errorf("check: %w", err)
	}
	enc := json.NewEncoder(m.Stdout)
	enc.SetEscapeHTML(false)
	failed := false
	for _, name := range fs.Args() {
		if err := ctx.Err(); err != nil {
			return err
		}
		line := checkLine{File: name}
		a, err := analyseFile(an, name, opt)
		if err != nil {
			failed = true
			line.Error = err.Error()
			fmt.Fprintf(m.Stderr, "kioskd check: %v\n", err)
		} else {
			line.Analysis = &a
		}
		if err := enc.Encode(line); err != nil {
			return fmt.Errorf("check: write result: %w", err)
		}
	}
	if failed {
		return errUnreadable
	}
	return nil
}

func analyseFile(an *photo.Analyzer, name string, opt photo.Options) (photo.Analysis, error) {
	b, err := readStill(name)
	if err != nil {
		return photo.Analysis{}, err
	}
	a, err := an.AnalyzeBytes(b, opt)
	if err != nil {
		return photo.Analysis{}, fmt.Errorf("%s: %w", name, err)
	}
	return a, nil
}
