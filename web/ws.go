package web

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"kioskd/kiosk"
)

// closeGrace is how long the writer waits for the client to answer its close
// frame before dropping the TCP connection.
const closeGrace = time.Second

// errClientGone is the cancel cause when the reader saw the connection end.
var errClientGone = errors.New("client closed the connection")

// errSubscriptionClosed ends a writer whose event subscription was closed
// under it by anything but the hub's eviction; nothing does that today.
var errSubscriptionClosed = errors.New("event subscription closed")

// errShutdown is the close reason when the server stops.
var errShutdown = &protocolError{websocket.CloseGoingAway, "server shutting down"}

// serverMessage is a text message to a client.
type serverMessage struct {
	Type string    `json:"type"`
	Time time.Time `json:"time,omitzero"`
	ID   *uint32   `json:"id,omitempty"`
	// For, OK and Error are set on a result: the command it answers,
	// whether it succeeded, and why not.
	For   string     `json:"for,omitempty"`
	OK    *bool      `json:"ok,omitempty"`
	Error *errorData `json:"error,omitempty"`
	Data  any        `json:"data,omitempty"`
}

// helloData is the data of the first message on a connection.
type helloData struct {
	Version string       `json:"version"`
	Status  kiosk.Status `json:"status"`
	// Sessions says whether the station runs operator sessions (sign-in,
	// identify, consent, fee); without them the console frames and
	// captures without signing in.
	Sessions bool `json:"sessions"`
}

// frameData describes the binary frames that follow it.
type frameData struct {
	Seq      uint64 `json:"seq"`
	Width    int    `json:"width"`
	Height   int    `json:"height"`
	Rotation int    `json:"rotation"`
}

// queueData is the data of a "queue" message: the record queue (absent
// without one) and today's figures.
type queueData struct {
	Queue   *kiosk.QueueStatus `json:"queue,omitempty"`
	Figures kiosk.Figures      `json:"figures"`
}

// ackData acknowledges a client command.
type ackData struct {
	For  string `json:"for"`
	Lang string `json:"lang,omitempty"`
}

// handleWS upgrades the request and serves one preview client until it goes
// away, misbehaves, is too slow, or the server stops.
//
// Each connection has three goroutines: this handler is the only writer;
// a reader (gorilla allows one of each); and a frame fetcher that waits on
// Station.NextFrame when the writer asks for the next frame. The fetcher
// never touches the socket, so the camera never waits for a client: a slow
// client simply gets the newest frame whenever it is ready for one. While a
// capture or calibration this client asked for runs, a fourth goroutine
// (see startJob) waits for the station and hands the result to the writer.
func (s *Server) handleWS(w http.ResponseWriter, r *http.Request) {
	up := websocket.Upgrader{
		HandshakeTimeout:  s.writeTimeout(),
		EnableCompression: false, // JPEG does not compress; deflate costs CPU and memory
		// checkHost has already checked Origin; this repeats it in case the
		// handler is ever mounted without the middleware.
		CheckOrigin: s.originAllowed,
	}
	conn, err := up.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade has answered with an HTTP error
	}
	s.mu.Lock()
	if s.closing {
		// Upgraded while Run was shutting down, after its wait began.
		s.mu.Unlock()
		conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(errShutdown.Code, errShutdown.Reason),
			time.Now().Add(s.writeTimeout()))
		conn.Close()
		return
	}
	s.conns[conn] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, conn)
		s.mu.Unlock()
		s.wg.Done()
	}()

	c := &client{
		srv:     s,
		conn:    conn,
		replies: make(chan serverMessage, 8),
		want:    make(chan struct{}, 1),
		frames:  make(chan kiosk.Frame),
		job:     make(chan struct{}, 1),
	}
	log := s.logger.With("remote", r.RemoteAddr)
	log.Info("websocket connected")
	start := time.Now()
	cause := c.serve(r.Context())
	log.Info("websocket closed", "reason", cause.Error(), "frames", c.sent, "duration", time.Since(start).Round(time.Millisecond))
}

// client is one WebSocket connection.
type client struct {
	srv     *Server
	conn    *websocket.Conn
	replies chan serverMessage // reader -> writer: answers to commands
	want    chan struct{}      // writer -> fetcher: ready for the next frame
	frames  chan kiosk.Frame   // fetcher -> writer

	sent uint64 // frames written; writer only

	// job is a one-slot semaphore: at most one capture or calibration
	// started by this client runs at a time; jobs waits for it.
	job  chan struct{}
	jobs sync.WaitGroup
	base context.Context // the request's context: done when the server stops

	signIns throttle // this connection's failed sign-ins
}

