// Command kioskd runs the photo station of a graduation ID photo booth.
//
//	kioskd [run]    the station daemon (the default)
//	kioskd check    analyse still frames as the live loop would (JSON lines)
//	kioskd standardize  make the spec's photo from frames, with its proof
//	kioskd devices  list the V4L2 cameras with their formats, sizes and rates
//	kioskd version  print the version
//
// Every flag has a KIOSK_* environment twin (-camera-size is
// KIOSK_CAMERA_SIZE); the command line wins. See the README for the table.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal, restore the default handling so that a second
	// one ends the process at once, even if the orderly shutdown hangs.
	go func() {
		<-ctx.Done()
		stop()
	}()

	m := NewMain()
	err := m.Run(ctx, os.Args[1:])
	stop()
	os.Exit(exitCode(m.Stderr, err))
}

// exitCode reports err and maps it to the process's exit code: 0 for
// success (and -h), 2 for a usage error, the code of an exitError, 1 for
// any other failure.
func exitCode(w io.Writer, err error) int {
	var ue usageError
	var ee exitError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ee):
		fmt.Fprintf(w, "kioskd: %v\n", err)
		return ee.code
	case errors.As(err, &ue):
		fmt.Fprintf(w, "kioskd: %v\n(run 'kioskd help' for the commands, 'kioskd COMMAND -h' for their flags)\n", err)
		return 2
	default:
		fmt.Fprintf(w, "kioskd: %v\n", err)
		return 1
	}
}

// Main is the program: it parses the command line and wires the parts
// together. It holds no logic of its own.
type Main struct {
	Stdout, Stderr io.Writer
	// Stdin is where `kioskd operator` reads the PIN; os.Stdin if nil.
	Stdin io.Reader
	// Getenv reads the KIOSK_* environment twins of the flags.
	Getenv func(string) string
	// Ready, if set, is called with the web server's address once it
	// accepts connections (tests listen on 127.0.0.1:0).
	Ready func(addr net.Addr)
}

// NewMain returns a Main bound to the process's standard streams and
// environment.
func NewMain() *Main {
	return &Main{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
}

// Run runs the command named by args[0] (run when there is none, or when
// args starts with a flag) until it finishes or ctx is cancelled.
func (m *Main) Run(ctx context.Context, args []string) error {
	cmd, rest := "run", args
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, rest = args[0], args[1:]
	}
	switch cmd {
	case "run":
		return m.runStation(ctx, rest)
	case "demo":
		return m.demo(ctx, rest)
	case "central":
		return m.centralCommand(ctx, rest)
	case "export":
		return m.export(ctx, rest)
	case "check":
		return m.check(ctx, rest)
	case "standardize":
		return m.standardize(ctx, rest)
	case "devices":
		return m.devices(ctx, rest)
	case "operator":
		return m.operator(ctx, rest)
	case "roster":
		return m.rosterCommand(ctx, rest)
	case "doctor":
		return m.doctor(ctx, rest)
	case "version":
		fmt.Fprintln(m.Stdout, "kioskd", version())
		return nil
	case "help":
		if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") && rest[0] != "help" {
			// 'kioskd help COMMAND' is 'kioskd COMMAND -h'.
			return m.Run(ctx, []string{rest[0], "-h"})
		}
		m.usage()
		return nil
	default:
		return usageError{fmt.Errorf("unknown command %q", cmd)}
	}
}

func (m *Main) usage() {
	fmt.Fprint(m.Stdout, `kioskd: the photo station of a graduation ID photo booth

usage: kioskd [COMMAND] [FLAGS]

commands:
  run       run the station (the default): camera, live preview at http://127.0.0.1:8080
  demo      the station and a central server on this machine, with a demo roster: try the whole flow
  central   run the reference central server; 'central add-station ID' makes a station's token,
            'central import DIR' takes a USB bundle from 'kioskd export'
  export    write the records central has not accepted to a USB bundle: 'kioskd export -to DIR'
  check     analyse photos as the live framing checks would: one JSON line per file
  standardize  turn frames into the spec's photo (480x640 JPEG, 300 dpi, 30-40 KB) with a JSON proof
  operator  print an operators-file line for ID NAME, the PIN read from standard input
  roster    'roster import [-replace] FILE': import the student roster CSV (stop kioskd first)
  devices   list the cameras (V4L2 devices) with their formats, sizes and frame rates
  doctor    check the camera, state folder, disk, clock and listen address with the run settings; exit 1 on a failure
  version   print the version
  help      print this text; 'help COMMAND' lists that command's flags

Every flag has a KIOSK_* environment twin: -camera-size is KIOSK_CAMERA_SIZE.
'kioskd COMMAND -h' lists a command's flags.
`)
}

// version is the main module's version from the build info, with the VCS
// revision when the binary was built from a checkout.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
	}
	return v
}
