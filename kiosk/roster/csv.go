package roster

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/transform"

	"kioskd/kiosk/queue"
)

// Limits of Decode.
const (
	MaxLineBytes = 64 << 10 // a physical line longer than this refuses the file
	MaxRows      = 500_000  // more data rows than this refuse the file
	maxCellBytes = 256      // a cell longer than this is a row error (reason: 4x)
	maxCodeChars = 128      // a collection code longer than this is refused
)

// Errors Decode returns for a file that cannot be read as a roster at all.
var (
	ErrEmptyFile   = errors.New("文件是空的 / the file is empty")
	ErrNoRows      = errors.New("文件只有表头，没有学生 / the file has a header but no students")
	ErrEncoding    = errors.New("无法识别文件编码 / unsupported file encoding")
	ErrHeader      = errors.New("表头不正确 / bad header row")
	ErrTooManyRows = fmt.Errorf("文件超过 %d 行 / the file has more than %d rows", MaxRows, MaxRows)
)

// LineTooLongError refuses a file with a physical line over MaxLineBytes.
type LineTooLongError struct{ Line int }

// Error says which line, in Chinese and English.
func (e *LineTooLongError) Error() string {
	return fmt.Sprintf("第 %d 行超过 %d KB，文件可能已损坏 / line %d is longer than %d KB: the file looks damaged",
		e.Line, MaxLineBytes>>10, e.Line, MaxLineBytes>>10)
}

// Column names a roster column: its Chinese header (the canonical one) and
// its English header.
type Column struct{ Zh, En string }

// String returns "中文/english".
func (c Column) String() string { return c.Zh + "/" + c.En }

// The roster columns, in the order the documented CSV lists them.
var (
	ColIDNumber       = Column{"身份证号", "id_number"}
	ColName           = Column{"姓名", "name"}
	ColStudentNumber  = Column{"学号", "student_number"}
	ColSchool         = Column{"学校", "school"}
	ColMajor          = Column{"专业", "major"}
	ColGraduationYear = Column{"毕业年份", "graduation_year"}
	ColStatus         = Column{"状态", "status"}
	ColCode           = Column{"采集码", "collection_code"} // optional
	ColReason         = Column{"驳回原因", "reason"}         // optional
)

var (
	requiredColumns = []Column{ColIDNumber, ColName, ColStudentNumber, ColSchool, ColMajor, ColGraduationYear, ColStatus}
	allColumns      = append(append([]Column(nil), requiredColumns...), ColCode, ColReason)
	// headerAliases are further header spellings seen in exports.
	headerAliases = map[string]Column{
		"身份证号码": ColIDNumber, "证件号码": ColIDNumber, "idnumber": ColIDNumber,
		"studentnumber": ColStudentNumber, "学校名称": ColSchool, "院校": ColSchool,
		"专业名称": ColMajor, "毕业年度": ColGraduationYear, "graduationyear": ColGraduationYear,
		"采集状态": ColStatus, "code": ColCode, "collectioncode": ColCode, "原因": ColReason,
	}
)

// Row is one student as the roster's sources (the CSV file, central's
// roster feed) describe it. IDNumber and Name are in clear here; the
// roster stores them only encrypted.
type Row struct {
	IDNumber       string // normalised by CheckIDNumber
	Name           string
	StudentNumber  string
	School         string
	Major          string
	GraduationYear int // 0 when the cell was empty
	Status         Status
	Reason         string // why the photo was rejected, for StatusRejected
	Code           string // collection code (采集码); empty when none
	Line           int    // the CSV line the row starts on; 0 from other sources
}

// RowError is a problem with one CSV row: an error (the row is not
// imported) or, in Decoded.Warnings, a note on a row that is. Its message
// never contains a full ID number.
type RowError struct {
	Line   int
	Column Column // zero when the problem is the whole row
	Err    error
}

// Error gives the line, the column and the problem, in Chinese and English.
func (e *RowError) Error() string {
	if e.Column.Zh == "" {
		return fmt.Sprintf("第 %d 行 / line %d: %v", e.Line, e.Line, e.Err)
	}
	return fmt.Sprintf("第 %d 行 %s / line %d %s: %v", e.Line, e.Column.Zh, e.Line, e.Column.En, e.Err)
}

// Unwrap returns the problem, for errors.Is and errors.As.
func (e *RowError) Unwrap() error { return e.Err }

// Decoded is a decoded roster file.
type Decoded struct {
	Rows     []Row
	Errors   []*RowError // rows left out, in line order
	Warnings []*RowError // rows imported with a note (formula-like cells, repeated rows)
	Encoding string      // "UTF-8", "UTF-8 BOM" or "GB18030"
	Ignored  []string    // header cells that name no roster column
}

