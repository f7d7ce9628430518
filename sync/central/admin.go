package central

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"kioskd/kiosk/queue"
	"kioskd/sync/wire"
)

// pageRecords is how many of the newest records the admin page lists.
const pageRecords = 100

var (
	//go:embed admin.html
	pageHTML string
	//go:embed admin.css
	pageCSS []byte

	pageTmpl = template.Must(template.New("admin").Parse(pageHTML))
)

// pageSecurity is the admin pages' Content-Security-Policy: nothing but
// this server's own images, style sheet and form targets.
const pageSecurity = "default-src 'none'; img-src 'self'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

type pageData struct {
	Epoch    string
	Now      string
	Notice   string
	Error    string
	Stations []stationRow
	Records  []recordRow
}

type stationRow struct {
	ID, Age, Queue, Camera, Version, LastError string
	Stale                                      bool
}

type recordRow struct {
	ID, Time, Station, Masked, Name, Spec string
	State, StateZh, Reason                string
	Seq                                   uint64
	Reviewed                              bool
}

func setPageHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", pageSecurity)
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
}

func handleCSS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "private, max-age=3600")
	w.Write(pageCSS)
}

func (s *Server) handlePage(w http.ResponseWriter, r *http.Request) {
	d, err := s.pageData()
	if err != nil {
		s.failPage(w, r, err)
		return
	}
	d.Notice = notice(r.URL.Query())
	s.renderPage(w, http.StatusOK, d)
}

func (s *Server) renderPage(w http.ResponseWriter, code int, d pageData) {
	var buf bytes.Buffer
	if err := pageTmpl.Execute(&buf, d); err != nil {
		s.log.Error("admin page failed", "err", err)
		writeError(w, http.StatusInternalServerError, wire.CodeInternal, "internal error", nil)
		return
	}
	setPageHeaders(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(code)
	w.Write(buf.Bytes())
}

// failPage answers a form's error as the page with the message on top, and
// the status the API would give.
func (s *Server) failPage(w http.ResponseWriter, r *http.Request, err error) {
	code, _ := status(err)
	msg := err.Error()
	if code == http.StatusInternalServerError {
		s.log.Error("admin request failed", "path", r.URL.Path, "err", err)
		msg = "内部错误 / internal error"
	}
	d, derr := s.pageData()
	if derr != nil {
		s.fail(w, r, err)
		return
	}
	d.Error = msg
	s.renderPage(w, code, d)
}

// notice is the message after a form's redirect (303 to /admin/?done=...).
func notice(q url.Values) string {
	switch q.Get("done") {
	case "review":
		return "审核结果已保存 / review saved"
	case "roster":
		n := func(k string) int {
			v, err := strconv.Atoi(q.Get(k))
			if err != nil || v < 0 {
				return 0
			}
			return v
		}
		return fmt.Sprintf("名单已导入：新增 %d，更新 %d，未变 %d，移除 %d / roster imported: %d added, %d updated, %d unchanged, %d removed",
			n("added"), n("updated"), n("unchanged"), n("removed"), n("added"), n("updated"), n("unchanged"), n("removed"))
	}
	return ""
}

// age says how long ago t was, zh-CN then English.
func age(now, t time.Time) string {
	if t.IsZero() {
		return "从未 / never"
	}
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return "刚刚 / just now"
	case d < time.Hour:
		m := int(d / time.Minute)
		return fmt.Sprintf("%d 分钟前 / %d min ago", m, m)
	case d < 48*time.Hour:
		h := int(d / time.Hour)
		return fmt.Sprintf("%d 小时前 / %d h ago", h, h)
	}
	days := int(d / (24 * time.Hour))
	return fmt.Sprintf("%d 天前 / %d days ago", days, days)
}

