package photo_test

import (
	"image"
	"image/color"
	"image/draw"
	"math"
	"testing"

	"kioskd/kiosk/photo"
)

func TestMeasureWall(t *testing.T) {
	wall := color.RGBA{222, 223, 219, 255}
	img := image.NewRGBA(image.Rect(0, 0, 640, 360))
	draw.Draw(img, img.Bounds(), &image.Uniform{wall}, image.Point{}, draw.Src)
	// A dark person in the middle and lower part must not count.
	draw.Draw(img, image.Rect(200, 60, 440, 360), &image.Uniform{color.RGBA{40, 30, 30, 255}}, image.Point{}, draw.Src)

	w, err := photo.MeasureWall(img, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []float64{222, 223, 219} {
		if math.Abs(w.RGB[i]-want) > 0.5 {
			t.Errorf("RGB[%d] = %.2f; want %.0f (the person must not count)", i, w.RGB[i], want)
		}
	}
	if w.Spread > 0.5 {
		t.Errorf("Spread of an even wall = %.2f; want ~0", w.Spread)
	}
	if d := w.DeltaE(w); d != 0 {
		t.Errorf("DeltaE to itself = %v; want 0", d)
	}

	// Warmer, dimmer light: a clear drift.
	draw.Draw(img, img.Bounds(), &image.Uniform{color.RGBA{200, 190, 170, 255}}, image.Point{}, draw.Src)
	warm, _ := photo.MeasureWall(img, 90)
	if d := w.DeltaE(warm); d < 5 {
		t.Errorf("DeltaE between a neutral and a warm dim wall = %.2f; want > 5", d)
	}
	if _, err := photo.MeasureWall(img, 45); err == nil {
		t.Error("MeasureWall with rotation 45 succeeded; want an error")
	}
}
