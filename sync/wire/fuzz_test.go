package wire_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"kioskd/sync/wire"
)

// FuzzDecodeManifest: any bytes give a checked manifest or an error, and a
// manifest that decodes keeps its hash through its own canonical form.
func FuzzDecodeManifest(f *testing.F) {
	good, _ := json.Marshal(validManifest())
	f.Add(good)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"schema":1,"record_id":"x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := wire.DecodeManifest(bytes.NewReader(b))
		if err != nil {
			return
		}
		canon, err := m.Canonical()
		if err != nil {
			t.Fatalf("Canonical of a decoded manifest: %v", err)
		}
		again, err := wire.DecodeManifest(bytes.NewReader(canon))
		if err != nil {
			t.Fatalf("the canonical form of a decoded manifest does not decode: %v", err)
		}
		s1, _ := m.SHA256()
		s2, _ := again.SHA256()
		if s1 != s2 {
			t.Fatalf("hash changed through the canonical form: %s != %s", s1, s2)
		}
	})
}

// FuzzDecodePages covers every decoder a station applies to central's answers.
func FuzzDecodePages(f *testing.F) {
	f.Add([]byte(`{"changes":[{"op":"upsert","student":{"id_number":"1"}}],"next":"e.1","more":true}`))
	f.Add([]byte(`{"reviews":[{"event_id":"e.1","record_id":"0190d6a4-5b1e-7c3a-9f00-1a2b3c4d5e6f","outcome":"approved","receipt":{"record_id":"0190d6a4-5b1e-7c3a-9f00-1a2b3c4d5e6f"}}],"next":"e.1"}`))
	f.Add([]byte(`{"protocol":1,"station_id":"a","server_epoch":"e"}`))
	f.Add([]byte(`{"code":"x","message":"y"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if p, err := wire.DecodeRosterPage(bytes.NewReader(b)); err == nil {
			if p.Next == "" || len(p.Changes) > wire.MaxRosterPage {
				t.Fatalf("accepted roster page %+v", p)
			}
		}
		if p, err := wire.DecodeReviewPage(bytes.NewReader(b)); err == nil {
			for _, r := range p.Reviews {
				if !wire.ValidRecordID(r.RecordID) || r.Receipt.RecordID != r.RecordID {
					t.Fatalf("accepted review %+v", r)
				}
			}
		}
		_, _ = wire.DecodeHello(bytes.NewReader(b))
		_, _ = wire.DecodeReceipt(bytes.NewReader(b))
		_, _ = wire.DecodeHeartbeat(bytes.NewReader(b))
		_, _ = wire.DecodeReviewRequest(bytes.NewReader(b))
		_ = wire.DecodeError(bytes.NewReader(b))
	})
}
