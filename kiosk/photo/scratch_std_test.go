package photo_test

import (
	"encoding/json"
	"image/png"
	"os"
	"testing"

	"kioskd/kiosk/photo"
)

func TestScratchStd(t *testing.T) {
	p, astro := fixtures(t)
	a := newAnalyzer(t)
	for _, mode := range []photo.Background{photo.BackgroundReplace, photo.BackgroundKeep} {
		s := goodScene()
		if mode == photo.BackgroundKeep {
			s.Wall = lightBlueWall
		}
		frame := encodeJPEG(t, s.render(p, astro), 85)
		res, err := a.StandardizeBytes(frame, photo.StandardizeOptions{Background: mode})
		b, _ := json.MarshalIndent(res.Report, "", " ")
		t.Logf("%s err=%v\n%s", mode, err, b)
		os.WriteFile("/tmp/std_"+string(mode)+".jpg", res.JPEG, 0o644)
		if res.Matte != nil {
			f, _ := os.Create("/tmp/std_matte.png")
			png.Encode(f, res.Matte)
			f.Close()
		}
	}
}
