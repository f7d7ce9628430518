package roster_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/unicode"

	"kioskd/kiosk/roster"
)

const header = "身份证号,姓名,学号,学校,专业,毕业年份,状态,采集码\n"

// ids are fake ID numbers that pass the check digit.
var ids = func() []string {
	out := make([]string, 8)
	for i := range out {
		first := fmt.Sprintf("330106200%d0%d15%03d", i%10, 1+i%9, 100+i)
		out[i] = first + string(roster.CheckDigit(first))
	}
	return out
}()

func row(id, name, status, code string) string {
	return fmt.Sprintf("%s,%s,2022%s,浙江示例大学,计算机科学与技术,2026,%s,%s\n", id, name, id[14:17], status, code)
}

func decode(t *testing.T, s string) *roster.Decoded {
	t.Helper()
	d, err := roster.Decode(strings.NewReader(s))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	return d
}

// noFullIDs fails when any message holds one of the fake ID numbers (or
// its first 17 digits, as typed with a wrong check digit).
func noFullIDs(t *testing.T, msgs ...string) {
	t.Helper()
	for _, m := range msgs {
		for _, id := range append(ids, stdExample4, stdExampleX) {
			if strings.Contains(m, id[:17]) {
				t.Errorf("message holds a full ID number: %q", m)
			}
		}
	}
}

func messages(d *roster.Decoded) []string {
	var out []string
	for _, e := range append(append([]*roster.RowError(nil), d.Errors...), d.Warnings...) {
		out = append(out, e.Error())
	}
	return out
}

func TestDecodeEncodings(t *testing.T) {
	plain := header + row(ids[0], "张三", "待采集", "QR-0001") + row(ids[1], "阿卜杜拉·买买提", "", "")
	gbk, err := simplifiedchinese.GBK.NewEncoder().String(plain)
	if err != nil {
		t.Fatal(err)
	}
	gb18030, err := simplifiedchinese.GB18030.NewEncoder().String(plain + row(ids[2], "𠮷野", "", ""))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, in, encoding string
		rows               int
	}{
		{"utf8", plain, "UTF-8", 2},
		{"utf8-bom", "\uFEFF" + plain, "UTF-8 BOM", 2},
		{"crlf", strings.ReplaceAll(plain, "\n", "\r\n"), "UTF-8", 2},
		{"gbk", gbk, "GB18030", 2},
		{"gb18030-4byte", gb18030, "GB18030", 3},
		{"no-final-newline", strings.TrimSuffix(plain, "\n"), "UTF-8", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := decode(t, tt.in)
			if d.Encoding != tt.encoding || len(d.Rows) != tt.rows || len(d.Errors) != 0 {
				t.Fatalf("Decode = encoding %s, %d rows, errors %v; want %s, %d rows, none", d.Encoding, len(d.Rows), d.Errors, tt.encoding, tt.rows)
			}
			if d.Rows[0].Name != "张三" || d.Rows[1].Name != "阿卜杜拉·买买提" || d.Rows[0].Code != "QR-0001" {
				t.Errorf("names/code = %q %q %q; want 张三, 阿卜杜拉·买买提, QR-0001", d.Rows[0].Name, d.Rows[1].Name, d.Rows[0].Code)
			}
			if d.Rows[0].IDNumber != ids[0] || d.Rows[0].Line != 2 || d.Rows[1].Line != 3 {
				t.Errorf("row 0 = %s line %d, row 1 line %d; want line 2 and 3", d.Rows[0].Masked(), d.Rows[0].Line, d.Rows[1].Line)
			}
			if d.Rows[0].Status != roster.StatusEligible || d.Rows[0].GraduationYear != 2026 || d.Rows[0].School != "浙江示例大学" {
				t.Errorf("row 0 = %+v", d.Rows[0].Masked())
			}
			if tt.rows == 3 && d.Rows[2].Name != "𠮷野" {
				t.Errorf("4-byte GB18030 name = %q", d.Rows[2].Name)
			}
		})
	}
}