func (s *Server) pageData() (pageData, error) {
	now := s.now()
	d := pageData{Epoch: s.epoch, Now: now.Local().Format("2006-01-02 15:04:05")}
	stations, err := s.Stations()
	if err != nil {
		return d, err
	}
	for _, st := range stations {
		row := stationRow{ID: st.ID, Age: age(now, st.LastHeartbeat), Camera: st.Heartbeat.Camera,
			Version: st.Heartbeat.Version, LastError: st.Heartbeat.LastError,
			Stale: st.LastHeartbeat.IsZero() || now.Sub(st.LastHeartbeat) > 10*time.Minute}
		states := make([]string, 0, len(st.Heartbeat.Queue))
		for k := range st.Heartbeat.Queue {
			states = append(states, k)
		}
		slices.Sort(states)
		for i, k := range states {
			states[i] = fmt.Sprintf("%s %d", k, st.Heartbeat.Queue[k])
		}
		row.Queue = strings.Join(states, ", ")
		d.Stations = append(d.Stations, row)
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketBySeq).Cursor()
		for k, v := c.Last(); k != nil && len(d.Records) < pageRecords; k, v = c.Prev() {
			r, err := getRecord(tx, string(v))
			if err != nil || r == nil {
				return fmt.Errorf("record %s: %w", v, errors.Join(err, errors.New("unreadable")))
			}
			sr, err := r.decode()
			if err != nil {
				return err
			}
			m := sr.Manifest
			row := recordRow{ID: m.RecordID, Time: m.CapturedAt.Local().Format("2006-01-02 15:04"),
				Station: r.Station, Masked: queue.Mask(m.Student.IDNumber), Name: m.Student.Name,
				Spec: m.Spec, Seq: r.Seq, State: "pending", StateZh: "待审核"}
			if rv := sr.Review; rv != nil {
				row.Reviewed, row.State, row.Reason = true, rv.Outcome, rv.Reason
				row.StateZh = map[string]string{wire.OutcomeApproved: "已通过", wire.OutcomeRejected: "已驳回"}[rv.Outcome]
			}
			d.Records = append(d.Records, row)
		}
		return nil
	})
	if err != nil {
		return d, fmt.Errorf("admin page: %w", err)
	}
	return d, nil
}

func (s *Server) handlePhoto(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !wire.ValidRecordID(id) {
		s.fail(w, r, fmt.Errorf("%w: not a record ID", errBadRequest))
		return
	}
	var sum string
	err := s.db.View(func(tx *bolt.Tx) error {
		rec, err := getRecord(tx, id)
		if err != nil {
			return err
		}
		if rec == nil {
			return ErrNotFound
		}
		var m struct {
			Photo wire.Blob `json:"photo"`
		}
		if err := json.Unmarshal(rec.Manifest, &m); err != nil {
			return fmt.Errorf("stored manifest: %w", err)
		}
		sum = m.Photo.SHA256
		return nil
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	b, err := s.Blob(sum)
	if errors.Is(err, fs.ErrNotExist) {
		err = fmt.Errorf("photo of %s: %w", id, ErrNotFound)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", wire.ContentTypeBlob)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Set("Cache-Control", "private, max-age=86400, immutable")
	w.Write(b)
}

// parseReviewForm reads the admin page's review form: record_id, outcome
// and reason, each at most once.
func parseReviewForm(v url.Values) (wire.ReviewRequest, error) {
	for k, vs := range v {
		if len(vs) > 1 {
			return wire.ReviewRequest{}, fmt.Errorf("%w: field %.32q given %d times", wire.ErrInvalid, k, len(vs))
		}
	}
	return checkReviewRequest(wire.ReviewRequest{
		RecordID: v.Get("record_id"),
		Outcome:  v.Get("outcome"),
		Reason:   v.Get("reason"),
	})
}

func (s *Server) handleFormReview(w http.ResponseWriter, r *http.Request) {
	body := limitBody(w, r, wire.MaxReviewBytes)
	r.Body = body
	err := r.ParseForm()
	if cerr := body.clientErr(); cerr != nil {
		err = cerr
	} else if err != nil {
		err = fmt.Errorf("%w: form: %w", errBadRequest, err)
	}
	var rq wire.ReviewRequest
	if err == nil {
		rq, err = parseReviewForm(r.PostForm)
	}
	if err == nil {
		_, _, err = s.review(rq)
	}
	if err != nil {
		s.failPage(w, r, err)
		return
	}
	http.Redirect(w, r, "/admin/?done=review", http.StatusSeeOther)
}

func (s *Server) handleFormRoster(w http.ResponseWriter, r *http.Request) {
	body := limitBody(w, r, maxRosterUpload+1<<20)
	r.Body = body
	mr, err := r.MultipartReader()
	if err != nil {
		s.failPage(w, r, fmt.Errorf("%w: 请上传 CSV 文件 / send the file as multipart/form-data: %w", errBadRequest, err))
		return
	}
	for {
		part, err := mr.NextPart()
		if err != nil {
			if cerr := body.clientErr(); cerr != nil {
				err = cerr
			} else {
				err = fmt.Errorf("%w: 没有名为 file 的文件 / no part named file: %w", errBadRequest, err)
			}
			s.failPage(w, r, err)
			return
		}
		if part.FormName() != "file" {
			continue
		}
		res, err := s.ImportRoster(part)
		if cerr := body.clientErr(); cerr != nil {
			err = cerr
		}
		if err != nil {
			s.failPage(w, r, err)
			return
		}
		q := url.Values{}
		q.Set("done", "roster")
		q.Set("added", strconv.Itoa(res.Added))
		q.Set("updated", strconv.Itoa(res.Updated))
		q.Set("unchanged", strconv.Itoa(res.Unchanged))
		q.Set("removed", strconv.Itoa(res.Removed))
		http.Redirect(w, r, "/admin/?"+q.Encode(), http.StatusSeeOther)
		return
	}
}
