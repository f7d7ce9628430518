package wire_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"kioskd/sync/wire"
)

func validManifest() wire.Manifest {
	return wire.Manifest{
		Schema:     wire.ManifestSchema,
		RecordID:   "0190d6a4-5b1e-7c3a-9f00-1a2b3c4d5e6f",
		StationID:  "lib-1",
		CapturedAt: time.Date(2026, 6, 1, 1, 30, 12, 345e6, time.UTC),
		Operator:   "op07",
		Student:    wire.Student{IDNumber: "11010519491231002X", Name: "张三"},
		Spec:       "chsi-graduation",
		Background: "replace",
		Fee:        wire.Fee{Yuan: 20, Method: "wechat"},
		Consent:    wire.Consent{Version: "2026-05", At: time.Date(2026, 6, 1, 1, 29, 0, 0, time.UTC)},
		Report:     json.RawMessage(`{"ok":true,"quality":82}`),
		Photo:      wire.Blob{SHA256: strings.Repeat("a", 64), Size: 35812},
		Original:   wire.Blob{SHA256: strings.Repeat("b", 64), Size: 2 << 20},
	}
}

func TestManifestRoundTripKeepsHash(t *testing.T) {
	m := validManifest()
	b, err := m.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	sum, _ := m.SHA256()
	// Whitespace in the body must not change the identity central computes.
	var indented bytes.Buffer
	if err := json.Indent(&indented, b, "", "  "); err != nil {
		t.Fatal(err)
	}
	got, err := wire.DecodeManifest(&indented)
	if err != nil {
		t.Fatalf("DecodeManifest(indented canonical) = %v", err)
	}
	gotSum, _ := got.SHA256()
	if gotSum != sum {
		t.Errorf("hash after a round trip = %s; want %s", gotSum, sum)
	}
	other := m
	other.Fee.Yuan = 0
	if s, _ := other.SHA256(); s == sum {
		t.Error("a different fee gave the same manifest hash")
	}
}

func TestDecodeManifestRefuses(t *testing.T) {
	good, _ := json.Marshal(validManifest())
	mutate := func(f func(m map[string]any)) string {
		var m map[string]any
		_ = json.Unmarshal(good, &m)
		f(m)
		b, _ := json.Marshal(m)
		return string(b)
	}
	cases := map[string]string{
		"empty":          ``,
		"not an object":  `[1,2]`,
		"trailing":       string(good) + `{}`,
		"unknown field":  mutate(func(m map[string]any) { m["extra"] = 1 }),
		"schema 2":       mutate(func(m map[string]any) { m["schema"] = 2 }),
		"uuid v4":        mutate(func(m map[string]any) { m["record_id"] = "0190d6a4-5b1e-4c3a-9f00-1a2b3c4d5e6f" }),
		"upper-case id":  mutate(func(m map[string]any) { m["record_id"] = "0190D6A4-5B1E-7C3A-9F00-1A2B3C4D5E6F" }),
		"station slash":  mutate(func(m map[string]any) { m["station_id"] = "../etc" }),
		"no captured_at": mutate(func(m map[string]any) { delete(m, "captured_at") }),
		"no id number":   mutate(func(m map[string]any) { m["student"] = map[string]any{"name": "x"} }),
		"no spec":        mutate(func(m map[string]any) { m["spec"] = "" }),
		"short sha":      mutate(func(m map[string]any) { m["photo"] = map[string]any{"sha256": "abc", "size": 1} }),
		"zero size":      mutate(func(m map[string]any) { m["original"] = map[string]any{"sha256": strings.Repeat("c", 64), "size": 0} }),
		"huge size": mutate(func(m map[string]any) {
			m["original"] = map[string]any{"sha256": strings.Repeat("c", 64), "size": 1 << 40}
		}),
		"self retake":  mutate(func(m map[string]any) { m["retake_of"] = m["record_id"] }),
		"invalid utf8": strings.Replace(string(good), "张三", "\xff\xfe", 1),
		"over limit":   `{"spec":"` + strings.Repeat("x", wire.MaxManifestBytes) + `"}`,
	}
	for name, body := range cases {
		_, err := wire.DecodeManifest(strings.NewReader(body))
		if !errors.Is(err, wire.ErrInvalid) {
			t.Errorf("%s: DecodeManifest = %v; want ErrInvalid", name, err)
		}
	}
}

