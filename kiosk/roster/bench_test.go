package roster_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"kioskd/kiosk/roster"
)

// benchID is the i-th of a family of distinct valid ID numbers.
func benchID(i int) string {
	first := fmt.Sprintf("33%04d20040101%03d", i/1000, i%1000)
	return first + string(roster.CheckDigit(first))
}

// writeRosterFile writes a roster CSV of n students, in UTF-8 with a BOM
// as Excel's "CSV UTF-8" saves it, and returns its path.
func writeRosterFile(b *testing.B, n int) string {
	b.Helper()
	path := filepath.Join(b.TempDir(), "roster.csv")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	w.WriteString("\uFEFF" + strings.ReplaceAll(header, "\n", "\r\n"))
	for i := range n {
		fmt.Fprintf(w, "%s,学生%d,2022%06d,浙江示例大学,计算机科学与技术,2026,待采集,QR%08d\r\n", benchID(i), i, i, i)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return path
}

// peakRSS returns the process's peak resident set (VmHWM) in MB, and
// resetPeakRSS starts a new peak (Linux: write 5 to clear_refs).
func peakRSS() float64 {
	s, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(s), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			return float64(kb) / 1024
		}
	}
	return -1
}

func resetPeakRSS() bool { return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil }

// heapPeak samples HeapInuse every 5 ms until stop is closed; the
// goroutine exits then, and wait returns the peak in MB.
func heapPeak() (stop func() float64) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	var peak uint64
	wg.Go(func() {
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	return func() float64 {
		close(done)
		wg.Wait()
		return float64(peak) / (1 << 20)
	}
}

// BenchmarkImport100k imports a 100,000-row roster file into a new
// roster.db: decode, check, hash, encrypt, batched commits. Targets: 5 s
// or less and 150 MB of RSS or less. Run with -benchtime=1x.
func BenchmarkImport100k(b *testing.B) {
	const n = 100_000
	path := writeRosterFile(b, n)
	var secs, rss, heap []float64
	for b.Loop() {
		b.StopTimer()
		dir := b.TempDir()
		runtime.GC()
		debug.FreeOSMemory()
		resetOK := resetPeakRSS()
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		stop := heapPeak()
		b.StartTimer()

		start := time.Now()
		r, err := roster.Open(dir, roster.Options{})
		if err != nil {
			b.Fatal(err)
		}
		res, err := r.ImportCSV(f, roster.Replace)
		if err != nil {
			b.Fatal(err)
		}
		if err := r.Close(); err != nil {
			b.Fatal(err)
		}
		secs = append(secs, time.Since(start).Seconds())

		b.StopTimer()
		heap = append(heap, stop())
		if resetOK {
			rss = append(rss, peakRSS())
		}
		f.Close()
		if res.Added != n || len(res.Errors) != 0 {
			b.Fatalf("import: %d added, %d errors; want %d, 0", res.Added, len(res.Errors), n)
		}
		b.StartTimer()
	}
	b.ReportMetric(median(secs), "s/import")
	b.ReportMetric(n/median(secs), "rows/s")
	b.ReportMetric(median(heap), "MB-heap-peak")
	if len(rss) > 0 {
		b.ReportMetric(median(rss), "MB-RSS-peak")
	}
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s[len(s)/2]
}

// bigRoster is a 100,000-student roster.db shared by the lookup benchmarks.
var bigRoster struct {
	once sync.Once
	dir  string
	err  error
}

func openBig(b *testing.B) *roster.Roster {
	b.Helper()
	bigRoster.once.Do(func() {
		dir, err := os.MkdirTemp("", "roster-bench-")
		if err != nil {
			bigRoster.err = err
			return
		}
		bigRoster.dir = dir
		r, err := roster.Open(dir, roster.Options{})
		if err != nil {
			bigRoster.err = err
			return
		}
		defer r.Close()
		var buf bytes.Buffer
		buf.WriteString(header)
		for i := range 100_000 {
			fmt.Fprintf(&buf, "%s,学生%d,2022%06d,浙江示例大学,计算机科学与技术,2026,待采集,QR%08d\n", benchID(i), i, i, i)
		}
		_, bigRoster.err = r.ImportCSV(&buf, roster.Replace)
	})
	if bigRoster.err != nil {
		b.Fatal(bigRoster.err)
	}
	r, err := roster.Open(bigRoster.dir, roster.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close() })
	return r
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bigRoster.dir != "" {
		os.RemoveAll(bigRoster.dir)
	}
	os.Exit(code)
}

// BenchmarkIdentifyByID looks students up by ID number and name in a
// 100,000-student roster. Target: 1 ms or less per lookup.
func BenchmarkIdentifyByID(b *testing.B) {
	r := openBig(b)
	b.ReportAllocs()
	var each []float64
	for i := 0; b.Loop(); i++ {
		k := (i * 7919) % 100_000
		start := time.Now()
		m, err := r.IdentifyByID(benchID(k), "学生"+strconv.Itoa(k))
		each = append(each, float64(time.Since(start).Nanoseconds())/1e6)
		if err != nil || m.State != roster.StatusEligible {
			b.Fatalf("IdentifyByID(#%d) = %s, %v", k, m.State, err)
		}
	}
	b.ReportMetric(median(each), "ms/lookup")
}

// BenchmarkIdentifyByCode looks students up by collection code.
func BenchmarkIdentifyByCode(b *testing.B) {
	r := openBig(b)
	b.ReportAllocs()
	var each []float64
	for i := 0; b.Loop(); i++ {
		k := (i * 7919) % 100_000
		start := time.Now()
		m, err := r.IdentifyByCode(fmt.Sprintf("QR%08d", k))
		each = append(each, float64(time.Since(start).Nanoseconds())/1e6)
		if err != nil || m.Name != "学生"+strconv.Itoa(k) {
			b.Fatalf("IdentifyByCode(#%d) = %q, %v", k, m.Name, err)
		}
	}
	b.ReportMetric(median(each), "ms/lookup")
}

// BenchmarkReimport100k imports the same 100,000 rows into a roster that
// already holds them: every row is read, compared by digest and left
// unchanged, and the code index is re-checked.
func BenchmarkReimport100k(b *testing.B) {
	r := openBig(b)
	var buf bytes.Buffer
	buf.WriteString(header)
	for i := range 100_000 {
		fmt.Fprintf(&buf, "%s,学生%d,2022%06d,浙江示例大学,计算机科学与技术,2026,待采集,QR%08d\n", benchID(i), i, i, i)
	}
	data := buf.Bytes()
	var secs []float64
	for b.Loop() {
		start := time.Now()
		res, err := r.ImportCSV(bytes.NewReader(data), roster.Replace)
		secs = append(secs, time.Since(start).Seconds())
		if err != nil || res.Unchanged != 100_000 || res.Removed != 0 {
			b.Fatalf("re-import: %+v, %v; want 100000 unchanged", counts(res), err)
		}
	}
	b.ReportMetric(median(secs), "s/import")
}
