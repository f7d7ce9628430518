package roster

import (
	"errors"
	"fmt"
	"strings"
)

// ErrBadIDNumber is matched by every *IDError.
var ErrBadIDNumber = errors.New("身份证号无效 / invalid ID number")

// IDProblem says what is wrong with a typed ID number.
type IDProblem int

// The problems CheckIDNumber reports.
const (
	IDEmpty       IDProblem = iota + 1 // nothing typed
	IDLegacy15                         // a 15-digit number of the first generation
	IDLength                           // neither 15 nor 18 characters
	IDCharacters                       // not 17 digits and a digit or X
	IDBirthDate                        // the birth date in positions 7-14 is not a date
	IDCheckDigit                       // the GB 11643 check character does not match
	IDExcelNumber                      // a spreadsheet turned it into a number (3.30102E+17)
)

// IDError is a refused ID number. Its message is in Chinese and English and
// never contains the number.
type IDError struct {
	Problem IDProblem
	Length  int // characters typed, for IDLength
}

// Error says what is wrong, in Chinese and English, without the number.
func (e *IDError) Error() string {
	switch e.Problem {
	case IDEmpty:
		return "请输入身份证号 / enter the ID number"
	case IDLegacy15:
		return "这是 15 位旧身份证号，请使用 18 位身份证号 / this is a legacy 15-digit ID number: use the 18-character number"
	case IDLength:
		return fmt.Sprintf("身份证号应为 18 位，现为 %d 位 / an ID number has 18 characters, got %d", e.Length, e.Length)
	case IDCharacters:
		return "身份证号应为 17 位数字加 1 位数字或 X / an ID number is 17 digits and a final digit or X"
	case IDBirthDate:
		return "身份证号中的出生日期无效，请核对 / the birth date inside the ID number is not a valid date: check for a typing error"
	case IDCheckDigit:
		return "身份证号校验位不符，请核对是否输错 / the ID number's check digit does not match: check for a typing error"
	case IDExcelNumber:
		return "身份证号被表格软件转成了数字（如 3.3E+17），请把该列设为文本后重新导出 / a spreadsheet turned the ID number into a number (like 3.3E+17): format the column as text and export again"
	}
	return ErrBadIDNumber.Error()
}

// Is makes errors.Is(err, ErrBadIDNumber) hold.
func (e *IDError) Is(target error) bool { return target == ErrBadIDNumber }

// weights are the GB 11643-1999 weights 2^(17-i) mod 11 of the first 17 digits.
var weights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

// checkChars maps the weighted sum mod 11 to the check character.
const checkChars = "10X98765432"

// CheckIDNumber checks a national ID number as typed or scanned (GB 11643:
// 6-digit region, 8-digit birth date, 3-digit sequence, check character)
// and returns it normalised: surrounding space removed, full-width digits
// made ASCII, a lower-case x made X. Legacy 15-digit numbers are refused
// with their own message, since the 18-character number is on every card
// issued since 2004. Errors are *IDError.
func CheckIDNumber(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", &IDError{Problem: IDEmpty}
	}
	if looksLikeExcelNumber(s) {
		return "", &IDError{Problem: IDExcelNumber}
	}
	var b [18]byte
	n := 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
		case r >= '０' && r <= '９':
			r = '0' + (r - '０')
		case r == 'x' || r == 'X' || r == 'ｘ' || r == 'Ｘ':
			r = 'X'
		default:
			return "", &IDError{Problem: IDCharacters}
		}
		if n < len(b) {
			b[n] = byte(r)
		}
		n++
	}
	switch {
	case n == 15:
		return "", &IDError{Problem: IDLegacy15}
	case n != 18:
		return "", &IDError{Problem: IDLength, Length: n}
	}
	sum := 0
	for i := range 17 {
		if b[i] == 'X' {
			return "", &IDError{Problem: IDCharacters}
		}
		sum += int(b[i]-'0') * weights[i]
	}
	if b[0] == '0' || !validDate(b[6:14]) {
		if b[0] == '0' {
			return "", &IDError{Problem: IDCharacters}
		}
		return "", &IDError{Problem: IDBirthDate}
	}
	if b[17] != checkChars[sum%11] {
		return "", &IDError{Problem: IDCheckDigit}
	}
	return string(b[:]), nil
}

// CheckDigit returns the GB 11643 check character for the first 17 digits
// of an ID number; it panics if they are not 17 ASCII digits. It is for
// tests and demo data that need numbers which pass CheckIDNumber.
func CheckDigit(first17 string) byte {
	if len(first17) != 17 {
		panic("roster.CheckDigit: need 17 digits")
	}
	sum := 0
	for i := range 17 {
		c := first17[i]
		if c < '0' || c > '9' {
			panic("roster.CheckDigit: need 17 digits")
		}
		sum += int(c-'0') * weights[i]
	}
	return checkChars[sum%11]
}

// validDate reports whether yyyymmdd is a calendar date from 1800 to 2099.
func validDate(d []byte) bool {
	num := func(p []byte) int {
		v := 0
		for _, c := range p {
			v = v*10 + int(c-'0')
		}
		return v
	}
	y, m, day := num(d[:4]), num(d[4:6]), num(d[6:8])
	if y < 1800 || y > 2099 || m < 1 || m > 12 || day < 1 {
		return false
	}
	days := [13]int{0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}[m]
	if m == 2 && (y%4 == 0 && y%100 != 0 || y%400 == 0) {
		days = 29
	}
	return day <= days
}

// looksLikeExcelNumber reports whether s is a number in scientific notation,
// what a spreadsheet makes of an 18-digit ID number in a General column.
func looksLikeExcelNumber(s string) bool {
	i := strings.IndexAny(s, "eE")
	if i < 1 || i == len(s)-1 {
		return false
	}
	mant, exp := s[:i], strings.TrimPrefix(s[i+1:], "+")
	dot := false
	for j := 0; j < len(mant); j++ {
		switch c := mant[j]; {
		case c == '.' && !dot:
			dot = true
		case c < '0' || c > '9':
			return false
		}
	}
	if exp == "" {
		return false
	}
	for j := 0; j < len(exp); j++ {
		if exp[j] < '0' || exp[j] > '9' {
			return false
		}
	}
	return true
}
