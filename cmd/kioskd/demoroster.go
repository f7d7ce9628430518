package main

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"strconv"

	"kioskd/kiosk/roster"
)

// demoStudent is one student of the demo roster: made-up people whose ID
// numbers pass the GB 11643 check and whose collection codes are easy to
// type (DEMO-0001 ...).
type demoStudent struct {
	name, status, reason string
}

// demoStudents are the demo roster: most eligible, and one of each other
// state so every screen of the booth can be seen.
var demoStudents = []demoStudent{
	{name: "李明"}, {name: "王芳"}, {name: "张伟"}, {name: "刘洋"}, {name: "陈静"},
	{name: "杨帆"}, {name: "赵磊"}, {name: "黄丽"}, {name: "周杰"}, {name: "吴敏"},
	{name: "徐婷"}, {name: "孙浩"}, {name: "马琳"}, {name: "朱峰"}, {name: "胡悦"},
	{name: "郭强", status: "collected_online"},
	{name: "何佳", status: "approved"},
	{name: "高远", status: "rejected", reason: "背景有阴影 / shadow on the background"},
}

// demoIDNumber is the ID number of demo student i: Beijing Chaoyang
// district (110105), born in 2004, a sequence number, the check character.
func demoIDNumber(i int) string {
	first17 := fmt.Sprintf("110105%04d%02d%02d%03d", 2004, 1+i%12, 1+i%28, 100+i)
	return first17 + string(roster.CheckDigit(first17))
}

// demoCode is demo student i's collection code.
func demoCode(i int) string { return fmt.Sprintf("DEMO-%04d", i+1) }

// demoRosterCSV is the demo roster as a roster CSV file (docs/roster.md).
func demoRosterCSV() []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write([]string{"id_number", "name", "student_number", "school", "major", "graduation_year", "status", "collection_code", "reason"})
	for i, s := range demoStudents {
		w.Write([]string{demoIDNumber(i), s.name, "2026" + strconv.Itoa(10001+i), "演示大学 Demo University",
			"计算机科学与技术", "2026", s.status, demoCode(i), s.reason})
	}
	w.Flush()
	return b.Bytes()
}
