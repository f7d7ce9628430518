//go:build unix

package central

import (
	"os"
	"syscall"
)

// lockFile takes an exclusive flock on f until the returned func runs.
func lockFile(f *os.File) (func(), error) {
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return nil, err
	}
	return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }, nil
}