func TestDecodeRefusedFiles(t *testing.T) {
	utf16, err := unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewEncoder().String(header + row(ids[0], "张三", "", ""))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		in   string
		want error
		says string
	}{
		{"empty", "", roster.ErrEmptyFile, ""},
		{"blank", " \r\n\n", roster.ErrEmptyFile, ""},
		{"bom-only", "\uFEFF", roster.ErrEmptyFile, ""},
		{"header-only", header, roster.ErrNoRows, ""},
		{"header-and-blank-rows", header + ",,,,,,,\n\n", roster.ErrNoRows, ""},
		{"utf16", utf16, roster.ErrEncoding, "UTF-16"},
		{"nul", header + "\x00\x00\x00\n", roster.ErrEncoding, "NUL"},
		{"missing-columns", "身份证号,姓名,学号\n" + ids[0] + ",张三,1\n", roster.ErrHeader, "学校/school, 专业/major, 毕业年份/graduation_year, 状态/status"},
		{"twice", "身份证号,姓名,学号,学校,专业,毕业年份,状态,name\n", roster.ErrHeader, "姓名"},
		{"no-header", row(ids[0], "张三", "", ""), roster.ErrHeader, "missing columns"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := roster.Decode(strings.NewReader(tt.in))
			if !errors.Is(err, tt.want) || d != nil {
				t.Fatalf("Decode = %v, %v; want %v", d, err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.says) {
				t.Errorf("Decode error %q does not say %q", err, tt.says)
			}
			noFullIDs(t, err.Error())
		})
	}
}

// countingReader counts the bytes Decode pulled.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func TestDecodeLongLine(t *testing.T) {
	for _, quoted := range []bool{false, true} {
		long := strings.Repeat("长", 10<<20/3)
		if quoted {
			long = `"` + long + `"`
		}
		in := header + row(ids[0], "张三", "", "") + ids[1] + ",李四,1,学校," + long + ",2026,,\n"
		cr := &countingReader{r: strings.NewReader(in)}
		d, err := roster.Decode(cr)
		var tl *roster.LineTooLongError
		if !errors.As(err, &tl) || tl.Line != 3 || d != nil {
			t.Fatalf("Decode(10 MB line, quoted %v) = %v; want LineTooLongError at line 3", quoted, err)
		}
		if cr.n > 1<<20 {
			t.Errorf("Decode read %d bytes of a 10 MB line; want it to stop soon after %d", cr.n, roster.MaxLineBytes)
		}
		noFullIDs(t, err.Error())
	}
}

func TestDecodeRowProblems(t *testing.T) {
	badCheck := ids[3][:17] + string("0123456789X"[(strings.IndexByte("0123456789X", ids[3][17])+1)%11])
	in := header +
		row(ids[0], "张三", "已采集", "") + // 2 ok
		row(badCheck, "李四", "", "") + // 3 check digit
		"110105491231002,王五,1,学校,专业,2026,,\n" + // 4 legacy 15 digits
		ids[4] + ",赵六,1,学校,专业,2026,,,多余\n" + // 5 extra cell
		ids[5] + ",钱七,1\n" + // 6 missing cells
		row(ids[6], "", "", "") + // 7 no name
		row(ids[7], "孙八", "毕业了", "") + // 8 unknown status
		"3.30102E+17,周九,1,学校,专业,2026,,\n" + // 9 Excel number
		ids[1] + ",吴十,1,学校,专业,二〇二六,,\n" + // 10 bad year
		"\"" + ids[2] + ",郑,1,学校,专业,2026,,\n" // 11 unterminated quote swallows the rest
	d := decode(t, in)
	if len(d.Rows) != 1 || d.Rows[0].Status != roster.StatusCollectedOnline {
		t.Fatalf("rows = %d; want only line 2, collected online", len(d.Rows))
	}
	want := map[int]string{3: "校验位", 4: "15 位", 5: "单元格", 6: "单元格", 7: "姓名为空", 8: "状态应为", 9: "3.3E+17", 10: "四位年份", 11: "CSV"}
	got := map[int]string{}
	for _, e := range d.Errors {
		got[e.Line] = e.Error()
	}
	for line, says := range want {
		if !strings.Contains(got[line], says) {
			t.Errorf("line %d error = %q; want one saying %q", line, got[line], says)
		}
	}
	if len(d.Errors) != len(want) {
		t.Errorf("errors = %q; want %d", messages(d), len(want))
	}
	noFullIDs(t, messages(d)...)
}

func TestDecodeDuplicates(t *testing.T) {
	in := header +
		row(ids[0], "张三", "", "C1") + // 2
		row(ids[1], "李四", "", "C2") + // 3 conflicts with 5
		row(ids[0], "张三", "", "C1") + // 4 same as 2: warning
		row(ids[1], "李四四", "", "C2") + // 5 same ID, other name
		row(ids[2], "王五", "", "C3") + // 6 code conflicts with 7
		row(ids[3], "赵六", "", "C3") // 7
	d := decode(t, in)
	if len(d.Rows) != 1 || d.Rows[0].Line != 2 {
		t.Fatalf("rows = %d; want only line 2", len(d.Rows))
	}
	var lines []int
	for _, e := range d.Errors {
		lines = append(lines, e.Line)
	}
	if fmt.Sprint(lines) != "[3 5 6 7]" {
		t.Errorf("error lines = %v (%q); want [3 5 6 7]", lines, messages(d))
	}
	if len(d.Warnings) != 1 || d.Warnings[0].Line != 4 {
		t.Errorf("warnings = %q; want one at line 4", messages(d))
	}
	noFullIDs(t, messages(d)...)
}

