package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"
)

// SDNotifier tells systemd about the service's state through the sd_notify
// protocol: datagrams of newline-separated VAR=VALUE lines sent to the unix
// socket named by $NOTIFY_SOCKET (a path, or an abstract name starting with
// '@'). kioskd.service is Type=notify with WatchdogSec=, so kioskd sends
// READY=1 once the camera, the store and the listener are up, STOPPING=1 when
// it begins to shut down, and WATCHDOG=1 pings from RunWatchdog.
//
// Outside systemd ($NOTIFY_SOCKET unset) every method is a no-op that
// returns nil, so main can call them unconditionally.
type SDNotifier struct {
	socket   string        // $NOTIFY_SOCKET; "" when not run by systemd
	watchdog time.Duration // $WATCHDOG_USEC; 0 when the watchdog is off

	// Healthy, if set, is asked before every watchdog ping: while it returns
	// an error no ping is sent, so systemd restarts a daemon that is alive but
	// stuck. Set before RunWatchdog.
	Healthy func() error
	// Logger receives the watchdog's state changes. Set before RunWatchdog;
	// nil discards them.
	Logger *slog.Logger
}

// NewSDNotifier reads $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID
// through getenv. pid is this process's id (os.Getpid()): the watchdog is
// only on when $WATCHDOG_PID is unset or names this process, as in
// sd_watchdog_enabled(3). An invalid $WATCHDOG_USEC leaves the watchdog off.
func NewSDNotifier(getenv func(string) string, pid int) *SDNotifier {
	n := &SDNotifier{socket: getenv("NOTIFY_SOCKET")}
	if n.socket == "" {
		return n
	}
	usec, err := strconv.ParseUint(getenv("WATCHDOG_USEC"), 10, 63)
	if err != nil || usec == 0 || usec > uint64(1<<63-1)/uint64(time.Microsecond) {
		return n
	}
	if p := getenv("WATCHDOG_PID"); p != "" && p != strconv.Itoa(pid) {
		return n
	}
	n.watchdog = time.Duration(usec) * time.Microsecond
	return n
}

// Enabled reports whether kioskd runs under systemd with a notify socket.
func (n *SDNotifier) Enabled() bool { return n.socket != "" }

// WatchdogTimeout is systemd's watchdog timeout (WatchdogSec=), or 0 when the
// watchdog is off. RunWatchdog pings twice per timeout.
func (n *SDNotifier) WatchdogTimeout() time.Duration { return n.watchdog }

// Notify sends the given VAR=VALUE assignments as one datagram. It is a
// no-op without a notify socket.
func (n *SDNotifier) Notify(assignments ...string) error {
	if n.socket == "" || len(assignments) == 0 {
		return nil
	}
	for _, a := range assignments {
		if !strings.Contains(a, "=") || strings.ContainsRune(a, '\n') {
			return fmt.Errorf("sd_notify: %q is not one VAR=VALUE line", a)
		}
	}
	if !strings.HasPrefix(n.socket, "/") && !strings.HasPrefix(n.socket, "@") {
		return fmt.Errorf("sd_notify: NOTIFY_SOCKET=%q: want an absolute path or an @abstract name", n.socket)
	}
	// Go's net package maps a leading '@' to the abstract namespace.
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: n.socket, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("sd_notify: connect %s: %w", n.socket, err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(strings.Join(assignments, "\n") + "\n")); err != nil {
		return fmt.Errorf("sd_notify: send to %s: %w", n.socket, err)
	}
	return nil
}

// Ready tells systemd that start-up is complete (READY=1), with a status
// line for `systemctl status`. Before it, systemd holds back units ordered
// after kioskd and fails the start after TimeoutStartSec=.
func (n *SDNotifier) Ready(status string) error {
	return n.Notify(withStatus("READY=1", status)...)
}

// Stopping tells systemd that an orderly shutdown has begun (STOPPING=1),
// with a status line.
func (n *SDNotifier) Stopping(status string) error {
	return n.Notify(withStatus("STOPPING=1", status)...)
}

// Status sets the one-line status `systemctl status kioskd` shows. It must
// hold no personal data: it ends up in the journal.
func (n *SDNotifier) Status(status string) error {
	return n.Notify(statusLine(status))
}

// statusLine is STATUS=status with line breaks flattened.
func statusLine(status string) string {
	return "STATUS=" + strings.Join(strings.Fields(status), " ")
}

// withStatus is state, followed by a status line when status is not empty.
func withStatus(state, status string) []string {
	if strings.TrimSpace(status) == "" {
		return []string{state}
	}
	return []string{state, statusLine(status)}
}

// RunWatchdog sends WATCHDOG=1 every half of the watchdog timeout until ctx
// is cancelled, skipping pings while Healthy fails. It returns nil at once
// when the watchdog is off, and nil on cancellation: a failed ping is logged,
// not returned, since systemd restarting kioskd is the remedy either way.
func (n *SDNotifier) RunWatchdog(ctx context.Context) error {
	if n.socket == "" || n.watchdog <= 0 {
		return nil
	}
	logger := n.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	interval := n.watchdog / 2
	t := time.NewTicker(interval)
	defer t.Stop()
	var withheld, failing bool
	for {
		if err := n.ping(); err != nil {
			var unhealthy unhealthyError
			switch {
			case errors.As(err, &unhealthy):
				if !withheld {
					logger.Warn("watchdog ping withheld: station unhealthy", "reason", unhealthy.err.Error())
					withheld = true
				}
			case !failing:
				logger.Warn("watchdog ping failed", "err", err)
				failing = true
			}
		} else if withheld || failing {
			logger.Info("watchdog pings recovered")
			withheld, failing = false, false
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// unhealthyError is Healthy's error, to tell it apart from a send failure.
type unhealthyError struct{ err error }

func (e unhealthyError) Error() string { return "unhealthy: " + e.err.Error() }

func (n *SDNotifier) ping() error {
	if n.Healthy != nil {
		if err := n.Healthy(); err != nil {
			return unhealthyError{err}
		}
	}
	return n.Notify("WATCHDOG=1")
}
