package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"kioskd/sync/central"
	"kioskd/sync/wire"
)

// centralConfig is the configuration of `kioskd central`.
type centralConfig struct {
	data     string
	listen   string
	tlsCert  string
	tlsKey   string
	clientCA string
	logLevel slog.Level
}

// centralCommand is `kioskd central`: the reference central server, or
// one of its subcommands (add-station, import).
func (m *Main) centralCommand(ctx context.Context, args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "add-station":
			return m.addStation(args[1:])
		case "import":
			return m.centralImport(args[1:])
		}
	}
	var cfg centralConfig
	fs := newFlagSet("central", "kioskd central [-data DIR] [-listen ADDR] [-tls-cert FILE -tls-key FILE] [-client-ca FILE]", m.Stderr, centralTwins)
	cfg.register(fs, m.Getenv)
	fs.StringVar(&cfg.listen, "listen", "127.0.0.1:8443", "address to serve on; anything but a loopback address needs -tls-cert and -tls-key")
	fs.StringVar(&cfg.tlsCert, "tls-cert", "", "the server's certificate chain (PEM)")
	fs.StringVar(&cfg.tlsKey, "tls-key", "", "the server's private key (PEM)")
	fs.StringVar(&cfg.clientCA, "client-ca", "", "require client certificates signed by these CAs (PEM); each station's certificate must name its station ID")
	fs.TextVar(&cfg.logLevel, "log-level", slog.LevelInfo, "log level: debug, info, warn or error")
	if err := parseFlags(fs, args, centralEnv(m.Getenv)); err != nil {
		return err
	}
	if (cfg.tlsCert == "") != (cfg.tlsKey == "") {
		return usageError{errors.New("-tls-cert and -tls-key go together")}
	}
	if cfg.clientCA != "" && cfg.tlsCert == "" {
		return usageError{errors.New("-client-ca needs TLS: give -tls-cert and -tls-key")}
	}
	if cfg.tlsCert == "" && !loopbackAddr(cfg.listen) {
		return usageError{fmt.Errorf("-listen %s is not a loopback address: central serves stations over HTTPS only; give -tls-cert and -tls-key", cfg.listen)}
	}
	logger := m.newLogger(cfg.logLevel)
	srv, err := central.Open(cfg.data, central.Options{Logger: logger})
	if err != nil {
		return centralOpenError(err)
	}
	defer srv.Close()
	var tlsConfig *tls.Config
	if cfg.tlsCert != "" {
		if tlsConfig, err = central.TLSConfig(cfg.tlsCert, cfg.tlsKey, cfg.clientCA); err != nil {
			return fmt.Errorf("central: %w", err)
		}
	}
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return fmt.Errorf("central: listen on %s: %w", cfg.listen, err)
	}
	scheme := "http"
	if tlsConfig != nil {
		scheme = "https"
		ln = tls.NewListener(ln, tlsConfig)
	}
	base := scheme + "://" + ln.Addr().String()
	logger = logger.With("component", "central")
	logger.Info("central ready", "url", base, "admin", base+"/admin/", "data", cfg.data,
		"adminTokenFile", filepath.Join(cfg.data, "admin.token"), "epoch", srv.Epoch(), "version", version())
	if m.Ready != nil {
		m.Ready(ln.Addr())
	}
	return serveHTTP(ctx, ln, srv.Handler(), logger)
}

func (cfg *centralConfig) register(fs interface {
	StringVar(p *string, name, value, usage string)
}, getenv func(string) string) {
	fs.StringVar(&cfg.data, "data", defaultCentralDir(getenv), "central's data folder (records, photos, roster, the stations file and admin.token)")
}

// centralEnv reads central's environment twins, KIOSK_CENTRAL_DATA for
// -data and so on, so that a machine running a station and central keeps
// their settings apart.
func centralEnv(getenv func(string) string) func(string) string {
	return func(name string) string {
		return getenv("KIOSK_CENTRAL_" + strings.TrimPrefix(name, "KIOSK_"))
	}
}

// defaultCentralDir is systemd's StateDirectory, else kioskd-central in
// the user's XDG state folder.
func defaultCentralDir(getenv func(string) string) string {
	if getenv("STATE_DIRECTORY") != "" {
		return defaultStateDir(getenv)
	}
	return filepath.Join(filepath.Dir(defaultStateDir(getenv)), "kioskd-central")
}

func centralOpenError(err error) error {
	if errors.Is(err, central.ErrLocked) {
		return fmt.Errorf("central: %w", err)
	}
	return fmt.Errorf("central: %w", err)
}

// serveHTTP serves h on ln until ctx ends, then shuts down gracefully
// within 10 s.
func serveHTTP(ctx context.Context, ln net.Listener, h http.Handler, logger *slog.Logger) error {
	hs := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		// A whole request, a 32 MiB blob included, within 10 min: 0.4
		// Mbit/s at least. A client that stalls longer is cut.
		ReadTimeout:    10 * time.Minute,
		WriteTimeout:   10 * time.Minute,
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }() // ends when Shutdown closes ln
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := hs.Shutdown(sctx)
	if err != nil {
		// Requests still running after the grace period are cut, so that
		// none is left using central's store when the caller closes it.
		hs.Close()
	}
	<-errc
	return err
}

// loopbackAddr reports whether a listen address is on loopback.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// addStation is `kioskd central add-station ID`: a new station and its
// token, printed once.
func (m *Main) addStation(args []string) error {
	var cfg centralConfig
	fs := newFlagSet("central add-station", "kioskd central add-station [-data DIR] STATION-ID", m.Stderr, centralTwins)
	cfg.register(fs, m.Getenv)
	if err := parseFlags(fs, args, envOnly(centralEnv(m.Getenv), "data")); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{errors.New("central add-station: name one station ID")}
	}
	id := fs.Arg(0)
	if !wire.ValidStationID(id) {
		return usageError{fmt.Errorf("station ID %q: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit", id)}
	}
	tok, err := central.AddStation(cfg.data, id)
	if err != nil {
		return fmt.Errorf("central add-station: %w", err)
	}
	fmt.Fprintln(m.Stdout, tok)
	fmt.Fprintf(m.Stderr, "station %s added. Put the token above into the station's token file (mode 0600), for example:\n"+
		"  install -m 0600 -o kioskd /dev/stdin /var/lib/kioskd/central.token\n"+
		"It is shown only this once; central keeps only its hash.\n", id)
	return nil
}
