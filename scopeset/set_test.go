package scopeset

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := map[string]struct {
		in      string
		want    []string
		wantErr bool
	}{
		"Empty":            {in: "", want: nil},
		"One":              {in: "read", want: []string{"read"}},
		"Several":          {in: "write read admin", want: []string{"admin", "read", "write"}},
		"Duplicates":       {in: "read read", want: []string{"read"}},
		"ExtraSpaces":      {in: "  read   write ", want: []string{"read", "write"}},
		"URLScope":         {in: "https://api.example.com/reports.read", want: []string{"https://api.example.com/reports.read"}},
		"Tab":              {in: "read\twrite", wantErr: true},
		"Newline":          {in: "read\nadmin", wantErr: true},
		"Control":          {in: "read\x00", wantErr: true},
		"DoubleQuote":      {in: `re"ad`, wantErr: true},
		"Backslash":        {in: `re\ad`, wantErr: true},
		"NonASCII":         {in: "lecture-é", wantErr: true},
		"DEL":              {in: "read\x7f", wantErr: true},
		"OnlySpaces":       {in: "   ", want: nil},
		"PunctuationValid": {in: "a:b/c.d!#$%&'()*+,-;<=>?@[]^_`{|}~", want: []string{"a:b/c.d!#$%&'()*+,-;<=>?@[]^_`{|}~"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := Parse(tc.in)
			if tc.wantErr {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("Parse(%q) error = %v, want ErrInvalid", tc.in, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q) error = %v", tc.in, err)
			}
			if !slices.Equal(got.Scopes(), tc.want) && !(len(tc.want) == 0 && got.Len() == 0) {
				t.Fatalf("Parse(%q) = %v, want %v", tc.in, got.Scopes(), tc.want)
			}
		})
	}
}

func TestNewRejectsInjection(t *testing.T) {
	tests := map[string][]string{
		"SpaceInElement": {"read:reports admin"},
		"EmptyElement":   {"read", ""},
		"TabInElement":   {"read\tadmin"},
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := New(in...); !errors.Is(err, ErrInvalid) {
				t.Fatalf("New(%q) error = %v, want ErrInvalid", in, err)
			}
		})
	}
}

func TestSetUnmarshalJSON(t *testing.T) {
	tests := map[string]struct {
		in      string
		want    string
		wantErr bool
	}{
		"String":          {in: `"read write"`, want: "read write"},
		"Array":           {in: `["write","read"]`, want: "read write"},
		"EmptyString":     {in: `""`, want: ""},
		"EmptyArray":      {in: `[]`, want: ""},
		"Null":            {in: `null`, want: ""},
		"Number":          {in: `42`, wantErr: true},
		"Object":          {in: `{"read":true}`, wantErr: true},
		"Bool":            {in: `true`, wantErr: true},
		"ArrayOfNumbers":  {in: `[1,2]`, wantErr: true},
		"ArrayMixed":      {in: `["read",1]`, wantErr: true},
		"ArrayNested":     {in: `[["read"]]`, wantErr: true},
		"ArrayInjection":  {in: `["read:reports admin"]`, wantErr: true},
		"StringWithTab":   {in: `"read\tadmin"`, wantErr: true},
		"EscapedControl":  {in: `"read\u0000"`, wantErr: true},
		"ArrayEmptyScope": {in: `["read",""]`, wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var v struct {
				Scope Set `json:"scope"`
			}
			err := json.Unmarshal([]byte(`{"scope":`+tc.in+`}`), &v)
			if tc.wantErr {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("Unmarshal(%s) error = %v, want ErrInvalid", tc.in, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Unmarshal(%s) error = %v", tc.in, err)
			}
			if got := v.Scope.String(); got != tc.want {
				t.Fatalf("Unmarshal(%s) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestScopeErrorHidesScope(t *testing.T) {
	_, err := Parse("secret-scope-value\tx")
	if err == nil || strings.Contains(err.Error(), "secret-scope-value") {
		t.Fatalf("Parse error = %v, want an error that does not repeat the input", err)
	}
}

func TestSetHasLarge(t *testing.T) {
	var in []string
	for c := 'a'; c <= 'z'; c++ {
		in = append(in, string(c)+"-scope")
	}
	s, err := New(in...)
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range in {
		if !s.Has(sc) {
			t.Errorf("Has(%q) = false, want true", sc)
		}
	}
	if s.Has("zz-scope") || s.Has("") {
		t.Error("Has reports a scope the set does not hold")
	}
	b, err := json.Marshal(s)
	if err != nil || !strings.HasPrefix(string(b), `"a-scope b-scope`) {
		t.Fatalf("Marshal = %s, %v", b, err)
	}
}

func FuzzSetUnmarshalJSON(f *testing.F) {
	for _, seed := range []string{`"read write"`, `["a","b"]`, `null`, `42`, `{"a":1}`, `["a b"]`, `"\u0000"`, `[`, ``} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var s Set
		if err := s.UnmarshalJSON(data); err != nil {
			return
		}
		// Every scope accepted must be a valid scope token, and the string
		// form must parse back to the same set.
		for _, sc := range s.Scopes() {
			if validToken(sc) != nil {
				t.Fatalf("accepted invalid scope %q", sc)
			}
		}
		back, err := Parse(s.String())
		if err != nil || back.String() != s.String() {
			t.Fatalf("round trip of %q = %q, %v", s.String(), back.String(), err)
		}
	})
}
