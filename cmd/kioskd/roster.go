package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode"

	"kioskd/kiosk/roster"
)

// operator is `kioskd operator ID NAME`: it reads the operator's PIN from
// standard input (one line) and prints the line for the operators file, so
// that the PIN itself is never stored.
//
//	read -rs PIN; echo "$PIN" | kioskd operator op01 王老师 >> /var/lib/kioskd/operators
func (m *Main) operator(ctx context.Context, args []string) error {
	fs := newFlagSet("operator", "kioskd operator ID NAME  (the PIN, 6 to 12 digits, on standard input)", m.Stderr, onlyTwins())
	if err := parseFlags(fs, args, envOnly(m.Getenv)); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return usageError{errors.New("operator: want ID and NAME (the PIN comes on standard input)")}
	}
	id, name := fs.Arg(0), fs.Arg(1)
	if id == "" || strings.ContainsFunc(id, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }) || len(id) > 32 {
		return usageError{fmt.Errorf("operator: ID %q: want up to 32 printable characters without spaces", id)}
	}
	if strings.TrimSpace(name) == "" || strings.ContainsFunc(name, func(r rune) bool { return !unicode.IsPrint(r) }) {
		return usageError{errors.New("operator: NAME must be printable and not empty")}
	}
	in := m.Stdin
	if in == nil {
		in = os.Stdin
	}
	sc := bufio.NewScanner(in)
	if !sc.Scan() {
		return usageError{errors.New("operator: no PIN on standard input")}
	}
	hash, err := roster.HashPIN(strings.TrimSpace(sc.Text()), 0)
	if err != nil {
		return usageError{fmt.Errorf("operator: %w", err)}
	}
	fmt.Fprintf(m.Stdout, "%s %s %s\n", id, hash, name)
	return nil
}

// rosterCommand is `kioskd roster import [-replace] FILE`: it imports a
// roster CSV into the station's roster (in the state folder). The station
// must not be running: it holds the roster open.
func (m *Main) rosterCommand(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "import" {
		return usageError{errors.New("roster: the only subcommand is 'kioskd roster import [-replace] FILE'")}
	}
	var stateDir string
	var replace bool
	fs := newFlagSet("roster import", "kioskd roster import [-replace] [-state-dir DIR] FILE", m.Stderr, onlyTwins("state-dir"))
	fs.StringVar(&stateDir, "state-dir", "", "the station's state folder (as for kioskd run)")
	fs.BoolVar(&replace, "replace", false, "the file is the whole roster: students missing from it are marked removed (never deleted)")
	if err := parseFlags(fs, args[1:], envOnly(m.Getenv, "state-dir")); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{errors.New("roster import: name one CSV file (docs/roster.md describes its columns)")}
	}
	if stateDir == "" {
		stateDir = defaultStateDir(m.Getenv)
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return fmt.Errorf("roster import: %w", err)
	}
	defer f.Close()
	if err := os.MkdirAll(stateDir, 0o750); err != nil {
		return fmt.Errorf("roster import: %w", err)
	}
	r, err := roster.Open(stateDir, roster.Options{})
	if errors.Is(err, roster.ErrLocked) {
		return fmt.Errorf("roster import: %w: stop kioskd first (systemctl stop kioskd), then import", err)
	}
	if err != nil {
		return fmt.Errorf("roster import: %w", err)
	}
	defer r.Close()
	mode := roster.Merge
	if replace {
		mode = roster.Replace
	}
	res, err := r.ImportCSV(f, mode)
	for _, e := range res.Errors {
		fmt.Fprintf(m.Stderr, "%s: %v\n", filepath.Base(fs.Arg(0)), e)
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(m.Stderr, "%s: warning: %v\n", filepath.Base(fs.Arg(0)), w)
	}
	if err != nil {
		return fmt.Errorf("roster import: %w", err)
	}
	fmt.Fprintf(m.Stdout, "导入完成 / imported (%s): %d added, %d updated, %d unchanged, %d removed; %d rows with errors\n",
		res.Encoding, res.Added, res.Updated, res.Unchanged, res.Removed, len(res.Errors))
	if len(res.Errors) > 0 {
		return exitError{code: 1, err: fmt.Errorf("roster import: %d rows were not imported (listed above)", len(res.Errors))}
	}
	return nil
}
