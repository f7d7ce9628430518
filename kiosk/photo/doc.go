// Package photo is the station's pure image work: the photo templates
// (Spec), face finding, the measurements of a frame, and the 13 framing
// checks with their hints. It decodes bytes it is given and does no other
// I/O; it imports no camera, web, sync or net/http code.
//
// # One frame
//
//	JPEG bytes ─live loop (AnalyzeBytes, not Full), baseline JPEG:
//	   │  luma-first decode (lumajpeg.go) ─► full-resolution Y plane
//	   │  + one colour per chroma block (the block's DC: its mean)
//	   └─ anything else (PNG, progressive, odd sampling, Full analyses):
//	      Decode (pixel bound checked on the header) ─► image (YCbCr):
//	      the same decoder transforming every block for a baseline JPEG,
//	      image/jpeg or image/png for the rest
//	   └─ Rotation (lossless quarter turns) ─► upright luma plane
//	        (the decoded Y plane itself when upright: no conversion)
//	   └─ pigo face detector (MinSize = short side / 4, angle 0)
//	   └─ pupils (puploc, 63 start windows) ─► nose tip, lip line (lp93, lp81)
//	   └─ Geometry: eye line, IPD, roll/yaw/pitch, face width, crown,
//	                crop window (where the output would fall)
//	   └─ Measures: eyes, mouth, exposure, lighting, sharpness,
//	                background cells, clothing (sampled areas only)
//	   └─ Checks(spec, background mode) ─► Analysis{Ready, Faces, Checks, ...}
//
// Readiness turns per-frame verdicts into "ready to capture": every check
// passing on consecutive frames for Hold (default 0.7 s of frame time).
//
// # Coordinates
//
// Frame pixels: the upright picture (after Options.Rotation), x right, y
// down, origin at the top-left corner. Geometry is in frame pixels. "Left"
// and "right" in Geometry are image sides: Pupils[0] is the image-left
// pupil, which is the subject's right eye. Hints speak to the student, so
// their left and right are the student's own: a face at the image's left
// edge gets "move a little to your left".
//
// Face coordinates (internal): origin at the midpoint of the pupils, one
// unit = the inter-pupil distance (IPD), axes turned with the eye line.
// On an average face the nose tip is at (0, 0.6), the lip line at (0,
// 1.03), the cheeks at (+/-0.5, 0.6).
//
// Output pixels: the standardized photo (Spec.Width x Spec.Height, e.g.
// 480x640). Geometry.Crop is the rectangle of the frame that becomes the
// output: output = (frame - Crop.XY) * Crop.Scale. Geometry.Output gives the
// eye line, crown and face width in output pixels, with the spec's bands,
// for the UI overlay.
//
// # Measures
//
//   - Roll: angle of the pupil line. Yaw and pitch: how far the nose tip
//     sits off its frontal position (across the eye-mouth axis, and along
//     it as a share of the eye-to-lip distance), over an assumed nose depth
//     of 0.55 IPD. Coarse: they warn between the limit and 2.5 times it.
//   - Face width: 2.2 IPD (cheek to cheek on an average adult face), over
//     cos(yaw).
//   - Crown: scanning down a band half a face wide above the face, the first
//     rows where a quarter of the band differs (max channel difference > 28)
//     from the wall's median colour (sampled at the top and beside the
//     head). Hair as light as the wall is missed.
//   - Crop window: eye line on Spec.EyeTarget, face centre on the centre
//     line, scale for Spec.FaceWidthTarget clamped so that the crown lands
//     in [CrownMin, CrownMax] (priority: eye line, crown, face width).
//     framing = the window fits in the frame; resolution = Scale <= 1.
//   - Eyes open: height of the dark band through each pupil, in IPD, if the
//     pupil is dark against the cheek at all.
//   - Mouth closed: tallest run of rows at the lip line that are dark
//     (cavity) or mostly teeth (bright and grey), in IPD.
//   - Exposure: face mean luma (0..1), shares of clipped (>= 250) and crushed
//     (<= 20) face pixels, eyes excluded. Lighting: (right - left) / mean of
//     the cheeks' luma (阴阳脸).
//   - Sharpness: the face (eyes to mouth) box-resampled to IPD = 40 px; 100 *
//     var(Laplacian) / var(patch): independent of face size and contrast.
//   - Background: cells of a sixth of the face width inside the crop window,
//     above the crown and beside the head: median in-cell luma deviation
//     (objects, patterns), range of cell L* (uneven light), cells next to the
//     head darker than the rest (shadow), and in keep mode the CIEDE2000 of
//     the median colour to Spec.Background.
//   - Clothing: the shoulders in the lowest sixth of the crop window: CIEDE2000
//     to Spec.Background, and in replace mode a blue hue near the
//     background's fails too.
//
// # Concurrency and cost
//
// The cascades are unpacked once per process and shared. An Analyzer holds
// scratch buffers and serves one goroutine at a time. pigo finds the face;
// the pupil and landmark cascades run in this package (puploc.go): same
// cascades and arithmetic, but faster, allocation-free and deterministic
// (a fixed pattern of start windows, so one frame always gives the same
// points). With more than one CPU, the face search shares its scales among
// workers (the same detections in the same order as pigo's own loop), the
// two pupils and then the landmarks are searched side by side, and the
// full decode transforms its blocks in workers; with GOMAXPROCS=1 all of
// it runs inline.
//
// On one core of the 2-core development machine, a 1280x720 camera frame
// (MJPEG 4:2:2, q85, 76 KB) costs about 11.5 ms to decode with image/jpeg
// and 6 ms to analyse: face search 2.7 ms (pigo; its cost is the number
// of windows, which does not shrink with the resolution when MinSize is a
// share of the frame), pupils and two landmarks 2.6 ms, the photometric
// measures (sampled areas only) and checks 0.5 ms. A 1920x1080 frame
// decodes in about 27 ms; the analysis grows little.
//
// The live loop therefore decodes camera frames itself (lumajpeg.go): it
// Huffman-decodes every block but runs the inverse DCT (float AAN, within
// 1 level of image/jpeg) for luma blocks only, and keeps each chroma
// block's DC coefficient, its mean: colour at one sample per 16x8 pixels
// of a 4:2:2 frame, which the colour measures (medians over cells of a
// sixth of a face width, the shirt) hardly notice (ΔE within 0.2 on the
// test scenes). It decodes the 720p frame in about 3.5 ms of CPU instead
// of 12.5, the 1080p frame in about 8.5 instead of 27, into planes reused
// from frame to frame, which brings the whole analysis to about 10.5 ms
// (720p) and 16 ms (1080p). Frames it does not handle fall back to
// Decode, so what decodes and what is refused does not change.
//
// Decode uses the same decoder in its full mode for baseline JPEGs: every
// block transformed into image/jpeg's layout, within 1 level of
// image/jpeg's samples; the 1080p frame takes 11-13 ms on one core
// instead of 28-34, 8-10 ms on two. Standardization, capture-time analysis
// and clean plates therefore see the same luma the live loop sees. The
// proof alone decodes the output file with image/jpeg, the decoder a
// reviewer's tools would use. bench_test.go, lumajpeg_test.go and
// decodeimage_test.go have the figures.
package photo
