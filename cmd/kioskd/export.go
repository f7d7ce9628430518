package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"kioskd/kiosk/queue"
	"kioskd/sync/bundle"
	"kioskd/sync/central"
	"kioskd/sync/uplink"
	"kioskd/sync/wire"
)

// export is `kioskd export -to DIR`: the records central has not accepted
// yet, in an encrypted bundle for a USB stick. The records stay queued
// (marked exported) and still upload when the network returns; central
// keeps one copy either way.
func (m *Main) export(ctx context.Context, args []string) error {
	var to, stateDir, stationID string
	var cf centralFlags
	fs := newFlagSet("export", "kioskd export -to DIR [-state-dir DIR] [-station-id ID] [-central-token-file FILE]", m.Stderr,
		onlyTwins("state-dir", "station-id", "central-token-file"))
	fs.StringVar(&to, "to", "", "the folder to write the bundle into (a USB stick's folder); a new sub-folder kioskd-STATION-TIME is made")
	fs.StringVar(&stateDir, "state-dir", "", "the station's state folder (as for kioskd run)")
	fs.StringVar(&stationID, "station-id", "", "this station's name (as for kioskd run; the host name if empty): its records are exported, records saved under another name are left")
	fs.StringVar(&cf.tokenFile, "central-token-file", "", "this station's token file (the bundle is encrypted for central with it); STATE_DIR/central.token if empty")
	if err := parseFlags(fs, args, envOnly(m.Getenv, "state-dir", "station-id", "central-token-file")); err != nil {
		return err
	}
	if to == "" {
		return usageError{errors.New("export: say where with -to DIR")}
	}
	if fi, err := os.Stat(to); err != nil || !fi.IsDir() {
		return fmt.Errorf("export: -to %s is not a folder (is the USB stick mounted?)", to)
	}
	if stateDir == "" {
		stateDir = defaultStateDir(m.Getenv)
	}
	if stationID == "" {
		stationID, _ = os.Hostname()
	}
	tokFile := cf.config(stateDir).TokenFile
	tok, err := uplink.ReadToken(tokFile)
	if err != nil {
		return fmt.Errorf("export: %w (the bundle is encrypted with this station's central token)", err)
	}
	q, err := queue.Open(stateDir, queue.Options{})
	if errors.Is(err, queue.ErrLocked) {
		return fmt.Errorf("export: %w: stop kioskd first (sudo systemctl stop kioskd), export, then start it again", err)
	}
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer q.Close()
	var recs []queue.Record
	for _, s := range []queue.State{queue.StateQueued, queue.StateUploading} {
		rs, err := q.Next(s, 0)
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		recs = append(recs, rs...)
	}
	if len(recs) == 0 {
		fmt.Fprintln(m.Stdout, "nothing to export: central has every record / 没有需要导出的记录")
		return nil
	}
	key := sha256.Sum256([]byte(tok))
	var (
		w     *bundle.Writer
		ids   []string
		paths []string
	)
	// closeBundle finishes the bundle in progress; a full one makes room
	// for the next (an export of more than a bundle's limit is several).
	closeBundle := func() error {
		if w == nil {
			return nil
		}
		path, err := w.Close()
		w = nil
		if err != nil {
			return err
		}
		paths = append(paths, path)
		return nil
	}
	abort := func(err error) error {
		if w != nil {
			w.Abort()
		}
		fmt.Fprintln(m.Stderr) // end the progress line
		return fmt.Errorf("export: %w", err)
	}
	for i, r := range recs {
		if err := ctx.Err(); err != nil {
			return abort(err)
		}
		switch {
		case r.StationID != stationID:
			fmt.Fprintf(m.Stderr, "\nskip %s: saved as station %q, not %s (-station-id)\n", r.ID, r.StationID, stationID)
			continue
		case r.Purged() || r.Damage != "":
			fmt.Fprintf(m.Stderr, "\nskip %s: its files are damaged or purged\n", r.ID)
			continue
		}
		man, photo, original, err := uplink.Manifest(q, r)
		if err != nil {
			// The uplink would park it too: the others still go.
			fmt.Fprintf(m.Stderr, "\nskip %s: %v\n", r.ID, err)
			continue
		}
		rec := bundle.Record{Manifest: man, Photo: photo, Original: original}
		for {
			if w == nil {
				if w, err = bundle.NewWriter(to, stationID, key); err != nil {
					return abort(err)
				}
			}
			err = w.Add(rec)
			if !errors.Is(err, bundle.ErrFull) {
				break
			}
			if err := closeBundle(); err != nil {
				return abort(err)
			}
		}
		if err != nil {
			return abort(err)
		}
		ids = append(ids, r.ID)
		fmt.Fprintf(m.Stderr, "\r%d/%d", i+1, len(recs))
	}
	fmt.Fprintln(m.Stderr)
	if err := closeBundle(); err != nil {
		return abort(err)
	}
	path := strings.Join(paths, ", ")
	if err := q.MarkExported(ids, time.Now()); err != nil {
		return fmt.Errorf("export: the bundle is whole at %s, but marking the records failed: %w", path, err)
	}
	fmt.Fprintf(m.Stdout, "%d records exported to %s / 已导出 %d 条记录\n", len(ids), path, len(ids))
	return nil
}

