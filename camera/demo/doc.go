// Package demo is the demo camera: a deterministic, scripted scene of a
// student stepping into the photo booth, played as a stream of 1280x720
// baseline JPEG frames (15 fps by default, 15 to 30). The station uses it
// where no camera is present, and tests use it as a camera whose every
// frame has a known answer.
//
// # The scene
//
// The person is the portrait in assets/pigo-sample.jpg (pigo's sample face,
// MIT licence; see assets/NOTICE), cut off its light background with a
// colour-distance matte, drawn at 1.175 times its size, and given a T-shirt
// and shoulders that reach below the frame's bottom edge. The wall is an
// even off-white (RGB about 222,223,219 in the centre, 7 % darker in the
// corners); every frame carries a little seeded sensor noise (σ 1.6 grey
// levels). The loop lasts LoopLength (15 s) and plays these phases
// (Timeline returns them):
//
//	phase        from    to     what the camera sees
//	empty        0.0 s   1.0 s  the empty wall
//	enter        1.0 s   3.0 s  the student walks in from the left, head bobbing
//	off-centre   3.0 s   4.4 s  stands still, level, eyes 200 px left of centre
//	tilt         4.4 s   5.4 s  moves to the centre while the head rolls to 7°
//	tilted       5.4 s   6.8 s  centred, head rolled 7° clockwise on screen, still
//	settle       6.8 s   7.6 s  straightens the head
//	hold         7.6 s  13.6 s  centred, level, still: every framing check can pass
//	exit        13.6 s  15.0 s  walks out to the right
//
// # Where the face is
//
// (*Scene).Truth returns, for any time in the loop, the pupil centres, the
// crown and chin, the face's box and width and the head's roll: the ground
// truth for detectors and checks. The head turns about the base of the
// neck. In frame pixels (pixel (x, y) is centred on the point (x, y)):
//
//	phase        pupils (image-left, image-right)   crown           roll
//	off-centre   (386.8, 285.0)  (493.2, 285.0)     (440.0,  87.6)  0°
//	tilted       (618.5, 281.1)  (724.1, 294.1)     (695.4,  91.7)  7°
//	hold         (586.8, 285.0)  (693.2, 285.0)     (640.0,  87.6)  0°
//
// In the hold the chin is at (640, 476.5), the face is 257 px wide at the
// temples (266 px with the ears) and the pupils are 106.5 px apart. For the
// 480x640 graduation photo this fits a crop window of 665 to 710 frame rows
// (the crown within 60-100 output pixels of the top, the eyes on row 250 of
// 640, the window inside the frame). With 680 rows (510x680, from row 19 to
// 699, columns 385 to 895) the crown is 64 output pixels below the top, the
// face is 242 output pixels wide and centred, the pupils 100 output pixels
// apart. The live analysis (kiosk/photo), which takes the face to be 2.2
// pupil distances wide and finds the crown a few pixels above the truth,
// plans 676 to 681 rows on the held frames: comfortably more than the 640
// the resolution check needs, so the hold is steadily ready.
//
// The truth is exact for the geometry the renderer used; what it rests on
// was measured on the portrait: the pupil centres to about ±1 portrait
// pixel (±1.2 px here), the crown (where the hair's edge is half way
// between wall and hair) to ±1, the chin, a shadow, to about ±3.
//
// # Cost
//
// A distinct frame is rendered and encoded (quality 80, 30 to 45 KB) the
// first time it is needed, in about 30 ms on a 2-core machine, and cached:
// one loop holds 94 distinct frames at 15 fps (the held poses cycle through
// four noise patterns and share their bytes), 3.5 MB in all.
// After the first loop, delivering a frame costs no allocation. Frames
// share their JPEG bytes, which nobody may modify (kiosk.Frame's contract).
package demo
