//go:build !unix

package central

import "os"

// lockFile does nothing where flock is missing: concurrent AddStation
// calls on the same folder are then the caller's to avoid.
func lockFile(*os.File) (func(), error) { return func() {}, nil }