// serve runs the connection and returns why it ended.
func (c *client) serve(parent context.Context) error {
	c.base = parent
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)

	var wg sync.WaitGroup
	wg.Add(2)
	readerDone := make(chan struct{})
	// The reader ends on any read error: the client left, sent something
	// malformed, or the connection was closed below.
	go func() {
		defer wg.Done()
		defer close(readerDone)
		cancel(c.read(ctx))
	}()
	// The fetcher ends when ctx is done.
	go func() {
		defer wg.Done()
		c.fetch(ctx)
	}()

	err := c.write(ctx)
	if err == nil {
		// ctx is done: the reader saw an error or a bad message, or the
		// server is stopping.
		err = context.Cause(ctx)
		if parent.Err() != nil {
			err = errShutdown
		}
	}
	cancel(err)
	var pe *protocolError
	if errors.As(err, &pe) {
		// For errTooBig gorilla has sent this already; then this fails.
		msg := websocket.FormatCloseMessage(pe.Code, pe.Reason)
		c.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(c.srv.writeTimeout()))
		// Give the client a moment to answer the close frame, which the
		// reader consumes, for a clean closing handshake.
		t := time.NewTimer(closeGrace)
		select {
		case <-readerDone:
			t.Stop()
			linger(c.conn.NetConn())
		case <-t.C:
		}
	}
	c.conn.Close()
	wg.Wait()
	c.jobs.Wait()
	return err
}

// startJob runs a capture or a calibration for this client in its own
// goroutine and reports whether it started; it does not when one this
// client started is still running. The job runs under c.base, the
// request's context, which ends when the server stops but not when this
// client leaves: the capture the operator asked for goes on, and its
// events reach every other console. The job's result is offered to the
// writer until ctx (the connection's) is done; serve waits for the job
// before it returns.
func (c *client) startJob(ctx context.Context, typ string) bool {
	select {
	case c.job <- struct{}{}:
	default:
		return false
	}
	c.jobs.Add(1)
	// The job ends when the station has answered; the station's capture
	// and calibration end on their own within seconds, or when c.base is
	// done.
	go func() {
		defer c.jobs.Done()
		reply := c.srv.runJob(c.base, typ)
		// Free the slot before answering: a client that reads the
		// station's event and asks again at once is not told busy.
		<-c.job
		select {
		case c.replies <- reply:
		case <-ctx.Done():
		}
	}()
	return true
}

// linger half-closes nc and discards what the client still sends, for at
// most closeGrace, so that closing does not reset the connection (the
// kernel sends RST when unread data is left) before the client has read
// the close frame. The reader must have stopped.
func linger(nc net.Conn) {
	if hc, ok := nc.(interface{ CloseWrite() error }); ok {
		hc.CloseWrite()
	}
	nc.SetReadDeadline(time.Now().Add(closeGrace))
	io.Copy(io.Discard, io.LimitReader(nc, 1<<20))
}

