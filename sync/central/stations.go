package central

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"kioskd/sync/wire"
)

// maxStationsBytes bounds the stations file (a line is under 140 bytes).
const maxStationsBytes = 4 << 20

// stationEntry is one line of the stations file.
type stationEntry struct {
	id  string
	sum [sha256.Size]byte // SHA-256 of the station's token
}

// parseStations reads a stations file: "STATION-ID SHA256-HEX" per line,
// blank lines and '#' comments ignored. A malformed line, a repeated
// station or a repeated token hash refuses the file, with the line
// numbers (a line's content is never in the error).
func parseStations(r io.Reader) ([]stationEntry, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxStationsBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read stations: %w", err)
	}
	if len(b) > maxStationsBytes {
		return nil, fmt.Errorf("stations file over %d bytes", maxStationsBytes)
	}
	var (
		out   []stationEntry
		bad   []string
		ids   = map[string]int{}
		sums  = map[[sha256.Size]byte]int{}
		sc    = bufio.NewScanner(bytes.NewReader(b))
		lines = 0
	)
	sc.Buffer(nil, maxStationsBytes)
	for sc.Scan() {
		lines++
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] == '#' {
			continue
		}
		f := strings.Fields(text)
		if len(f) != 2 || !wire.ValidStationID(f[0]) || !wire.ValidSHA256(f[1]) {
			bad = append(bad, fmt.Sprintf("line %d: want STATION-ID SHA256-HEX", lines))
			continue
		}
		var e stationEntry
		e.id = f[0]
		hex.Decode(e.sum[:], []byte(f[1])) // ValidSHA256 checked the digits
		if prev, dup := ids[e.id]; dup {
			bad = append(bad, fmt.Sprintf("line %d: station %s already on line %d", lines, e.id, prev))
			continue
		}
		if prev, dup := sums[e.sum]; dup {
			bad = append(bad, fmt.Sprintf("line %d: the same token as line %d", lines, prev))
			continue
		}
		ids[e.id], sums[e.sum] = lines, lines
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read stations: %w", err)
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("stations file: %s", strings.Join(bad, "; "))
	}
	return out, nil
}

// stationSet is the stations file as last read, re-read when its mtime or
// size changes (AddStation may append to it while the server runs).
type stationSet struct {
	path string
	log  *slog.Logger

	mu      sync.Mutex
	entries []stationEntry
	seen    fileSig // the file as last read (or last refused)
}

type fileSig struct {
	exists bool
	size   int64
	mtime  time.Time
}

func newStationSet(path string, log *slog.Logger) *stationSet {
	return &stationSet{path: path, log: log}
}

// statSig stats the stations file. It holds each token's SHA-256, which is
// also the key of the station's USB bundles (package bundle): a file that
// group or others may read is refused.
func statSig(path string) (fileSig, error) {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fileSig{}, nil
	}
	if err != nil {
		return fileSig{}, err
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return fileSig{}, fmt.Errorf("%s: mode %04o lets group or others read the token hashes (the keys of the USB bundles); run chmod 600 on it", path, perm)
	}
	return fileSig{exists: true, size: st.Size(), mtime: st.ModTime()}, nil
}

// load reads the file; Open calls it and fails on a bad file.
func (s *stationSet) load() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sig, err := statSig(s.path)
	if err != nil {
		return fmt.Errorf("stations: %w", err)
	}
	entries, complete, err := s.read(sig)
	if err != nil {
		return err
	}
	s.entries = entries
	if complete {
		s.seen = sig
	}
	return nil
}

// read reads and parses the file; complete is false when the file changed
// while it was read (read it again next time).
func (s *stationSet) read(sig fileSig) (entries []stationEntry, complete bool, err error) {
	if !sig.exists {
		return nil, true, nil
	}
	b, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("stations: %w", err)
	}
	entries, err = parseStations(bytes.NewReader(b))
	return entries, int64(len(b)) == sig.size, err
}

