package authheader

import "strings"

// MaxNonce bounds a DPoP nonce a client keeps: the server's input to every
// later proof, so it is not allowed to grow without limit.
const MaxNonce = 1 << 10

// DemandsNonce reports whether one of challenges, the values of a
// WWW-Authenticate field, is a DPoP challenge with error use_dpop_nonce
// (RFC 9449 §7.1, §8). A challenge that cannot be read to its end (an
// unclosed quoted-string, a parameter without a value) demands nothing.
func DemandsNonce(challenges []string) bool {
	for _, ch := range challenges {
		scheme, params, _ := strings.Cut(strings.TrimSpace(ch), " ")
		if strings.EqualFold(scheme, "DPoP") && hasParam(params, "error", "use_dpop_nonce") {
			return true
		}
	}
	return false
}

// hasParam reports whether the auth-params of a challenge (RFC 9110
// §11.2) hold name=value, quoted or as a token, with the parameter
// name matched without regard to case.
func hasParam(params, name, value string) bool {
	for rest := params; rest != ""; {
		rest = strings.TrimLeft(rest, " \t,")
		key, after, ok := strings.Cut(rest, "=")
		if !ok {
			return false
		}
		after = strings.TrimLeft(after, " \t")
		var v string
		if strings.HasPrefix(after, `"`) {
			if v, rest, ok = quoted(after); !ok {
				return false
			}
		} else {
			v, rest, _ = strings.Cut(after, ",")
			v = strings.TrimRight(v, " \t")
		}
		if strings.EqualFold(strings.TrimSpace(key), name) && v == value {
			return true
		}
	}
	return false
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