func TestDecodeHostileCells(t *testing.T) {
	in := "学号,姓名,身份证号,毕业年份,学校,专业,状态,备注,采集码\n" + // other order, an extra column
		"1,\"=HYPERLINK(\"\"http://evil.example\"\",\"\"点我\"\")\",\"=\"\"" + ids[0] + "\"\"\",2026,@SUM(A1),-1+2,,x,\n" +
		"2,\"张\n三\",\t" + ids[1] + ",2026,\"浙江\r\n示例大学\",专业,,y,\n" +
		"3,王五," + ids[2] + ",2026,学校,专业,,z,\n"
	d := decode(t, in)
	if len(d.Rows) != 3 {
		t.Fatalf("rows = %d, errors %q; want 3", len(d.Rows), messages(d))
	}
	if got := d.Rows[0].Name; got != `=HYPERLINK("http://evil.example","点我")` {
		t.Errorf("formula name stored as %q; want the text as given", got)
	}
	if d.Rows[0].IDNumber != ids[0] {
		t.Errorf("=\"…\" ID number not unwrapped: %s", d.Rows[0].Masked())
	}
	flagged := map[string]bool{}
	for _, w := range d.Warnings {
		flagged[fmt.Sprintf("%d %s", w.Line, w.Column.En)] = true
	}
	for _, k := range []string{"2 name", "2 school", "2 major"} {
		if !flagged[k] {
			t.Errorf("no formula warning for %s; warnings %q", k, messages(d))
		}
	}
	if d.Rows[1].Name != "张 三" || d.Rows[1].School != "浙江 示例大学" || d.Rows[1].Line != 3 {
		t.Errorf("quoted newlines: name %q school %q line %d; want 张 三, 浙江 示例大学, 3", d.Rows[1].Name, d.Rows[1].School, d.Rows[1].Line)
	}
	if d.Rows[2].Line != 6 {
		t.Errorf("line after quoted newlines = %d; want 6", d.Rows[2].Line)
	}
	if fmt.Sprint(d.Ignored) != "[备注]" {
		t.Errorf("Ignored = %q; want [备注]", d.Ignored)
	}
}

func TestDecodeEnglishHeader(t *testing.T) {
	in := "ID_Number,Name,Student Number,School,Major,Graduation_Year,Status,Collection_Code,Reason\n" +
		ids[0] + ",Zhang San,1,School,Major,2026,Rejected,QR9,背景不是浅蓝色\n"
	d := decode(t, in)
	if len(d.Rows) != 1 || d.Rows[0].Status != roster.StatusRejected || d.Rows[0].Reason != "背景不是浅蓝色" || d.Rows[0].Code != "QR9" {
		t.Fatalf("Decode = %d rows, errors %q", len(d.Rows), messages(d))
	}
}

// TestDecodeMixedEncoding puts GBK bytes after 64 KB of UTF-8: the file is
// read as UTF-8 and the GBK row is reported, not silently garbled.
func TestDecodeMixedEncoding(t *testing.T) {
	var b bytes.Buffer
	b.WriteString(header)
	n := 0
	for b.Len() < 70<<10 {
		first := fmt.Sprintf("33%04d20010101%03d", n/1000, n%1000)
		fmt.Fprintf(&b, "%s%c,张三%d,%d,学校,专业,2026,,\n", first, roster.CheckDigit(first), n, n)
		n++
	}
	gbkName, _ := simplifiedchinese.GBK.NewEncoder().String("李四")
	first := "33010620020202999"
	fmt.Fprintf(&b, "%s%c,%s,x,学校,专业,2026,,\n", first, roster.CheckDigit(first), gbkName)
	d, err := roster.Decode(&b)
	if err != nil {
		t.Fatal(err)
	}
	if d.Encoding != "UTF-8" || len(d.Errors) != 1 || !strings.Contains(d.Errors[0].Error(), "UTF-8") || d.Errors[0].Column != roster.ColName {
		msgs := messages(d)
		t.Fatalf("encoding %s, %d errors %q; want UTF-8 and one name error", d.Encoding, len(d.Errors), msgs[:min(3, len(msgs))])
	}
}
