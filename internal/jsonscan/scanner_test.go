package jsonscan

import (
	"encoding/json"
	"testing"
)

var validSeeds = []string{
	``, ` `, `{}`, `[]`, `"a"`, `"\u00e9\n"`, `"\x"`, `"\u12"`, "\"\x01\"", "\"\xff\"",
	`0`, `-0`, `01`, `1.`, `.5`, `1e`, `1e+5`, `-1.5E-3`, `+1`, `true`, `tru`, `nul`, `null `,
	`{"a":1,}`, `[1,]`, `{"a" 1}`, `{"a":1 "b":2}`, `[[[[]]]]`, `{"a":{"b":[1,{"c":null}]}}`,
	`{"a":1}x`, `{1:2}`, "\t{\r\n}\n", `{}x`, `{}]]]]`, `[]x`, `{} `, `""x`,
}

func TestValid(t *testing.T) {
	for _, in := range validSeeds {
		if got, want := Valid([]byte(in)), json.Valid([]byte(in)); got != want {
			t.Errorf("Valid(%q) = %t, want %t (encoding/json)", in, got, want)
		}
	}
}

func TestValidDepth(t *testing.T) {
	deep := make([]byte, 0, 2*MaxDepth+2)
	for range MaxDepth + 1 {
		deep = append(deep, '[')
	}
	for range MaxDepth + 1 {
		deep = append(deep, ']')
	}
	if got, want := Valid(deep), json.Valid(deep); got != want {
		t.Errorf("Valid(%d nested arrays) = %t, want %t (encoding/json)", MaxDepth+1, got, want)
	}
}

func TestStrPlain(t *testing.T) {
	tests := []struct {
		in        string
		wantPlain bool
		want      string
	}{
		{`"abc"`, true, "abc"},
		{`"a\"b"`, false, `a"b`},
		{`"é"`, false, "é"},
		{`"\u0041"`, false, "A"},
	}
	for _, tc := range tests {
		s := New([]byte(tc.in))
		start, end, plain, ok := s.Str()
		if !ok || plain != tc.wantPlain {
			t.Fatalf("Str(%q) plain, ok = %t, %t; want %t, true", tc.in, plain, ok, tc.wantPlain)
		}
		got := string(s.Bytes()[start:end])
		if !plain {
			got = Unquote(s.Bytes()[start-1 : end+1])
		}
		if got != tc.want {
			t.Errorf("Str(%q) value = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzValid holds Valid, and so every Scanner method, to encoding/json's
// idea of valid JSON, on whole documents.
func FuzzValid(f *testing.F) {
	for _, in := range validSeeds {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := Valid(b), json.Valid(b); got != want {
			t.Errorf("Valid(%q) = %t, encoding/json says %t", b, got, want)
		}
	})
}
