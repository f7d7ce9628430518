package queue

import (
	"context"
	"log/slog"
	"time"
)

// DefaultMaintainEvery is how often Maintain purges.
const DefaultMaintainEvery = time.Hour

// Maintain purges local copies that central accepted more than retention
// ago (DefaultRetention if <= 0), at once and then every `every`
// (DefaultMaintainEvery if <= 0), until ctx is done; it returns nil then.
// A failed purge is logged and tried again at the next turn: queued data
// is never touched by it.
func (q *Queue) Maintain(ctx context.Context, every, retention time.Duration, logger *slog.Logger) error {
	if every <= 0 {
		every = DefaultMaintainEvery
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		n, err := q.Purge(q.now(), retention)
		switch {
		case err != nil:
			logger.Warn("purge local copies", "err", err)
		case n > 0:
			logger.Info("purged local copies accepted by central", "records", n)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
