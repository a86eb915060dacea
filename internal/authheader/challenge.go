package authheader

import "strings"

// MaxNonce bounds a DPoP nonce a client keeps: the server's input to every
// later proof, so it is not allowed to grow without limit.
const MaxNonce = 1 << 10

// DemandsNonce reports whether one of challenges, the values of a
// WWW-Authenticate field, is a DPoP challenge with error use_dpop_nonce
// (RFC 9449 §7.1, §8). A value may hold several challenges, comma
// separated (RFC 9110 §11.6.1), as a server or an intermediary that joins
// the field's lines sends them. A value that cannot be read to its end
// (an unclosed quoted-string) demands nothing, nor does a parameter
// without a value.
func DemandsNonce(challenges []string) bool {
	for _, ch := range challenges {
		if demandsNonce(ch) {
			return true
		}
	}
	return false
}

// demandsNonce reads one field value, challenge by challenge: an element
// that is a token not followed by "=" starts a challenge, with that
// token as its scheme; an element name=value (a token or a
// quoted-string) is a parameter of the challenge it follows. What follows
// a scheme on its element (a token68, or the first parameter) is read as
// the next element, so a token68 is either a parameter that matches no
// name or a scheme that is not DPoP.
func demandsNonce(field string) bool {
	dpop := false
	for s := field; ; {
		s = strings.TrimLeft(s, " \t,")
		n := strings.IndexAny(s, " \t=,")
		switch {
		case s == "":
			return false
		case n < 0:
			n = len(s)
		}
		name, rest := s[:n], strings.TrimLeft(s[n:], " \t")
		if !strings.HasPrefix(rest, "=") {
			dpop = strings.EqualFold(name, "DPoP") // a new challenge
			s = rest
			continue
		}
		rest = strings.TrimLeft(rest[1:], " \t")
		var value string
		if strings.HasPrefix(rest, `"`) {
			var ok bool
			if value, rest, ok = quoted(rest); !ok {
				return false
			}
		} else {
			end := strings.IndexAny(rest, " \t,")
			if end < 0 {
				end = len(rest)
			}
			value, rest = rest[:end], rest[end:]
		}
		if dpop && strings.EqualFold(name, "error") && value == "use_dpop_nonce" {
			return true
		}
		s = rest
	}
}

// quoted reads the quoted-string that s starts with (RFC 9110 §5.6.4):
// its content, without the quotes and escapes, and what follows it; ok is
// false if it does not end.
func quoted(s string) (content, rest string, ok bool) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			return b.String(), s[i+1:], true
		case '\\':
			if i++; i == len(s) {
				return "", "", false
			}
			b.WriteByte(s[i])
		default:
			b.WriteByte(c)
		}
	}
	return "", "", false
}

// ValidNonce reports whether n is a nonce of RFC 9449 §8.1's syntax,
// 1*NQCHAR (printable ASCII without '"' and '\'), of at most [MaxNonce]
// bytes: what a client may put in its next proofs.
func ValidNonce(n string) bool {
	if n == "" || len(n) > MaxNonce {
		return false
	}
	for i := 0; i < len(n); i++ {
		if c := n[i]; c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