func TestReceiptMatches(t *testing.T) {
	m := validManifest()
	sum, _ := m.SHA256()
	r := wire.Receipt{RecordID: m.RecordID, StationID: m.StationID, ServerSeq: 7,
		CommittedAt: time.Now(), ManifestSHA256: sum, ServerEpoch: "e"}
	if !r.Matches(&m, sum) {
		t.Fatal("the receipt of the manifest does not match it")
	}
	for name, f := range map[string]func(r *wire.Receipt){
		"other record":  func(r *wire.Receipt) { r.RecordID = "0190d6a4-5b1e-7c3a-9f00-1a2b3c4d5e70" },
		"other station": func(r *wire.Receipt) { r.StationID = "lib-2" },
		"other hash":    func(r *wire.Receipt) { r.ManifestSHA256 = strings.Repeat("0", 64) },
		"no seq":        func(r *wire.Receipt) { r.ServerSeq = 0 },
		"no time":       func(r *wire.Receipt) { r.CommittedAt = time.Time{} },
	} {
		bad := r
		f(&bad)
		if bad.Matches(&m, sum) {
			t.Errorf("%s: Matches = true; want false", name)
		}
	}
	back, err := wire.DecodeReceipt(strings.NewReader(r.String()))
	if err != nil || back.String() != r.String() {
		t.Errorf("DecodeReceipt(String()) = %v, %v; want the same receipt", back, err)
	}
}

func TestDecodePages(t *testing.T) {
	okRoster := `{"changes":[{"op":"upsert","student":{"id_number":"1","name":"a"}},{"op":"delete","student":{"id_number":"2"}}],"next":"e.2","more":false,"newer":1}`
	if p, err := wire.DecodeRosterPage(strings.NewReader(okRoster)); err != nil || len(p.Changes) != 2 {
		t.Errorf("DecodeRosterPage(valid, with an unknown field) = %v, %v", p, err)
	}
	for name, body := range map[string]string{
		"bad op":          `{"changes":[{"op":"drop","student":{"id_number":"1"}}],"next":"e.1"}`,
		"no id":           `{"changes":[{"op":"upsert","student":{}}],"next":"e.1"}`,
		"no next":         `{"changes":[]}`,
		"cursor space":    `{"changes":[],"next":"e 1"}`,
		"cursor too long": `{"changes":[],"next":"` + strings.Repeat("9", 129) + `"}`,
	} {
		if _, err := wire.DecodeRosterPage(strings.NewReader(body)); err == nil {
			t.Errorf("DecodeRosterPage(%s) succeeded", name)
		}
	}
	id := "0190d6a4-5b1e-7c3a-9f00-1a2b3c4d5e6f"
	rv := func(outcome, reason, receiptID string) string {
		return `{"reviews":[{"event_id":"e.1","record_id":"` + id + `","outcome":"` + outcome + `","reason":"` + reason +
			`","reviewed_at":"2026-06-01T00:00:00Z","receipt":{"record_id":"` + receiptID + `"}}],"next":"e.1"}`
	}
	if _, err := wire.DecodeReviewPage(strings.NewReader(rv("rejected", "背景", id))); err != nil {
		t.Errorf("DecodeReviewPage(valid) = %v", err)
	}
	for name, body := range map[string]string{
		"reject no reason": rv("rejected", "", id),
		"unknown outcome":  rv("maybe", "", id),
		"foreign receipt":  rv("approved", "", "0190d6a4-5b1e-7c3a-9f00-1a2b3c4d5e70"),
	} {
		if _, err := wire.DecodeReviewPage(strings.NewReader(body)); err == nil {
			t.Errorf("DecodeReviewPage(%s) succeeded", name)
		}
	}
}

func TestDecodeError(t *testing.T) {
	e := wire.DecodeError(strings.NewReader(`{"code":"missing_blobs","message":"m","missing":["a","b"]}`))
	if e.Code != wire.CodeMissingBlobs || len(e.Missing) != 2 {
		t.Errorf("DecodeError = %+v", e)
	}
	e = wire.DecodeError(strings.NewReader("<html>bad gateway\xff</html>"))
	if e.Code != "" || !strings.Contains(e.Message, "bad gateway") {
		t.Errorf("DecodeError(html) = %+v; want no code and the body's start", e)
	}
}

func TestDecodeHeartbeat(t *testing.T) {
	ok := `{"station_id":"lib-1","version":"v1","sent_at":"2026-06-01T00:00:00Z","queue":{"queued":3},"disk_free":1}`
	if _, err := wire.DecodeHeartbeat(strings.NewReader(ok)); err != nil {
		t.Fatalf("DecodeHeartbeat(valid) = %v", err)
	}
	for name, body := range map[string]string{
		"negative count": `{"station_id":"lib-1","queue":{"queued":-1}}`,
		"bad station":    `{"station_id":"a b"}`,
		"unknown field":  `{"station_id":"lib-1","ssn":"x"}`,
	} {
		if _, err := wire.DecodeHeartbeat(strings.NewReader(body)); err == nil {
			t.Errorf("DecodeHeartbeat(%s) succeeded", name)
		}
	}
}
