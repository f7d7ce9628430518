package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// MaxClientMessage is the largest message, in bytes, a client may send. The
// vocabulary is a handful of short JSON objects; anything bigger is abuse.
const MaxClientMessage = 4 << 10

// Client message types. A new command (a session step) is a new constant
// here, a struct below and a case in parseClientMessage.
const (
	clientPing      = "ping"
	clientHello     = "hello"
	clientCapture   = "capture"   // take a photo now and put it under review
	clientAccept    = "accept"    // {"id": N}: the photo under review is confirmed
	clientRetake    = "retake"    // {"id": N}: the photo under review is discarded
	clientCalibrate = "calibrate" // take the clean plate of the empty booth

	// The operator's session (see docs/ui-protocol.md, "The session").
	clientSignIn   = "sign_in"  // {"id": operator ID, "pin": PIN}
	clientSignOut  = "sign_out" // end the operator's shift
	clientIdentify = "identify" // {"id_number", "name"} or {"code"}
	clientConsent  = "consent"  // {"version"}: the student agreed
	clientPay      = "pay"      // {"method", "receipt"}
	clientFrame    = "frame"    // start the framing
	clientCancel   = "cancel"   // drop the student in progress

	// The queue panel.
	clientRetryRecord = "retry_record" // {"id": record ID}: queue a parked record again
)

// MaxCaptureID is the largest capture ID a client may name: the largest
// integer a JavaScript number holds exactly (2^53-1). The station numbers
// captures from 1.
const MaxCaptureID = 1<<53 - 1

// Server message types (text messages; binary messages are JPEG frames).
const (
	serverHello  = "hello"  // first message on every connection
	serverFrame  = "frame"  // describes the binary frames that follow it
	serverStatus = "status" // a snapshot, sent again after events were lost
	serverPong   = "pong"   // the answer to a ping
	serverAck    = "ack"    // a client command was accepted
	serverResult = "result" // the outcome of a command: capture, accept, retake, calibrate, a session step, retry_record
	serverQueue  = "queue"  // the record queue's counts and today's figures, every QueuePeriod
)

// UI languages a client may announce.
const (
	langZH = "zh-CN"
	langEN = "en"
)

// clientMessage is one parsed message from a browser. Type says which of the
// other fields carry meaning.
type clientMessage struct {
	Type    string
	ID      uint32 // ping: echoed in the pong
	Lang    string // hello: langZH or langEN
	Capture uint64 // accept, retake: the capture's ID, 1..MaxCaptureID

	// Session fields. The parser checks only that they are JSON strings;
	// their content (length, control characters) is checked by the
	// command, which answers bad_input.
	Operator string // sign_in
	PIN      string // sign_in
	IDNumber string // identify by ID number, with Name
	Name     string // identify by ID number
	Code     string // identify by collection code
	Version  string // consent
	Method   string // pay
	Receipt  string // pay (may be empty)
	Record   string // retry_record: the record's ID, checked like a session field
}

// protocolError is why a client message was refused. Code is the WebSocket
// close code the connection is closed with; Reason is the short text sent in
// the close frame (at most 123 bytes, no client data echoed back).
type protocolError struct {
	Code   int
	Reason string
}

func (e *protocolError) Error() string {
	return fmt.Sprintf("protocol error %d: %s", e.Code, e.Reason)
}

// Refusals, by the close code they lead to.
var (
	errBinaryMessage = &protocolError{websocket.CloseUnsupportedData, "binary messages are not accepted"}
	errTooBig        = &protocolError{websocket.CloseMessageTooBig, "message too big"}
	errBadUTF8       = &protocolError{websocket.CloseInvalidFramePayloadData, "invalid UTF-8"}
	errNotJSON       = &protocolError{websocket.ClosePolicyViolation, "not a JSON object"}
	errUnknownType   = &protocolError{websocket.ClosePolicyViolation, "unknown message type"}
	errBadFields     = &protocolError{websocket.ClosePolicyViolation, "bad or unknown fields"}
	errTrailingData  = &protocolError{websocket.ClosePolicyViolation, "trailing data after message"}
	errBadLang       = &protocolError{websocket.ClosePolicyViolation, "unsupported language"}
	errBadCaptureID  = &protocolError{websocket.ClosePolicyViolation, "bad capture id"}
	errMissingField  = &protocolError{websocket.ClosePolicyViolation, "missing field"}
)

