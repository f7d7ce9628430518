package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"kioskd/kiosk"
	"kioskd/kiosk/queue"
	"kioskd/kiosk/roster"
	"kioskd/sync/uplink"
	"kioskd/sync/wire"
	"kioskd/web"
)

// centralFlags say how the station reaches central; `kioskd run`,
// `kioskd doctor` and `kioskd export` share them.
type centralFlags struct {
	url       string
	tokenFile string
	caFile    string
	certFile  string
	keyFile   string
}

func (c *centralFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.url, "central", "", "central's address, https://HOST[:PORT] (http:// only for a loopback address); empty: no sync, records stay on the station")
	fs.StringVar(&c.tokenFile, "central-token-file", "", "the file holding this station's token for central (mode 0600; 'kioskd central add-station' makes the token); STATE_DIR/central.token if empty")
	fs.StringVar(&c.caFile, "central-ca", "", "a PEM file of CA certificates to trust for central, besides the system's")
	fs.StringVar(&c.certFile, "central-cert", "", "this station's client certificate (PEM), when central requires one")
	fs.StringVar(&c.keyFile, "central-key", "", "the key of -central-cert (PEM)")
}

// config is the uplink's configuration, with the token file's default in
// the state folder.
func (c centralFlags) config(stateDir string) uplink.Config {
	tok := c.tokenFile
	if tok == "" {
		tok = filepath.Join(stateDir, "central.token")
	}
	return uplink.Config{URL: c.url, TokenFile: tok, CAFile: c.caFile, CertFile: c.certFile, KeyFile: c.keyFile}
}

func (c centralFlags) validate() error {
	if (c.certFile == "") != (c.keyFile == "") {
		return usageError{errors.New("-central-cert and -central-key go together")}
	}
	return nil
}

// syncAdapter shows the uplink worker to the station's queue panel and to
// /metrics, whose packages do not know it.
type syncAdapter struct {
	w     *uplink.Worker
	since time.Time
}

func (a syncAdapter) SyncHealth() kiosk.SyncHealth {
	h := a.w.Health()
	return kiosk.SyncHealth{State: h.State, LastSuccess: h.LastSuccess, LastError: h.LastError, NextRetry: h.NextRetry}
}

func (a syncAdapter) SyncCounts() web.SyncCounts {
	h := a.w.Health()
	return web.SyncCounts{Attempts: h.Attempts, Failures: h.Failures, Uploaded: h.Uploaded, UploadedBytes: h.UploadedBytes,
		State: h.State, LastSuccess: h.LastSuccess, Since: a.since}
}

// notifyingRecords is the queue as the station's session uses it: a commit,
// or an operator's retry of a parked record, wakes the uplink so the
// record leaves at once.
type notifyingRecords struct {
	*queue.Queue
	w *uplink.Worker
}

func (n notifyingRecords) Commit(r queue.NewRecord, photo, original []byte) (queue.Record, error) {
	rec, err := n.Queue.Commit(r, photo, original)
	if err == nil {
		n.w.Notify()
	}
	return rec, err
}

func (n notifyingRecords) Unpark(id string) error {
	err := n.Queue.Unpark(id)
	if err == nil {
		n.w.Notify()
	}
	return err
}

// startSync makes the uplink worker when central is configured, and gives
// the station and the metrics their views of it. It returns nil without
// central.
func (m *Main) startSync(cfg runConfig, st *kiosk.Station, q *queue.Queue, r *roster.Roster, metrics *web.Metrics, logger *slog.Logger) (*uplink.Worker, error) {
	if cfg.central.url == "" {
		logger.Info("no central configured (-central): records stay on this station until exported")
		return nil, nil
	}
	if !wire.ValidStationID(st.StationID) {
		return nil, usageError{fmt.Errorf("station ID %q (the host name) cannot name a station at central: set -station-id", st.StationID)}
	}
	client, err := uplink.NewClient(cfg.central.config(st.StateDir))
	if err != nil {
		return nil, fmt.Errorf("central: %w", err)
	}
	w := uplink.New(q, r, client, st.StationID)
	w.Logger = logger
	if cfg.syncInterval > 0 {
		w.Interval = cfg.syncInterval
	}
	w.Status = func() uplink.HeartbeatExtra {
		s := st.Status()
		return uplink.HeartbeatExtra{Version: version(), Camera: string(s.Camera.State), DiskFree: diskFree(st.StateDir)}
	}
	a := syncAdapter{w: w, since: time.Now()}
	st.Sync = a
	metrics.Sync = a
	st.Records = notifyingRecords{Queue: q, w: w}
	logger.Info("syncing with central", "url", cfg.central.url, "station", st.StationID)
	return w, nil
}

// runSync runs w until ctx ends; a nil w (no central) returns at once.
func runSync(ctx context.Context, w *uplink.Worker) error {
	if w == nil {
		return nil
	}
	return w.Run(ctx)
}

// diskFree is the free space of dir's disk in bytes, -1 when unknown.
func diskFree(dir string) int64 {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return -1
	}
	return int64(st.Bavail) * st.Bsize
}