// Decode reads a roster CSV file: a header row naming the columns (any
// order, Chinese or English names), then one student per row. The
// encoding is UTF-8 with or without a BOM, or GB18030 (which includes GBK)
// as Excel saves "CSV" on a Chinese system; it is detected from the first
// 64 KB. Decode returns an error only when the file as a whole cannot be
// used (empty, no rows, bad header, unknown encoding, a line over
// MaxLineBytes, too many rows); problems with single rows are in
// Decoded.Errors with their line numbers.
func Decode(r io.Reader) (*Decoded, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(64 << 10)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, fmt.Errorf("read roster: %w", err)
	}
	if len(bytes.TrimSpace(head)) == 0 {
		return nil, ErrEmptyFile
	}
	d := &Decoded{}
	var src io.Reader = &lineLimiter{r: br, line: 1}
	switch {
	case bytes.HasPrefix(head, []byte("\xEF\xBB\xBF")):
		br.Discard(3)
		d.Encoding = "UTF-8 BOM"
	case bytes.HasPrefix(head, []byte("\xFF\xFE")), bytes.HasPrefix(head, []byte("\xFE\xFF")):
		return nil, fmt.Errorf("%w: UTF-16（Excel 的“Unicode 文本”），请另存为“CSV UTF-8” / UTF-16 (Excel's \"Unicode text\"): save as \"CSV UTF-8\"", ErrEncoding)
	case validPrefix(head):
		d.Encoding = "UTF-8"
	default:
		d.Encoding = "GB18030"
		src = transform.NewReader(src, simplifiedchinese.GB18030.NewDecoder())
	}
	if bytes.IndexByte(head, 0) >= 0 {
		return nil, fmt.Errorf("%w: 文件含有 NUL 字节，不是文本文件 / the file holds NUL bytes: not a text file", ErrEncoding)
	}
	cr := csv.NewReader(src)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true

	header, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, ErrEmptyFile
		}
		return nil, fileError(err)
	}
	cols, err := d.mapHeader(header)
	if err != nil {
		return nil, err
	}
	byID := map[string]int{}   // normalised ID number → index in d.Rows
	byCode := map[string]int{} // collection code → index in d.Rows
	bad := map[int]bool{}      // indexes in d.Rows found to conflict
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				// csv's messages name a line and a column, never cell content.
				d.Errors = append(d.Errors, &RowError{Line: pe.StartLine, Err: fmt.Errorf("CSV 格式错误 / malformed CSV: %w", pe.Err)})
				continue
			}
			return nil, fileError(err)
		}
		line, _ := cr.FieldPos(0)
		if blank(rec) {
			continue
		}
		if len(d.Rows)+len(d.Errors) >= MaxRows {
			return nil, ErrTooManyRows
		}
		row, rowErr := d.parseRow(rec, cols, line, len(header))
		if rowErr != nil {
			d.Errors = append(d.Errors, rowErr)
			continue
		}
		if i, dup := byID[row.IDNumber]; dup {
			if d.Rows[i] == row.withLine(d.Rows[i].Line) {
				d.Warnings = append(d.Warnings, &RowError{Line: line, Err: fmt.Errorf("与第 %d 行完全相同，已忽略 / same as line %d, skipped", d.Rows[i].Line, d.Rows[i].Line)})
				continue
			}
			bad[i] = true
			d.Errors = append(d.Errors, &RowError{Line: line, Column: ColIDNumber,
				Err: fmt.Errorf("与第 %d 行身份证号重复但内容不同，两行都未导入 / same ID number as line %d with different data: neither row imported", d.Rows[i].Line, d.Rows[i].Line)})
			continue
		}
		if row.Code != "" {
			if i, dup := byCode[row.Code]; dup {
				bad[i] = true
				d.Errors = append(d.Errors, &RowError{Line: line, Column: ColCode,
					Err: fmt.Errorf("与第 %d 行采集码重复，两行都未导入 / same collection code as line %d: neither row imported", d.Rows[i].Line, d.Rows[i].Line)})
				continue
			}
			byCode[row.Code] = len(d.Rows)
		}
		byID[row.IDNumber] = len(d.Rows)
		d.Rows = append(d.Rows, row)
	}
	if len(bad) > 0 {
		kept := d.Rows[:0]
		for i, row := range d.Rows {
			if bad[i] {
				d.Errors = append(d.Errors, &RowError{Line: row.Line, Err: errors.New("与后面的行重复，未导入 / duplicated by a later line: not imported")})
				continue
			}
			kept = append(kept, row)
		}
		d.Rows = kept
		sortByLine(d.Errors)
	}
	if len(d.Rows) == 0 && len(d.Errors) == 0 {
		return nil, ErrNoRows
	}
	return d, nil
}

