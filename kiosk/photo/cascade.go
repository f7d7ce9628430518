package photo

import (
	_ "embed"
	"fmt"
	"sync"

	pigo "github.com/esimov/pigo/core"
)

// The pigo cascades, copied from github.com/esimov/pigo v1.4.6 (MIT; see
// cascade/LICENSE and cascade/NOTICE). Their SHA-256 is pinned by a test:
// pigo does not validate cascade data, and a damaged file panics on unpack.
var (
	//go:embed cascade/facefinder
	facefinderData []byte
	//go:embed cascade/puploc
	puplocData []byte
	//go:embed cascade/lp93
	lp93Data []byte // nose tip
	//go:embed cascade/lp81
	lp81Data []byte // lip line, centre
	//go:embed cascade/lp82
	lp82Data []byte // lower lip, bottom centre
	//go:embed cascade/lp84
	lp84Data []byte // mouth corners (flipV gives the other one)
)

// cascadeSet is the unpacked classifiers. They are read-only after
// unpacking and safe to share between goroutines and Analyzers.
type cascadeSet struct {
	face  *pigo.Pigo
	pupil *flpCascade
	nose  *flpCascade
	lip   *flpCascade
	lower *flpCascade
	mouth *flpCascade
}

// cascades unpacks the embedded cascades once per process (about 30 ms)
// and shares them.
var cascades = sync.OnceValues(func() (cs *cascadeSet, err error) {
	defer func() {
		// pigo indexes the data without bounds checks of its own.
		if r := recover(); r != nil {
			cs, err = nil, fmt.Errorf("unpack pigo cascades: %v", r)
		}
	}()
	cs = &cascadeSet{}
	if cs.face, err = pigo.NewPigo().Unpack(facefinderData); err != nil {
		return nil, fmt.Errorf("unpack facefinder: %w", err)
	}
	for _, c := range []struct {
		dst  **flpCascade
		data []byte
		name string
	}{
		{&cs.pupil, puplocData, "puploc"},
		{&cs.nose, lp93Data, "lp93"},
		{&cs.lip, lp81Data, "lp81"},
		{&cs.lower, lp82Data, "lp82"},
		{&cs.mouth, lp84Data, "lp84"},
	} {
		if *c.dst, err = unpackFLP(c.data); err != nil {
			return nil, fmt.Errorf("unpack %s: %w", c.name, err)
		}
	}
	return cs, nil
})