// read is the connection's only reader. It returns the reason reading
// stopped: a *protocolError for a bad message, otherwise errClientGone.
func (c *client) read(ctx context.Context) error {
	limit := c.srv.ReadLimit
	if limit <= 0 || limit > MaxClientMessage {
		limit = DefaultReadLimit
	}
	c.conn.SetReadLimit(limit)
	alive := 2 * c.srv.pingPeriod()
	c.conn.SetReadDeadline(time.Now().Add(alive))
	c.conn.SetPongHandler(func(string) error {
		return c.conn.SetReadDeadline(time.Now().Add(alive))
	})
	for {
		mt, data, err := c.conn.ReadMessage()
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				return errTooBig // gorilla has sent the close frame already
			}
			return errClientGone
		}
		c.conn.SetReadDeadline(time.Now().Add(alive))
		m, err := parseClientMessage(mt, data)
		if err != nil {
			return err
		}
		var reply serverMessage
		switch m.Type {
		case clientPing:
			reply = serverMessage{Type: serverPong, ID: &m.ID}
		case clientHello:
			reply = serverMessage{Type: serverAck, Data: ackData{For: clientHello, Lang: m.Lang}}
		case clientAccept, clientRetake:
			reply = c.srv.endReview(m.Type, m.Capture)
		case clientSignIn, clientSignOut, clientIdentify, clientConsent, clientPay, clientFrame, clientCancel:
			reply = c.srv.sessionStep(c, m)
		case clientRetryRecord:
			// The result, then (after a retry) the queue as it is now.
			var snap *serverMessage
			reply, snap = c.srv.retryRecord(m)
			if snap != nil {
				select {
				case c.replies <- reply:
				case <-ctx.Done():
					return context.Cause(ctx)
				}
				reply = *snap
			}
		case clientCapture, clientCalibrate:
			// These take up to a second or more: they run beside the
			// reader, which keeps answering pings and reading the close.
			if !c.startJob(ctx, m.Type) {
				reply = resultMessage(m.Type, nil, errorFor(kiosk.ErrCaptureBusy))
				break
			}
			continue
		}
		select {
		case c.replies <- reply:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

// fetch hands the writer the newest frame each time it asks for one.
func (c *client) fetch(ctx context.Context) {
	var last uint64
	for {
		select {
		case <-c.want:
		case <-ctx.Done():
			return
		}
		f, err := c.srv.st.NextFrame(ctx, last)
		if err != nil {
			return // ctx is done
		}
		select {
		case c.frames <- f:
			last = f.Seq
		case <-ctx.Done():
			return
		}
	}
}

// write is the connection's only writer. It returns nil when ctx is done,
// or the error of a failed write (a write past its deadline evicts a
// stuck client).
func (c *client) write(ctx context.Context) error {
	st := c.srv.st
	sub := st.Subscribe()
	defer func() { sub.Close() }()
	ping := time.NewTicker(c.srv.pingPeriod())
	defer ping.Stop()
	// The station publishes no event for the queue and today's figures:
	// the writer sends them on its own clock.
	figures := time.NewTicker(c.srv.queuePeriod())
	defer figures.Stop()

	if err := c.writeJSON(serverMessage{Type: serverHello, Time: time.Now(),
		Data: helloData{Version: c.srv.version, Status: st.Status(), Sessions: c.srv.sessionsConfigured()}}); err != nil {
		return err
	}
	c.want <- struct{}{}
	var meta frameData
	haveMeta := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case f := <-c.frames:
			if !haveMeta || f.Width != meta.Width || f.Height != meta.Height || f.Rotation != meta.Rotation {
				haveMeta = true
				meta = frameData{Seq: f.Seq, Width: f.Width, Height: f.Height, Rotation: f.Rotation}
				if err := c.writeJSON(serverMessage{Type: serverFrame, Data: meta}); err != nil {
					return err
				}
			}
			c.conn.SetWriteDeadline(time.Now().Add(c.srv.writeTimeout()))
			if err := c.conn.WriteMessage(websocket.BinaryMessage, f.JPEG); err != nil {
				return err
			}
			c.sent++
			if c.srv.frameWritten != nil {
				c.srv.frameWritten(f)
			}
			c.want <- struct{}{}
		case ev, ok := <-sub.Events():
			if err := c.event(&sub, ev, ok); err != nil {
				return err
			}
		case m := <-c.replies:
			// The station publishes a command's events before the command
			// returns, so the events already buffered include all of them:
			// they go first, and a console reads the capture's or the
			// session's new state before the result that follows from it.
			if err := c.pendingEvents(&sub); err != nil {
				return err
			}
			if err := c.writeJSON(m); err != nil {
				return err
			}
		case <-figures.C:
			snap := st.Status()
			if err := c.writeJSON(serverMessage{Type: serverQueue, Time: time.Now(),
				Data: queueData{Queue: snap.Queue, Figures: snap.Figures}}); err != nil {
				return err
			}
		case <-ping.C:
			if err := c.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.srv.writeTimeout())); err != nil {
				return err
			}
		}
	}
}

// event writes ev, read from *sub with ok. When the hub has closed *sub
// for falling behind, events were lost: event subscribes again and sends a
// status snapshot in their place.
func (c *client) event(sub **kiosk.Subscription, ev kiosk.Event, ok bool) error {
	if ok {
		return c.writeJSON(serverMessage{Type: ev.Type, Time: ev.Time, Data: ev.Data})
	}
	if !errors.Is((*sub).Err(), kiosk.ErrSlowSubscriber) {
		return errSubscriptionClosed // closed by us; cannot happen while write runs
	}
	st := c.srv.st
	*sub = st.Subscribe()
	return c.writeJSON(serverMessage{Type: serverStatus, Time: time.Now(), Data: st.Status()})
}

// pendingEvents writes the events *sub has buffered, without waiting for
// more.
func (c *client) pendingEvents(sub **kiosk.Subscription) error {
	for {
		select {
		case ev, ok := <-(*sub).Events():
			if err := c.event(sub, ev, ok); err != nil {
				return err
			}
			if !ok {
				return nil // a new subscription has nothing from before
			}
		default:
			return nil
		}
	}
}

func (c *client) writeJSON(m serverMessage) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	c.conn.SetWriteDeadline(time.Now().Add(c.srv.writeTimeout()))
	return c.conn.WriteMessage(websocket.TextMessage, b)
}

func (s *Server) writeTimeout() time.Duration {
	if s.WriteTimeout > 0 {
		return s.WriteTimeout
	}
	return DefaultWriteTimeout
}

func (s *Server) pingPeriod() time.Duration {
	if s.PingPeriod > 0 {
		return s.PingPeriod
	}
	return DefaultPingPeriod
}
