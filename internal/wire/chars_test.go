package wire

import (
	"strconv"
	"strings"
	"testing"
)

func TestOfAlnum(t *testing.T) {
	for _, c := range []struct {
		s, extra string
		want     bool
	}{
		{"", "", true}, // the length rule is the caller's
		{"AZaz09", "", true},
		{"T_1-2|3*4@5", "_-|*@", true},
		{"T_1", "", false},
		{"T@1", "_-|*", false},
		{"a b", "_", false},
		{"a\x00", "", false},
		{"a\n", "", false},
		{"é", "", false},           // bytes, not runes: non-ASCII is refused
		{"\xff", "\xff", true},     // extra is bytes too; no caller passes such
		{"a/../b", "_-|*@", false}, // a path segment stays one segment
	} {
		if got := OfAlnum(c.s, c.extra); got != c.want {
			t.Errorf("OfAlnum(%q, %q) = %v, want %v", c.s, c.extra, got, c.want)
		}
	}
}

func TestParseDigits(t *testing.T) {
	for _, c := range []struct {
		s    string
		max  int
		want int64
		ok   bool
	}{
		{"0", 18, 0, true},
		{"007", 18, 7, true},
		{"1554208460", 12, 1554208460, true},
		{"999999999999999999", 18, 999999999999999999, true},
		{"", 18, 0, false},
		{"1234567890123", 12, 0, false},
		{"-1", 18, 0, false},
		{"+1", 18, 0, false},
		{" 1", 18, 0, false},
		{"1 ", 18, 0, false},
		{"1.0", 18, 0, false},
		{"1e3", 18, 0, false},
		{"0x1", 18, 0, false},
		{"١", 18, 0, false}, // Arabic-Indic one: a digit to unicode, not here
	} {
		v, ok := ParseDigits(c.s, c.max)
		if v != c.want || ok != c.ok {
			t.Errorf("ParseDigits(%q, %d) = %d, %v; want %d, %v", c.s, c.max, v, ok, c.want, c.ok)
		}
	}
}

// FuzzParseDigits holds ParseDigits to strconv on every input: the same value for
// 1 to 18 ASCII digits, a refusal for anything else.
func FuzzParseDigits(f *testing.F) {
	for _, s := range []string{"0", "0100", "123456789012345678", "1234567890123456789", "-1", "1_000", "", "٣"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, ok := ParseDigits(s, 18)
		plain := len(s) >= 1 && len(s) <= 18 && strings.Trim(s, "0123456789") == ""
		if ok != plain {
			t.Fatalf("ParseDigits(%q) ok = %v, want %v", s, ok, plain)
		}
		if !plain {
			return
		}
		if want, err := strconv.ParseInt(s, 10, 64); err != nil || v != want {
			t.Fatalf("ParseDigits(%q) = %d, strconv says %d (%v)", s, v, want, err)
		}
	})
}

func TestOneLine(t *testing.T) {
	long := strings.Repeat("长", 100) // 300 bytes: cut inside the 86th rune
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"PARAM_ERROR", "PARAM_ERROR"},
		{"bad\r\nlevel=ERROR msg=forged", "bad  level=ERROR msg=forged"},
		{"tab\there\x00\x1b[31m\x7f", "tab here  [31m "},
		{"a\xffb", "a?b"},
		{long, strings.Repeat("长", 85) + "…"},
		{strings.Repeat("a", OneLineMax), strings.Repeat("a", OneLineMax)},
		{strings.Repeat("a", OneLineMax+1), strings.Repeat("a", OneLineMax) + "…"},
	} {
		if got := OneLine(c.in); got != c.want {
			t.Errorf("OneLine(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestIsHex(t *testing.T) {
	for _, c := range []struct {
		s    string
		want bool
	}{
		{"", true}, // the length rule is the caller's
		{"5F1C72E2A8931B72A2E13AF8DEE92471EB397115", true},
		{"d7ce59d1f522d701", true},
		{"0x12", false},
		{"12 34", false},
		{"12:34", false}, // openssl -serial's colon form is not WeChat's
		{"G1", false},
		{"ａ1", false}, // a full-width letter is not ASCII hex
		{"1\n", false},
	} {
		if got := IsHex(c.s); got != c.want {
			t.Errorf("IsHex(%q) = %v, want %v", c.s, got, c.want)
		}
	}
}

func TestNormSerial(t *testing.T) {
	for _, c := range []struct{ s, want string }{
		{"", ""},
		{"0", "0"},
		{"000", "0"},
		{"0D7CE59D1F522D701", "D7CE59D1F522D701"},
		{"d7ce59d1f522d701", "D7CE59D1F522D701"},
		{"00A0", "A0"}, // zeros after the first digit stay
	} {
		if got := NormSerial(c.s); got != c.want {
			t.Errorf("NormSerial(%q) = %q, want %q", c.s, got, c.want)
		}
	}
}