// centralImport is `kioskd central import BUNDLE...`: each record stored
// exactly as an upload would store it. Central must not be running (it
// holds its database).
func (m *Main) centralImport(args []string) error {
	var cfg centralConfig
	fset := newFlagSet("central import", "kioskd central import [-data DIR] BUNDLE-DIR...", m.Stderr, centralTwins)
	cfg.register(fset, m.Getenv)
	if err := parseFlags(fset, args, envOnly(centralEnv(m.Getenv), "data")); err != nil {
		return err
	}
	if fset.NArg() == 0 {
		return usageError{errors.New("central import: name the bundle folders (kioskd-STATION-TIME) to import")}
	}
	srv, err := central.Open(cfg.data, central.Options{Logger: m.newLogger(slog.LevelInfo)})
	if errors.Is(err, central.ErrLocked) {
		return fmt.Errorf("central import: %w: stop kioskd central first, import, then start it again", err)
	}
	if err != nil {
		return fmt.Errorf("central import: %w", err)
	}
	defer srv.Close()
	var failed int
	for _, dir := range fset.Args() {
		added, repeated, refused, err := importBundle(srv, dir)
		for _, r := range refused {
			fmt.Fprintf(m.Stderr, "%s: refused %s\n", dir, r)
		}
		if err != nil {
			failed++
			fmt.Fprintf(m.Stderr, "%s: %v\n", dir, err)
			continue
		}
		fmt.Fprintf(m.Stdout, "%s: %d new, %d already held / 新增 %d 条，已有 %d 条\n", dir, added, repeated, added, repeated)
		if len(refused) > 0 {
			failed++
			fmt.Fprintf(m.Stdout, "%s: %d refused (listed above) / 拒收 %d 条\n", dir, len(refused), len(refused))
		}
	}
	if failed > 0 {
		return fmt.Errorf("central import: %d of %d bundles failed or had records refused", failed, fset.NArg())
	}
	return nil
}

// importBundle stores one bundle's records at central.
func importBundle(srv *central.Server, dir string) (added, repeated int, refused []string, err error) {
	b, err := bundle.Open(dir, srv.TokenHash)
	if err != nil {
		return 0, 0, nil, err
	}
	err = b.Each(func(r bundle.Record) error {
		for _, blob := range [][]byte{r.Photo, r.Original} {
			if _, err := srv.PutBlob(wire.SHA256(blob), bytes.NewReader(blob)); err != nil {
				return err // Each names the record
			}
		}
		_, created, err := srv.CommitRecord(b.StationID(), r.Manifest)
		if errors.Is(err, central.ErrConflict) || errors.Is(err, central.ErrRetakeConflict) {
			// Central refuses this record as an upload would (409): the
			// station parks it when it tries; the bundle's others go on.
			refused = append(refused, fmt.Sprintf("%s: %v", r.Manifest.RecordID, err))
			return nil
		}
		if err != nil {
			return err
		}
		if created {
			added++
		} else {
			repeated++
		}
		return nil
	})
	return added, repeated, refused, err
}
