package photo_test

import (
	"encoding/json"
	"fmt"
	"image"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"testing"

	"kioskd/kiosk/photo"
)

// goldenTolerance is how far a number of the report may move from its
// golden value: the reports are deterministic on one platform, the
// tolerance absorbs float rounding elsewhere (FMA on arm64) and the JPEG
// size that a level of difference in a few pixels changes.
func goldenTolerance(key string, want float64) float64 {
	switch key {
	case "bytes":
		return 0.02 * math.Abs(want)
	case "quality", "quality_estimated":
		return 1
	case "width", "height", "dpi":
		return 0
	}
	return 0.05 + 0.01*math.Abs(want)
}

// diffJSON compares two decoded JSON values, numbers within
// goldenTolerance of their key, everything else exactly; it returns the
// differences by path.
func diffJSON(path, key string, got, want any) []string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: got %T, want an object", path, got)}
		}
		keys := make([]string, 0, len(w)+len(g))
		for k := range w {
			keys = append(keys, k)
		}
		for k := range g {
			if _, ok := w[k]; !ok {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		var d []string
		for _, k := range keys {
			d = append(d, diffJSON(path+"."+k, k, g[k], w[k])...)
		}
		return d
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return []string{fmt.Sprintf("%s: got %v, want %d elements", path, got, len(w))}
		}
		var d []string
		for i := range w {
			d = append(d, diffJSON(fmt.Sprintf("%s[%d]", path, i), key, g[i], w[i])...)
		}
		return d
	case float64:
		g, ok := got.(float64)
		if !ok || math.Abs(g-w) > goldenTolerance(key, w) {
			return []string{fmt.Sprintf("%s: got %v, want %v +/- %.3g", path, got, w, goldenTolerance(key, w))}
		}
		return nil
	}
	if key == "note" {
		// a note's numbers are the checks' own values, compared above
		// with their tolerance; the words must stay
		got, want = decimals.ReplaceAllString(fmt.Sprint(got), "#"), decimals.ReplaceAllString(fmt.Sprint(want), "#")
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		return []string{fmt.Sprintf("%s: got %v, want %v", path, got, want)}
	}
	return nil
}

var decimals = regexp.MustCompile(`[0-9]+(\.[0-9]+)?`)

// TestStandardizeGolden: the JSON report (the proof `kioskd standardize`
// prints) of composed standardizations matches testdata/standardize_*.
// golden.json, numbers within goldenTolerance; -update rewrites them. The
// quality search's tries are not in the comparison (a one-level change
// moves them), but it must find the size window in at most 3 encodes.
func TestStandardizeGolden(t *testing.T) {
	p, astro := fixtures(t)
	keep := scaled(1920, 1080)
	keep.Wall = lightBlueWall
	tests := []struct {
		name     string
		s        scene
		mode     photo.Background
		rotation int
	}{
		{name: "720p_replace", s: goodScene()},
		{name: "1080p_keep", s: keep, mode: photo.BackgroundKeep},
		{name: "portrait_rotation_90", s: scene{W: 1080, H: 1920, Wall: goodScene().Wall, IPD: 180, EyeX: 540, EyeY: 800,
			Shirt: goodScene().Shirt, Noise: 2, Seed: 5}, rotation: 90},
	}
	a := newAnalyzer(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var raw image.Image = tt.s.render(p, astro)
			if tt.rotation == 90 {
				raw = rotateCCW(raw.(*image.NRGBA))
			}
			res, err := a.StandardizeBytes(encodeJPEG(t, raw, 85), photo.StandardizeOptions{Background: tt.mode, Rotation: tt.rotation})
			if err != nil {
				t.Fatalf("Standardize: %v", err)
			}
			if n := len(res.Report.Tries); n == 0 || n > 3 {
				t.Errorf("quality search made %d encodes (%v); want 1..3", n, res.Report.Tries)
			}
			rep := res.Report
			rep.Tries = nil
			got, err := json.MarshalIndent(rep, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "standardize_"+tt.name+".golden.json")
			if *update {
				if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			wantB, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("read golden (run with -update to create it): %v", err)
			}
			var g, w any
			if err := json.Unmarshal(got, &g); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(wantB, &w); err != nil {
				t.Fatalf("golden %s: %v", golden, err)
			}
			for _, d := range diffJSON("report", "", g, w) {
				t.Error(d)
			}
		})
	}
}
