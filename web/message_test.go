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
		{"capture", false, `{"type":"capture"}`, web.ClientMessage{Type: "capture"}, 0},
		{"calibrate", false, `{"type":"calibrate"}`, web.ClientMessage{Type: "calibrate"}, 0},
		{"accept", false, `{"type":"accept","id":12}`, web.ClientMessage{Type: "accept", Capture: 12}, 0},
		{"retake", false, `{"id":1,"type":"retake"}`, web.ClientMessage{Type: "retake", Capture: 1}, 0},
		{"sign_in", false, `{"type":"sign_in","id":"op01","pin":"246810"}`, web.ClientMessage{Type: "sign_in", Operator: "op01", PIN: "246810"}, 0},
		{"sign_out", false, `{"type":"sign_out"}`, web.ClientMessage{Type: "sign_out"}, 0},
		{"identify by ID", false, `{"type":"identify","name":"张三","id_number":"330106200403150019"}`, web.ClientMessage{Type: "identify", IDNumber: "330106200403150019", Name: "张三"}, 0},
		{"identify by code", false, `{"type":"identify","code":"QR8K2M7Q1"}`, web.ClientMessage{Type: "identify", Code: "QR8K2M7Q1"}, 0},
		{"identify, control characters pass the parser", false, `{"type":"identify","code":"a\u0000"}`, web.ClientMessage{Type: "identify", Code: "a\x00"}, 0},
		{"consent", false, `{"type":"consent","version":"v1"}`, web.ClientMessage{Type: "consent", Version: "v1"}, 0},
		{"pay", false, `{"type":"pay","method":"qr","receipt":"R-1"}`, web.ClientMessage{Type: "pay", Method: "qr", Receipt: "R-1"}, 0},
		{"pay without receipt", false, `{"type":"pay","method":"cash"}`, web.ClientMessage{Type: "pay", Method: "cash"}, 0},
		{"frame", false, `{"type":"frame"}`, web.ClientMessage{Type: "frame"}, 0},
		{"cancel", false, `{"type":"cancel"}`, web.ClientMessage{Type: "cancel"}, 0},
		{"sign_in without pin", false, `{"type":"sign_in","id":"op01"}`, web.ClientMessage{}, websocket.ClosePolicyViolation},
		{"sign_in pin number", false, `{"type":"sign_in","id":"op01","pin":123456}`, web.ClientMessage{}, websocket.ClosePolicyViolation},
		{"identify both forms", false, `{"type":"identify","code":"Q","id_number":"1","name":"n"}`, web.ClientMessage{}, websocket.ClosePolicyViolation},
		{"identify name only", false, `{"type":"identify","name":"n"}`, web.ClientMessage{}, websocket.ClosePolicyViolation},
		{"identify code null", false, `{"type":"identify","code":null}`, web.ClientMessage{}, websocket.ClosePolicyViolation},
		{"consent without version", false, `{"type":"consent"}`, web.ClientMessage{}, websocket.ClosePolicyViolation},
		{"pay method array", false, `{"type":"pay","method":["cash"]}`, web.ClientMessage{}, websocket.ClosePolicyViolation},
		{"pay without method", false, `{"type":"pay","receipt":"R"}`, web.ClientMessage{}, websocket.ClosePolicyViolation},
		{"frame with a field", false, `{"type":"frame","seq":1}`, web.ClientMessage{}, websocket.ClosePolicyViolation},
		{"cancel with a field", false, `{"type":"cancel","id":1}`, web.ClientMessage{}, websocket.ClosePolicyViolation},
		{"sign_out with a field", false, `{"type":"sign_out","id":"op01"}`, web.ClientMessage{}, websocket.ClosePolicyViolation},
		{"accept, largest id", false, `{"type":"accept","id":9007199254740991}`, web.ClientMessage{Type: "accept", Capture: web.MaxCaptureID}, 0},

		{"binary", true, `{"type":"ping","id":1}`, web.ClientMessage{}, websocket.CloseUnsupportedData},
		{"bad UTF-8", false, "{\"type\":\"hello\",\"lang\":\"\xff\"}", web.ClientMessage{}, websocket.CloseInvalidFramePayloadData},
		{"too big", false, `{"type":"ping","id":1,"pad":"` + strings.Repeat("a", web.MaxClientMessage) + `"}`, web.ClientMessage{}, websocket.CloseMessageTooBig},
		{"empty", false, ``, web.ClientMessage{}, websocket.ClosePolicyViolation},
		{"not JSON", false, `ping`, web.ClientMessage{}, websocket.ClosePolicyViolation},
		{"array", false, `[{"type":"ping","id":1}]`, web.ClientMessage{}, websocket.ClosePolicyViolation},
		{"null", false, `null`, web.ClientMessage{}, websocket.ClosePolicyViolation},
		{"string", false, `"ping"`, web.ClientMessage{}, websocket.ClosePolicyViolation},
		{"no type", false, `{"id":1}`, web.ClientMessage{}, websocket.ClosePolicyViolation},
		{"unknown type", false, `{"type":"delete"}`, web.ClientMessage{}, websocket.ClosePolicyViolation},
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
		{"capture with a field", false, `{"type":"capture","id":1}`, web.ClientMessage{}, websocket.ClosePolicyViolation},
		{"capture with auto", false, `{"type":"capture","auto":true}`, web.ClientMessage{}, websocket.ClosePolicyViolation},
		{"calibrate with a field", false, `{"type":"calibrate","force":true}`, web.ClientMessage{}, websocket.ClosePolicyViolation},
		{"capture, trailing", false, `{"type":"capture"}[]`, web.ClientMessage{}, websocket.ClosePolicyViolation},
		{"accept without id", false, `{"type":"accept"}`, web.ClientMessage{}, websocket.ClosePolicyViolation},
		{"accept id null", false, `{"type":"accept","id":null}`, web.ClientMessage{}, websocket.ClosePolicyViolation},
		{"accept id zero", false, `{"type":"accept","id":0}`, web.ClientMessage{}, websocket.ClosePolicyViolation},
		{"accept id negative", false, `{"type":"accept","id":-3}`, web.ClientMessage{}, websocket.ClosePolicyViolation},
		{"accept id fraction", false, `{"type":"accept","id":2.5}`, web.ClientMessage{}, websocket.ClosePolicyViolation},
		{"accept id exponent", false, `{"type":"accept","id":1e3}`, web.ClientMessage{}, websocket.ClosePolicyViolation},
		{"accept id string", false, `{"type":"accept","id":"12"}`, web.ClientMessage{}, websocket.ClosePolicyViolation},
		{"accept id bool", false, `{"type":"accept","id":true}`, web.ClientMessage{}, websocket.ClosePolicyViolation},
		{"accept id object", false, `{"type":"accept","id":{"n":1}}`, web.ClientMessage{}, websocket.ClosePolicyViolation},
		{"accept id above 2^53-1", false, `{"type":"accept","id":9007199254740992}`, web.ClientMessage{}, websocket.ClosePolicyViolation},
		{"retake id above uint64", false, `{"type":"retake","id":18446744073709551616}`, web.ClientMessage{}, websocket.ClosePolicyViolation},
		{"retake id huge", false, `{"type":"retake","id":` + strings.Repeat("9", 400) + `}`, web.ClientMessage{}, websocket.ClosePolicyViolation},
		{"retake with lang", false, `{"type":"retake","id":1,"lang":"en"}`, web.ClientMessage{}, websocket.ClosePolicyViolation},
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
	f.Add(false, []byte(`{"type":"capture"}`))
	f.Add(false, []byte(`{"type":"calibrate"}`))
	f.Add(false, []byte(`{"type":"accept","id":3}`))
	f.Add(false, []byte(`{"type":"retake","id":9007199254740991}`))
	f.Add(false, []byte(`{"type":"sign_in","id":"op01","pin":"246810"}`))
	f.Add(false, []byte(`{"type":"identify","id_number":"330106200403150019","name":"张三"}`))
	f.Add(false, []byte(`{"type":"identify","code":"QR8K2M7Q1"}`))
	f.Add(false, []byte(`{"type":"consent","version":"v1"}`))
	f.Add(false, []byte(`{"type":"pay","method":"cash","receipt":""}`))
	f.Add(false, []byte(`{"type":"frame"}`))
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
			if m.Lang != "" || m.Capture != 0 {
				t.Fatalf("ping with other fields: %+v", m)
			}
		case "hello":
			if m.Lang != "zh-CN" && m.Lang != "en" || m.Capture != 0 {
				t.Fatalf("hello with language %q, capture %d", m.Lang, m.Capture)
			}
		case "capture", "calibrate":
			if m != (web.ClientMessage{Type: m.Type}) {
				t.Fatalf("%s with fields: %+v", m.Type, m)
			}
		case "accept", "retake":
			if m.Capture == 0 || m.Capture > web.MaxCaptureID || m.Lang != "" || m.ID != 0 {
				t.Fatalf("%s with capture %d: %+v", m.Type, m.Capture, m)
			}
		case "sign_out", "frame", "cancel":
			if m != (web.ClientMessage{Type: m.Type}) {
				t.Fatalf("%s with fields: %+v", m.Type, m)
			}
		case "sign_in", "identify", "consent", "pay":
			if m.Lang != "" || m.Capture != 0 || m.ID != 0 {
				t.Fatalf("%s with fields of other types: %+v", m.Type, m)
			}
			if m.Type == "identify" && m.Code != "" && (m.IDNumber != "" || m.Name != "") {
				t.Fatalf("identify by code and by ID number at once: %+v", m)
			}
			if !strings.Contains(string(data), m.Type) {
				t.Fatalf("accepted %q as %s", data, m.Type)
			}
		case "retry_record":
			if m != (web.ClientMessage{Type: m.Type, Record: m.Record}) {
				t.Fatalf("retry_record with fields of other types: %+v", m)
			}
		default:
			t.Fatalf("accepted unknown type %q", m.Type)
		}
	})
}
