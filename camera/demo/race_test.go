//go:build race

package demo_test

// raceEnabled is set when the tests run under the race detector, which
// makes rendering whole loops of frames too slow.
const raceEnabled = true
