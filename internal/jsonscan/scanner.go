package jsonscan

import "encoding/json"

// MaxDepth bounds the nesting of arrays and objects, as encoding/json does.
const MaxDepth = 10000

// A Scanner walks a JSON document held in memory. Its methods advance past
// what they recognise and report whether it was valid; after a false
// result the position is unspecified and the document must be treated as
// invalid. The zero Scanner scans an empty document.
type Scanner struct {
	b []byte
	i int
}

// New returns a Scanner positioned at the start of b. b must not be
// modified while the Scanner or any string it returned is in use.
func New(b []byte) Scanner { return Scanner{b: b} }

// Bytes returns the document being scanned.
func (s *Scanner) Bytes() []byte { return s.b }

// Pos returns the offset of the next unread byte.
func (s *Scanner) Pos() int { return s.i }

// Reset moves the scanner back to offset i, which an earlier Pos returned.
func (s *Scanner) Reset(i int) { s.i = i }

// AtEnd reports whether the whole document has been read.
func (s *Scanner) AtEnd() bool { return s.i == len(s.b) }

// Peek returns the next byte, or 0 at the end of the document.
func (s *Scanner) Peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// SkipWS skips insignificant white space.
func (s *Scanner) SkipWS() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// Consume skips c if it is the next byte, and reports whether it was.
func (s *Scanner) Consume(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// Str scans a string literal and returns the bounds of its contents,
// quotes excluded. plain reports that the contents are printable ASCII
// without escapes, so that b[start:end] is the string's value as it is;
// otherwise [Unquote] of b[start-1:end+1] gives the value.
func (s *Scanner) Str() (start, end int, plain, ok bool) {
	if !s.Consume('"') {
		return 0, 0, false, false
	}
	start, plain = s.i, true
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			end = s.i
			s.i++
			return start, end, plain, true
		case c < 0x20:
			return 0, 0, false, false
		case c == '\\':
			plain = false
			s.i++
			if s.i >= len(s.b) {
				return 0, 0, false, false
			}
			switch s.b[s.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i++
			case 'u':
				if s.i+5 > len(s.b) {
					return 0, 0, false, false
				}
				for _, h := range s.b[s.i+1 : s.i+5] {
					if !isHex(h) {
						return 0, 0, false, false
					}
				}
				s.i += 5
			default:
				return 0, 0, false, false
			}
		default:
			if c >= 0x80 {
				plain = false
			}
			s.i++
		}
	}
	return 0, 0, false, false
}

// Num scans a number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *Scanner) Num() bool {
	b, i := s.b, s.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		i = digits(b, i)
	default:
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return false
		}
		i = digits(b, i)
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return false
		}
		i = digits(b, i)
	}
	s.i = i
	return true
}

// Value scans any JSON value whose enclosing nesting depth is depth (0 for
// a whole document, 1 for a member of the top-level object).
func (s *Scanner) Value(depth int) bool {
	switch s.Peek() {
	case '"':
		_, _, _, ok := s.Str()
		return ok
	case '{':
		return s.container(depth, '}', true)
	case '[':
		return s.container(depth, ']', false)
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	}
	return s.Num()
}

// container scans an object (members) or array after its opening byte.
func (s *Scanner) container(depth int, closing byte, members bool) bool {
	if depth >= MaxDepth {
		return false
	}
	s.i++
	s.SkipWS()
	if s.Consume(closing) {
		return true
	}
	for {
		if members {
			if _, _, _, ok := s.Str(); !ok {
				return false
			}
			s.SkipWS()
			if !s.Consume(':') {
				return false
			}
			s.SkipWS()
		}
		if !s.Value(depth + 1) {
			return false
		}
		s.SkipWS()
		if !s.Consume(',') {
			return s.Consume(closing)
		}
		s.SkipWS()
	}
}

// literal scans the literal lit ("true", "false" or "null").
func (s *Scanner) literal(lit string) bool {
	if len(s.b)-s.i >= len(lit) && string(s.b[s.i:s.i+len(lit)]) == lit {
		s.i += len(lit)
		return true
	}
	return false
}

// Valid reports whether b is one JSON value, surrounded by nothing but
// white space: what encoding/json's Valid reports.
func Valid(b []byte) bool {
	s := New(b)
	s.SkipWS()
	if !s.Value(0) {
		return false
	}
	s.SkipWS()
	return s.AtEnd()
}

// Unquote returns the value of lit, a string literal (quotes included)
// that [Scanner.Str] accepted. Invalid UTF-8 becomes U+FFFD, as in
// encoding/json.
func Unquote(lit []byte) string {
	var v string
	if err := json.Unmarshal(lit, &v); err != nil {
		// Unreachable for a literal Str accepted; an impossible value keeps
		// callers that compare it fail-closed.
		return "\x00invalid"
	}
	return v
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func digits(b []byte, i int) int {
	for i < len(b) && isDigit(b[i]) {
		i++
	}
	return i
}