// refresh re-reads the file when it changed. A file that fails to parse
// keeps the stations last read (logged once per change of the file).
func (s *stationSet) refresh() {
	sig, err := statSig(s.path)
	if err != nil {
		s.log.Warn("stations file unreadable", "err", err)
		return
	}
	if sig == s.seen {
		return
	}
	entries, complete, err := s.read(sig)
	if !complete && err == nil {
		return // changing under us: read it on the next request
	}
	s.seen = sig
	if err != nil {
		s.log.Error("stations file refused; keeping the stations read before", "err", err)
		return
	}
	s.entries = entries
	s.log.Info("stations reloaded", "stations", len(entries))
}

// lookup returns the station whose token is token, comparing its SHA-256
// with every entry in constant time.
func (s *stationSet) lookup(token string) (string, bool) {
	sum := sha256.Sum256([]byte(token))
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refresh()
	found := ""
	for _, e := range s.entries {
		if subtle.ConstantTimeCompare(sum[:], e.sum[:]) == 1 {
			found = e.id
		}
	}
	return found, found != ""
}

func (s *stationSet) ids() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refresh()
	out := make([]string, len(s.entries))
	for i, e := range s.entries {
		out[i] = e.id
	}
	return out
}

func (s *stationSet) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries)
}

// AddStation appends station id to dir's stations file (creating the
// folder 0700 and the file 0600 when absent) and returns its new token,
// which is stored only as its SHA-256: print it once. It works while a
// server runs on dir; the server picks the line up at its next request.
// An invalid ID (wire.ValidStationID), an ID already present or a
// malformed stations file is refused.
func AddStation(dir, id string) (token string, err error) {
	if !wire.ValidStationID(id) {
		return "", fmt.Errorf("add station: %q is not a station ID (1-64 of A-Z a-z 0-9 . _ -, starting with a letter or digit)", id)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("add station: %w", err)
	}
	path := filepath.Join(dir, StationsFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return "", fmt.Errorf("add station: %w", err)
	}
	defer f.Close()
	// Two add-station commands at once would both pass the check below and
	// append the same ID: the lock makes them take turns.
	unlock, err := lockFile(f)
	if err != nil {
		return "", fmt.Errorf("add station: lock %s: %w", path, err)
	}
	defer unlock()
	b, err := io.ReadAll(io.LimitReader(f, maxStationsBytes+1))
	if err != nil {
		return "", fmt.Errorf("add station: %w", err)
	}
	entries, err := parseStations(bytes.NewReader(b))
	if err != nil {
		return "", fmt.Errorf("add station: %w", err)
	}
	for _, e := range entries {
		if e.id == id {
			return "", fmt.Errorf("add station: %s is already in %s", id, path)
		}
	}
	token, err = newToken()
	if err != nil {
		return "", fmt.Errorf("add station: %w", err)
	}
	sum := sha256.Sum256([]byte(token))
	line := id + " " + hex.EncodeToString(sum[:]) + "\n"
	if len(b) > 0 && b[len(b)-1] != '\n' {
		line = "\n" + line
	}
	// One write: a server reading meanwhile sees the line whole or not yet.
	if _, err := f.WriteString(line); err != nil {
		return "", fmt.Errorf("add station: %w", err)
	}
	if err := f.Sync(); err != nil {
		return "", fmt.Errorf("add station: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return "", fmt.Errorf("add station: %w", err)
	}
	return token, nil
}

// TokenHash returns the SHA-256 of station id's token as the stations file
// holds it: the secret a station's USB bundle is encrypted with (package
// bundle). It is what `kioskd central import` opens bundles with.
func (s *Server) TokenHash(id string) ([sha256.Size]byte, bool) {
	s.stations.mu.Lock()
	defer s.stations.mu.Unlock()
	s.stations.refresh()
	for _, e := range s.stations.entries {
		if e.id == id {
			return e.sum, true
		}
	}
	return [sha256.Size]byte{}, false
}
