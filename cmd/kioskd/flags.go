package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"kioskd/kiosk/roster"
)

// envName is the environment twin of a flag: -camera-size is KIOSK_CAMERA_SIZE.
func envName(flagName string) string {
	return "KIOSK_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// twinsFunc names a flag's environment twin for a command's usage text;
// "" for a flag without one. It must agree with the getenv the command
// gives parseFlags (envOnly, centralEnv).
type twinsFunc func(flag string) string

// onlyTwins: only these flags have their KIOSK_* twins (envOnly).
func onlyTwins(flags ...string) twinsFunc {
	return func(name string) string {
		for _, f := range flags {
			if f == name {
				return envName(name)
			}
		}
		return ""
	}
}

// centralTwins are `kioskd central`'s twins, KIOSK_CENTRAL_* (centralEnv).
func centralTwins(name string) string {
	return "KIOSK_CENTRAL_" + strings.TrimPrefix(envName(name), "KIOSK_")
}

// newFlagSet returns a FlagSet that reports errors instead of exiting and
// prints its usage, with every flag's environment twin, to w. twins names
// the twins when they are not every flag's KIOSK_* name.
func newFlagSet(name, summary string, w io.Writer, twins ...twinsFunc) *flag.FlagSet {
	twin := twinsFunc(envName)
	if len(twins) > 0 {
		twin = twins[0]
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(w)
	fs.Usage = func() {
		fmt.Fprintf(w, "usage: %s\n\n", summary)
		fs.VisitAll(func(f *flag.Flag) {
			typ, usage := flag.UnquoteUsage(f)
			fmt.Fprintf(w, "  -%s %s\n\t%s", f.Name, typ, usage)
			if f.DefValue != "" {
				fmt.Fprintf(w, " (default %q)", f.DefValue)
			}
			if env := twin(f.Name); env != "" {
				fmt.Fprintf(w, "\n\tenvironment: %s", env)
			}
			fmt.Fprintln(w)
		})
	}
	return fs
}

// parseFlags parses args, then fills each flag not given on the command line
// from its KIOSK_* environment twin. The command line wins over the
// environment; an invalid value in either is an error that names it.
func parseFlags(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() > 0 && !takesArgs[fs.Name()] {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	given := make(map[string]bool)
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] {
			return
		}
		name := envName(f.Name)
		v := getenv(name)
		if v == "" {
			return
		}
		if err := f.Value.Set(v); err != nil {
			errs = append(errs, fmt.Errorf("environment %s=%q: %v", name, v, err))
		}
	})
	if len(errs) > 0 {
		return usageError{errors.Join(errs...)}
	}
	return nil
}

// takesArgs names the commands that take arguments after their flags.
var takesArgs = map[string]bool{"check": true, "standardize": true, "operator": true, "roster import": true,
	"central add-station": true, "central import": true}

// usageError marks errors in how kioskd was called; main exits 2 for them.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// sizeValue is a WIDTHxHEIGHT flag.
type sizeValue struct{ W, H int }

func (s *sizeValue) String() string { return fmt.Sprintf("%dx%d", s.W, s.H) }

func (s *sizeValue) Set(v string) error {
	ws, hs, ok := strings.Cut(strings.ToLower(strings.TrimSpace(v)), "x")
	w, errW := strconv.Atoi(ws)
	h, errH := strconv.Atoi(hs)
	if !ok || errW != nil || errH != nil || w < 160 || h < 120 || w > 8192 || h > 8192 {
		return fmt.Errorf("want WIDTHxHEIGHT between 160x120 and 8192x8192, like 1920x1080")
	}
	s.W, s.H = w, h
	return nil
}

// rotationValue is a clockwise mounting angle: 0, 90, 180 or 270.
type rotationValue int

func (r *rotationValue) String() string { return strconv.Itoa(int(*r)) }

func (r *rotationValue) Set(v string) error {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || (n != 0 && n != 90 && n != 180 && n != 270) {
		return fmt.Errorf("want 0, 90, 180 or 270 (degrees clockwise)")
	}
	*r = rotationValue(n)
	return nil
}

// fpsValue is a frame rate between 1 and 120.
type fpsValue float64

func (f *fpsValue) String() string { return strconv.FormatFloat(float64(*f), 'g', -1, 64) }

func (f *fpsValue) Set(v string) error {
	n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || n < 1 || n > 120 {
		return fmt.Errorf("want a frame rate between 1 and 120")
	}
	*f = fpsValue(n)
	return nil
}

// listValue is a comma-separated list.
type listValue []string

func (l *listValue) String() string { return strings.Join(*l, ",") }

func (l *listValue) Set(v string) error {
	*l = nil
	for p := range strings.SplitSeq(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

// windowValue is a collection period: START/END as dates (YYYY-MM-DD, in
// local time; END is the last day, included) or RFC 3339 times.
type windowValue struct{ roster.Window }

func (w *windowValue) String() string {
	if w.Start.IsZero() && w.End.IsZero() {
		return ""
	}
	return w.Start.Format(time.DateOnly) + "/" + w.End.Add(-time.Nanosecond).Format(time.DateOnly)
}

func (w *windowValue) Set(v string) error {
	v = strings.TrimSpace(v)
	if v == "" {
		*w = windowValue{}
		return nil
	}
	a, b, ok := strings.Cut(v, "/")
	if !ok {
		return fmt.Errorf("want START/END, like 2026-05-01/2026-06-30")
	}
	parse := func(s string, end bool) (time.Time, error) {
		s = strings.TrimSpace(s)
		if t, err := time.Parse(time.RFC3339, s); err == nil {
			return t, nil
		}
		t, err := time.ParseInLocation(time.DateOnly, s, time.Local)
		if err != nil {
			return time.Time{}, fmt.Errorf("%q is not a date like 2026-05-01", s)
		}
		if end {
			t = t.AddDate(0, 0, 1) // the whole last day
		}
		return t, nil
	}
	start, err := parse(a, false)
	if err != nil {
		return err
	}
	end, err := parse(b, true)
	if err != nil {
		return err
	}
	win := roster.Window{Start: start, End: end}
	if err := win.Validate(); err != nil {
		return err
	}
	w.Window = win
	return nil
}
