package authheader

// Parse parses RFC 6750 §2.1 credentials, scheme 1*SP b64token, with
// scheme ("bearer" or "dpop", lower case; RFC 9449 §7.1 uses the same
// syntax) matched case-insensitively (RFC 9110 §11.1). It returns the
// token and true, or "" and false for anything else.
func Parse(v, scheme string) (string, bool) {
	if len(v) <= len(scheme) || v[len(scheme)] != ' ' {
		return "", false
	}
	for i := range len(scheme) {
		if v[i]|0x20 != scheme[i] {
			return "", false
		}
	}
	tok := v[len(scheme)+1:]
	for len(tok) > 0 && tok[0] == ' ' {
		tok = tok[1:]
	}
	if !IsB64Token(tok) {
		return "", false
	}
	return tok, true
}

// Token returns the token of credentials v in either scheme a protected
// call accepts, Bearer (RFC 6750) or DPoP (RFC 9449), and whether v is
// such credentials.
func Token(v string) (string, bool) {
	if tok, ok := Parse(v, "bearer"); ok {
		return tok, true
	}
	return Parse(v, "dpop")
}

// IsB64Token reports whether s matches
// b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
// Every protected call runs it over the whole token, so it checks eight
// bytes per step with a table, without a branch per byte.
func IsB64Token(s string) bool {
	i := 0
	for len(s)-i >= 8 {
		b := s[i : i+8]
		if b64TokenChar[b[0]]&b64TokenChar[b[1]]&b64TokenChar[b[2]]&b64TokenChar[b[3]]&
			b64TokenChar[b[4]]&b64TokenChar[b[5]]&b64TokenChar[b[6]]&b64TokenChar[b[7]] == 0 {
			break
		}
		i += 8
	}
	for i < len(s) && b64TokenChar[s[i]] == 1 {
		i++
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}

// b64TokenChar is static data, never written: 1 for the characters of
// b64token before its "=" padding, 0 for every other byte.
var b64TokenChar = func() (t [256]uint8) {
	for c := range 256 {
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' {
			t[c] = 1
		}
	}
	return t
}()