func (r Row) withLine(line int) Row { r.Line = line; return r }

func sortByLine(errs []*RowError) {
	// Insertion sort: the slice is sorted but for the few appended at the end.
	for i := 1; i < len(errs); i++ {
		for j := i; j > 0 && errs[j].Line < errs[j-1].Line; j-- {
			errs[j], errs[j-1] = errs[j-1], errs[j]
		}
	}
}

func fileError(err error) error {
	var tl *LineTooLongError
	if errors.As(err, &tl) {
		return tl
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("%w: 第 %d 行 / line %d: %w", ErrHeader, pe.StartLine, pe.StartLine, pe.Err)
	}
	return fmt.Errorf("read roster: %w", err)
}

// validPrefix reports whether b is valid UTF-8 but for a rune cut short at
// its end (b is a prefix of the file).
func validPrefix(b []byte) bool {
	for i := 0; i < utf8.UTFMax && len(b) > 0; i++ {
		if utf8.Valid(b) {
			return true
		}
		b = b[:len(b)-1]
	}
	return utf8.Valid(b)
}

func blank(rec []string) bool {
	for _, c := range rec {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

// headerKey folds a header cell for matching: no BOM, no spaces or
// underscores, lower case.
func headerKey(s string) string {
	s = strings.TrimPrefix(s, "\uFEFF")
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || r == '_' || r == '-' {
			return -1
		}
		return unicode.ToLower(r)
	}, s)
}

func (d *Decoded) mapHeader(header []string) (map[Column]int, error) {
	names := map[string]Column{}
	for _, c := range allColumns {
		names[headerKey(c.Zh)] = c
		names[headerKey(c.En)] = c
	}
	for k, c := range headerAliases {
		names[headerKey(k)] = c
	}
	cols := map[Column]int{}
	for i, h := range header {
		c, ok := names[headerKey(h)]
		if !ok {
			if strings.TrimSpace(h) != "" {
				d.Ignored = append(d.Ignored, clip(h, 40))
			}
			continue
		}
		if _, dup := cols[c]; dup {
			return nil, fmt.Errorf("%w: 列 %s 出现了两次 / column %s appears twice", ErrHeader, c.Zh, c.En)
		}
		cols[c] = i
	}
	var missing []string
	for _, c := range requiredColumns {
		if _, ok := cols[c]; !ok {
			missing = append(missing, c.String())
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: 缺少列 / missing columns: %s", ErrHeader, strings.Join(missing, ", "))
	}
	return cols, nil
}

// clip shortens s to n runes for a message.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

func (d *Decoded) parseRow(rec []string, cols map[Column]int, line, width int) (Row, *RowError) {
	if len(rec) != width {
		return Row{}, &RowError{Line: line, Err: fmt.Errorf("有 %d 个单元格，表头有 %d 个 / %d cells, the header has %d", len(rec), width, len(rec), width)}
	}
	var row Row
	row.Line = line
	cell := func(c Column) (string, *RowError) {
		i, ok := cols[c]
		if !ok {
			return "", nil
		}
		// A line break inside a quoted cell (Alt+Enter in Excel) becomes a space.
		v := strings.TrimSpace(newlines.Replace(rec[i]))
		limit := maxCellBytes
		if c == ColReason {
			limit *= 4
		}
		switch {
		case len(v) > limit:
			return "", &RowError{Line: line, Column: c, Err: fmt.Errorf("内容超过 %d 字节 / longer than %d bytes", limit, limit)}
		case !utf8.ValidString(v):
			return "", &RowError{Line: line, Column: c, Err: errors.New("不是有效的 UTF-8，文件可能混用了编码 / not valid UTF-8: mixed encodings in one file?")}
		case strings.ContainsRune(v, utf8.RuneError):
			return "", &RowError{Line: line, Column: c, Err: errors.New("含有无法识别的字符，请检查文件编码 / holds undecodable characters: check the file's encoding")}
		case strings.IndexFunc(v, isControl) >= 0:
			return "", &RowError{Line: line, Column: c, Err: errors.New("含有控制字符 / holds control characters")}
		}
		if formulaLike(v) && c != ColIDNumber && c != ColCode {
			d.Warnings = append(d.Warnings, &RowError{Line: line, Column: c,
				Err: errors.New("以 = + - @ 开头，像表格公式；已按文本保存，导出时会转义 / starts like a spreadsheet formula: stored as text, escaped on export")})
		}
		return v, nil
	}
	var e *RowError
	var raw string
	if raw, e = cell(ColIDNumber); e != nil {
		return Row{}, e
	}
	id, err := CheckIDNumber(unwrapExcelText(raw))
	if err != nil {
		return Row{}, &RowError{Line: line, Column: ColIDNumber, Err: err}
	}
	row.IDNumber = id
	if row.Name, e = cell(ColName); e != nil {
		return Row{}, e
	}
	if row.Name == "" {
		return Row{}, &RowError{Line: line, Column: ColName, Err: errors.New("姓名为空 / the name is empty")}
	}
	if row.StudentNumber, e = cell(ColStudentNumber); e != nil {
		return Row{}, e
	}
	if row.School, e = cell(ColSchool); e != nil {
		return Row{}, e
	}
	if row.Major, e = cell(ColMajor); e != nil {
		return Row{}, e
	}
	var year string
	if year, e = cell(ColGraduationYear); e != nil {
		return Row{}, e
	}
	if year != "" {
		y, err := strconv.Atoi(year)
		if err != nil || y < 1950 || y > 2100 {
			return Row{}, &RowError{Line: line, Column: ColGraduationYear, Err: errors.New("应为四位年份，如 2026 / must be a four-digit year like 2026")}
		}
		row.GraduationYear = y
	}
	var status string
	if status, e = cell(ColStatus); e != nil {
		return Row{}, e
	}
	if row.Status, err = ParseStatus(status); err != nil {
		return Row{}, &RowError{Line: line, Column: ColStatus, Err: err}
	}
	if row.Reason, e = cell(ColReason); e != nil {
		return Row{}, e
	}
	if raw, e = cell(ColCode); e != nil {
		return Row{}, e
	}
	if raw != "" {
		if row.Code, err = CheckCode(unwrapExcelText(raw)); err != nil {
			return Row{}, &RowError{Line: line, Column: ColCode, Err: err}
		}
	}
	return row, nil
}

var newlines = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ")

func isControl(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }

// formulaLike reports whether a cell would run as a formula when a
// spreadsheet opens it (the OWASP list: = + - @, and tab or CR first).
func formulaLike(v string) bool {
	return v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0]))
}

