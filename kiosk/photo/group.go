package photo

import (
	"fmt"
	"runtime/debug"
	"sync"
)

// group runs the goroutines of one parallel pass. A panic in any of them
// is caught and raised again, with the goroutine's stack, by wait in the
// goroutine that waits: a bug in a parallel pass then unwinds to the
// package's caller as it would in a serial pass, instead of ending the
// process, and only after every goroutine of the pass has stopped writing.
type group struct {
	wg    sync.WaitGroup
	mu    sync.Mutex
	first *workerPanic // the first panic of a goroutine
}

// workerPanic is what wait raises for a panic in a group's goroutine.
type workerPanic struct {
	value any
	stack []byte
}

func (p *workerPanic) Error() string {
	return fmt.Sprintf("%v\n\n[photo worker goroutine]\n%s", p.value, p.stack)
}

// start runs fn in a new goroutine of g.
func (g *group) start(fn func()) {
	g.wg.Go(func() { g.guard(fn) })
}

// guard runs fn and keeps its panic, if any, for wait. It reports
// whether fn returned.
func (g *group) guard(fn func()) (returned bool) {
	defer func() {
		if returned {
			return
		}
		if v := recover(); v != nil { // nil: runtime.Goexit, which goes on
			g.mu.Lock()
			if g.first == nil {
				g.first = &workerPanic{value: v, stack: debug.Stack()}
			}
			g.mu.Unlock()
		}
	}()
	fn()
	return true
}

// wait waits for g's goroutines, then raises the first panic among them.
// Where the waiting goroutine works too, it runs its share through guard
// before wait, so that it waits for the others even when its own share
// panics, and that panic is raised like theirs.
func (g *group) wait() {
	g.wg.Wait()
	g.mu.Lock()
	p := g.first
	g.mu.Unlock()
	if p != nil {
		panic(p)
	}
}
