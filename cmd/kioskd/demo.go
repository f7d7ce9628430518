package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sync/errgroup"

	"kioskd/kiosk/roster"
	"kioskd/sync/central"
)

// Demo settings: the demo's station name, its operator and PIN.
const (
	demoStation  = "demo-booth"
	demoOperator = "demo"
	demoPIN      = "123456"
)

// demo is `kioskd demo`: a station and an in-process reference central on
// loopback, with a demo roster, an operator and the demo camera, so the
// whole flow (review outcomes included) works on one laptop. Its data
// stays in its own folder (kioskd-demo beside the station's state
// folder) from one run to the next; delete the folder to start afresh.
func (m *Main) demo(ctx context.Context, args []string) error {
	cfg := newRunConfig()
	cfg.camera = "demo"
	cfg.syncInterval = 3 * time.Second
	var centralListen string
	fset := newFlagSet("demo", "kioskd demo [FLAGS of kioskd run] [-central-listen ADDR]", m.Stderr, onlyTwins("listen", "camera", "log-level"))
	cfg.register(fset)
	fset.StringVar(&centralListen, "central-listen", "127.0.0.1:8091", "loopback address of the demo's central server (its admin page is /admin/)")
	if err := parseFlags(fset, args, envOnly(m.Getenv, "listen", "camera", "log-level")); err != nil {
		return err
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	if !loopbackAddr(centralListen) {
		return usageError{fmt.Errorf("-central-listen %s: the demo's central serves plain HTTP, on a loopback address only", centralListen)}
	}
	logger := m.newLogger(cfg.logLevel)
	root := cfg.stateDir
	if root == "" {
		root = filepath.Join(filepath.Dir(defaultStateDir(m.Getenv)), "kioskd-demo")
	}
	stationDir, centralDir := filepath.Join(root, "station"), filepath.Join(root, "central")
	if err := os.MkdirAll(stationDir, 0o700); err != nil {
		return fmt.Errorf("demo: %w", err)
	}

	srv, err := central.Open(centralDir, central.Options{Logger: logger})
	if err != nil {
		return fmt.Errorf("demo: central: %w", err)
	}
	defer srv.Close()
	tokenFile := filepath.Join(stationDir, "central.token")
	if err := demoToken(centralDir, tokenFile); err != nil {
		return fmt.Errorf("demo: %w (delete %s to start the demo afresh)", err, root)
	}
	if _, err := srv.ImportRoster(bytes.NewReader(demoRosterCSV())); err != nil {
		return fmt.Errorf("demo: roster: %w", err)
	}
	opsFile := filepath.Join(stationDir, "operators")
	if err := demoOperators(opsFile); err != nil {
		return fmt.Errorf("demo: %w", err)
	}

	ln, err := net.Listen("tcp", centralListen)
	if err != nil {
		return fmt.Errorf("demo: central: listen on %s: %w (choose another with -central-listen)", centralListen, err)
	}
	centralURL := "http://" + ln.Addr().String()
	cfg.stateDir, cfg.stationID, cfg.operators = stationDir, demoStation, opsFile
	cfg.central = centralFlags{url: centralURL, tokenFile: tokenFile}

	logger.Info("demo: central", "admin", centralURL+"/admin/", "user", "admin", "password", srv.AdminToken())
	logger.Info("demo: sign in at the station", "operator", demoOperator, "pin", demoPIN,
		"codes", "DEMO-0001 … DEMO-0015 eligible, DEMO-0016 collected online, DEMO-0017 approved, DEMO-0018 rejected (free retake)")
	logger.Info("demo: data folder (delete it to start afresh)", "path", root)

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return serveHTTP(gctx, ln, srv.Handler(), logger.With("component", "central")) })
	g.Go(func() error { return m.serveStation(gctx, cfg, logger) })
	return g.Wait()
}

// demoToken makes sure the demo station has a token central knows: kept
// from an earlier run, else a new one.
func demoToken(centralDir, tokenFile string) error {
	if _, err := os.Stat(tokenFile); err == nil {
		return nil
	}
	tok, err := central.AddStation(centralDir, demoStation)
	if err != nil {
		return fmt.Errorf("register the demo station: %w", err)
	}
	return os.WriteFile(tokenFile, []byte(tok+"\n"), 0o600)
}

// demoOperators writes the demo's operators file once.
func demoOperators(path string) error {
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	hash, err := roster.HashPIN(demoPIN, 0)
	if err != nil {
		return err
	}
	return os.WriteFile(path, []byte(demoOperator+" "+hash+" 演示操作员\n"), 0o600)
}