// unwrapExcelText turns ="0123" (Excel's way to keep digits as text) into
// 0123; other values are returned as they are.
func unwrapExcelText(v string) string {
	if len(v) >= 3 && strings.HasPrefix(v, `="`) && strings.HasSuffix(v, `"`) {
		return v[2 : len(v)-1]
	}
	return v
}

// ErrBadCode refuses a collection code that is empty, too long or holds
// spaces or control characters.
var ErrBadCode = errors.New("采集码无效 / invalid collection code")

// CheckCode returns a collection code as scanned, with surrounding space
// (a scanner's Enter, say) removed. Codes are opaque: any printable
// characters without spaces, at most 128.
func CheckCode(code string) (string, error) {
	code = strings.TrimSpace(code)
	if code == "" || utf8.RuneCountInString(code) > maxCodeChars || !utf8.ValidString(code) ||
		strings.IndexFunc(code, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) || r == utf8.RuneError }) >= 0 {
		return "", ErrBadCode
	}
	return code, nil
}

// lineLimiter passes bytes through and fails with *LineTooLongError once a
// physical line passes MaxLineBytes, so a hostile file cannot make the CSV
// reader buffer megabytes. It counts raw bytes: in GB18030 a 0x0A byte is
// always a newline.
type lineLimiter struct {
	r    io.Reader
	line int // 1-based line of the next byte
	run  int // bytes since the last newline
	err  error
}

// Read implements io.Reader.
func (l *lineLimiter) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	n, err := l.r.Read(p)
	for i := 0; i < n; i++ {
		if p[i] == '\n' {
			l.line++
			l.run = 0
			continue
		}
		l.run++
		if l.run > MaxLineBytes {
			l.err = &LineTooLongError{Line: l.line}
			return i, nil
		}
	}
	return n, err
}

// maskedCode is the collection code as screens may show it.
func maskedCode(code string) string { return queue.Mask(code) }

// Masked returns the row's ID number masked (3301**********123X).
func (r Row) Masked() string { return queue.Mask(r.IDNumber) }

// String describes the row with the ID number masked and no name, so a
// row printed by mistake (%v, %+v) leaks neither.
func (r Row) String() string {
	return fmt.Sprintf("roster.Row{line %d, %s, %s}", r.Line, r.Masked(), r.Status)
}

// GoString is String, for %#v.
func (r Row) GoString() string { return r.String() }