// parseClientMessage checks and decodes one WebSocket message from a client.
// messageType is websocket.TextMessage or websocket.BinaryMessage. Every
// message is a single JSON object with a known "type" and exactly the fields
// of that type; anything else returns a *protocolError.
func parseClientMessage(messageType int, data []byte) (clientMessage, error) {
	if messageType != websocket.TextMessage {
		return clientMessage{}, errBinaryMessage
	}
	if len(data) > MaxClientMessage {
		return clientMessage{}, errTooBig
	}
	// encoding/json would silently replace invalid UTF-8 with U+FFFD.
	if !utf8.Valid(data) {
		return clientMessage{}, errBadUTF8
	}
	var head struct {
		Type string `json:"type"`
	}
	// A first, lenient pass finds the type; the strict pass below then
	// rejects unknown fields for that type.
	if err := json.Unmarshal(data, &head); err != nil {
		return clientMessage{}, errNotJSON
	}
	switch head.Type {
	case clientPing:
		var m struct {
			Type string  `json:"type"`
			ID   *uint32 `json:"id"`
		}
		if err := decodeStrict(data, &m); err != nil {
			return clientMessage{}, err
		}
		if m.ID == nil {
			return clientMessage{}, errBadFields
		}
		return clientMessage{Type: clientPing, ID: *m.ID}, nil
	case clientHello:
		var m struct {
			Type string `json:"type"`
			Lang string `json:"lang"`
		}
		if err := decodeStrict(data, &m); err != nil {
			return clientMessage{}, err
		}
		if m.Lang != langZH && m.Lang != langEN {
			return clientMessage{}, errBadLang
		}
		return clientMessage{Type: clientHello, Lang: m.Lang}, nil
	case clientCapture, clientCalibrate, clientSignOut, clientFrame, clientCancel:
		var m struct {
			Type string `json:"type"`
		}
		if err := decodeStrict(data, &m); err != nil {
			return clientMessage{}, err
		}
		return clientMessage{Type: head.Type}, nil
	case clientAccept, clientRetake:
		var m struct {
			Type string  `json:"type"`
			ID   *uint64 `json:"id"`
		}
		if err := decodeStrict(data, &m); err != nil {
			return clientMessage{}, err
		}
		if m.ID == nil || *m.ID == 0 || *m.ID > MaxCaptureID {
			return clientMessage{}, errBadCaptureID
		}
		return clientMessage{Type: head.Type, Capture: *m.ID}, nil
	case clientSignIn:
		var m struct {
			Type string  `json:"type"`
			ID   *string `json:"id"`
			PIN  *string `json:"pin"`
		}
		if err := decodeStrict(data, &m); err != nil {
			return clientMessage{}, err
		}
		if m.ID == nil || m.PIN == nil {
			return clientMessage{}, errMissingField
		}
		return clientMessage{Type: clientSignIn, Operator: *m.ID, PIN: *m.PIN}, nil
	case clientIdentify:
		var m struct {
			Type     string  `json:"type"`
			IDNumber *string `json:"id_number"`
			Name     *string `json:"name"`
			Code     *string `json:"code"`
		}
		if err := decodeStrict(data, &m); err != nil {
			return clientMessage{}, err
		}
		// Either the ID number and the name, or the code: never a mix.
		byID := m.IDNumber != nil && m.Name != nil && m.Code == nil
		byCode := m.Code != nil && m.IDNumber == nil && m.Name == nil
		switch {
		case byID:
			return clientMessage{Type: clientIdentify, IDNumber: *m.IDNumber, Name: *m.Name}, nil
		case byCode:
			return clientMessage{Type: clientIdentify, Code: *m.Code}, nil
		default:
			return clientMessage{}, errMissingField
		}
	case clientConsent:
		var m struct {
			Type    string  `json:"type"`
			Version *string `json:"version"`
		}
		if err := decodeStrict(data, &m); err != nil {
			return clientMessage{}, err
		}
		if m.Version == nil {
			return clientMessage{}, errMissingField
		}
		return clientMessage{Type: clientConsent, Version: *m.Version}, nil
	case clientPay:
		var m struct {
			Type    string  `json:"type"`
			Method  *string `json:"method"`
			Receipt *string `json:"receipt"`
		}
		if err := decodeStrict(data, &m); err != nil {
			return clientMessage{}, err
		}
		if m.Method == nil {
			return clientMessage{}, errMissingField
		}
		msg := clientMessage{Type: clientPay, Method: *m.Method}
		if m.Receipt != nil {
			msg.Receipt = *m.Receipt
		}
		return msg, nil
	case clientRetryRecord:
		var m struct {
			Type string  `json:"type"`
			ID   *string `json:"id"`
		}
		if err := decodeStrict(data, &m); err != nil {
			return clientMessage{}, err
		}
		if m.ID == nil {
			return clientMessage{}, errMissingField
		}
		return clientMessage{Type: clientRetryRecord, Record: *m.ID}, nil
	default:
		return clientMessage{}, errUnknownType
	}
}

// decodeStrict decodes exactly one JSON value from data into v, refusing
// fields v does not have and anything after the value.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errBadFields
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errTrailingData
	}
	return nil
}
