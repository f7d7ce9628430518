//go:build race

package web_test

// raceEnabled is set when the tests run under the race detector, which
// makes the demo camera render its first loop several times slower.
const raceEnabled = true
