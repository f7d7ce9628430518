package web_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"kioskd/web"
)

func TestParseClientMessage(t *testing.T) {
	tests := []struct {
		name   string
		binary bool
		in     string
		want   web.ClientMessage
		code   int // close code when refused; 0 when accepted
	}{
		{"ping", false, `{"type":"ping","id":7}`, web.ClientMessage{Type: "ping", ID: 7}, 0},
		{"ping, spaces", false, " {\n\"id\": 4294967295, \"type\": \"ping\" }\n", web.ClientMessage{Type: "ping", ID: 4294967295}, 0},
		{"hello zh", false, `{"type":"hello","lang":"zh-CN"}`, web.ClientMessage{Type: "hello", Lang: "zh-CN"}, 0},
		{"hello en", false, `{"type":"hello","lang":"en"}`, web.ClientMessage{Type: "hello", Lang: "en"}, 0},

		{"binary", true, `{"type":"ping","id":1}`, web.ClientMessage{}, websocket.CloseUnsupportedData},
		{"bad UTF-8", false, "{\"type\":\"hello\",\"lang\":\"\xff\"}", web.ClientMessage{}, websocket.CloseInvalidFramePayloadData},
		{"too big", false, `{"type":"ping","id":1,"pad":"` + strings.Repeat("a", web.MaxClientMessage) + `"}`, web.ClientMessage{}, websocket.CloseMessageTooBig},
		{"empty", false, ``, web.ClientMessage{}, websocket.ClosePolicyViolation},
		{"not JSON", false, `ping`, web.ClientMessage{}, websocket.ClosePolicyViolation},
		{"array", false, `[{"type":"ping","id":1}]`, web.ClientMessage{}, websocket.ClosePolicyViolation},
		{"null", false, `null`, web.ClientMessage{}, websocket.ClosePolicyViolation},
		{"string", false, `"ping"`, web.ClientMessage{}, websocket.ClosePolicyViolation},
		{"no type", false, `{"id":1}`, web.ClientMessage{}, websocket.ClosePolicyViolation},
		{"unknown type", false, `{"type":"capture"}`, web.ClientMessage{}, websocket.ClosePolicyViolation},
		{"type not a string", false, `{"type":1}`, web.ClientMessage{}, websocket.ClosePolicyViolation},
		{"type case", false, `{"type":"PING","id":1}`, web.ClientMessage{}, websocket.ClosePolicyViolation},
		{"unknown field", false, `{"type":"ping","id":1,"x":2}`, web.ClientMessage{}, websocket.ClosePolicyViolation},
		{"field of another type", false, `{"type":"ping","id":1,"lang":"en"}`, web.ClientMessage{}, websocket.ClosePolicyViolation},
		{"ping without id", false, `{"type":"ping"}`, web.ClientMessage{}, websocket.ClosePolicyViolation},
		{"ping id null", false, `{"type":"ping","id":null}`, web.ClientMessage{}, websocket.ClosePolicyViolation},
		{"ping id negative", false, `{"type":"ping","id":-1}`, web.ClientMessage{}, websocket.ClosePolicyViolation},
		{"ping id fraction", false, `{"type":"ping","id":1.5}`, web.ClientMessage{}, websocket.ClosePolicyViolation},
		{"ping id too big", false, `{"type":"ping","id":4294967296}`, web.ClientMessage{}, websocket.ClosePolicyViolation},
		{"ping id string", false, `{"type":"ping","id":"1"}`, web.ClientMessage{}, websocket.ClosePolicyViolation},
		{"nested junk", false, `{"type":"ping","id":{"a":[[[{"b":[]}]]]}}`, web.ClientMessage{}, websocket.ClosePolicyViolation},
		{"deep nesting", false, strings.Repeat("[", 2000) + strings.Repeat("]", 2000), web.ClientMessage{}, websocket.ClosePolicyViolation},
		{"trailing object", false, `{"type":"ping","id":1}{"type":"ping","id":2}`, web.ClientMessage{}, websocket.ClosePolicyViolation},
		{"trailing junk", false, `{"type":"ping","id":1} x`, web.ClientMessage{}, websocket.ClosePolicyViolation},
		{"truncated", false, `{"type":"ping","id":1`, web.ClientMessage{}, websocket.ClosePolicyViolation},
		{"unsupported language", false, `{"type":"hello","lang":"fr"}`, web.ClientMessage{}, websocket.ClosePolicyViolation},
		{"hello without language", false, `{"type":"hello"}`, web.ClientMessage{}, websocket.ClosePolicyViolation},
	}
	for _, tt := range tests {
		mt := websocket.TextMessage
		if tt.binary {
			mt = websocket.BinaryMessage
		}
		got, err := web.ParseClientMessage(mt, []byte(tt.in))
		if tt.code == 0 {
			if err != nil || got != tt.want {
				t.Errorf("ParseClientMessage(%s) = %+v, %v; want %+v, nil", tt.name, got, err, tt.want)
			}
			continue
		}
		code, ok := web.CloseCode(err)
		if !ok || code != tt.code {
			t.Errorf("ParseClientMessage(%s) = %+v, %v; want close code %d", tt.name, got, err, tt.code)
		}
		if got != (web.ClientMessage{}) {
			t.Errorf("ParseClientMessage(%s) returned %+v with its error; want the zero message", tt.name, got)
		}
	}
}

// FuzzParseClientMessage checks that the parser never panics, refuses with a
// close code whose reason fits a close frame, and accepts only what the
// protocol allows.
func FuzzParseClientMessage(f *testing.F) {
	f.Add(false, []byte(`{"type":"ping","id":1}`))
	f.Add(false, []byte(`{"type":"hello","lang":"en"}`))
	f.Add(true, []byte(`{"type":"ping","id":1}`))
	f.Fuzz(func(t *testing.T, binary bool, data []byte) {
		mt := websocket.TextMessage
		if binary {
			mt = websocket.BinaryMessage
		}
		m, err := web.ParseClientMessage(mt, data)
		if err != nil {
			code, ok := web.CloseCode(err)
			if !ok {
				t.Fatalf("error %v carries no close code", err)
			}
			switch code {
			case websocket.CloseUnsupportedData, websocket.CloseInvalidFramePayloadData,
				websocket.ClosePolicyViolation, websocket.CloseMessageTooBig:
			default:
				t.Fatalf("close code %d is not one the protocol uses", code)
			}
			if len(err.Error()) > 200 {
				t.Fatalf("error text is %d bytes; the reason must stay short", len(err.Error()))
			}
			return
		}
		if binary || !utf8.Valid(data) || len(data) > web.MaxClientMessage {
			t.Fatalf("accepted %q (binary %v)", data, binary)
		}
		switch m.Type {
		case "ping":
			if m.Lang != "" {
				t.Fatalf("ping with a language: %+v", m)
			}
		case "hello":
			if m.Lang != "zh-CN" && m.Lang != "en" {
				t.Fatalf("hello with language %q", m.Lang)
			}
		default:
			t.Fatalf("accepted unknown type %q", m.Type)
		}
	})
}
