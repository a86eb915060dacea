package ssf

import (
	"github.com/go-json-experiment/json/jsontext"

	"github.com/oauthgate/oauthgate/verify"
)

// Limits of a subject identifier, beyond which a SET is refused.
const (
	maxIdentifier = 1024 // bytes of one member: iss, sub, email, id, jti
	maxAliases    = 16   // identifiers of an aliases subject
)

// A kind is the claim of a token that a subject is compared with.
type kind uint8

const (
	kindIssSub  kind = iota // iss_sub: iss and sub
	kindEmail               // email: the email claim
	kindOpaque              // opaque: sub, whatever the issuer
	kindJTI                 // jwt_id: iss and jti, one token
	kindSession             // a complex subject's session: the sid claim
	kindTenant              // a complex subject's tenant: Claims.Tenant
	kindCount
)

// A match says which tokens an event concerns: those whose claims equal
// a and b for kind (a is "" for kinds of one claim), and, for a complex
// subject, whose sid and tenant equal session and tenant where both sides
// have one (a token that does not name its session or tenant matches: it
// may be of that session).
type match struct {
	kind            kind
	a, b            string
	session, tenant string
}

// A lookupKey is one claim of a token to look entries up by.
type lookupKey struct {
	kind kind
	a, b string
}

// matches reports whether m concerns the token with claims c, found by k.
func (m *match) matches(k lookupKey, c *verify.Claims) bool {
	if m.kind != k.kind || m.a != k.a || m.b != k.b {
		return false
	}
	if m.session != "" {
		if sid := c.SessionID(); sid != "" && sid != m.session {
			return false
		}
	}
	if m.tenant != "" {
		if t := c.Tenant(); t != "" && t != m.tenant {
			return false
		}
	}
	return true
}

// claimKeys fills keys with the claims of c to look up, for the kinds in
// the bit set kinds, and returns how many it filled.
func claimKeys(c *verify.Claims, kinds uint32, keys *[kindCount]lookupKey) int {
	n := 0
	add := func(k kind, a, b string) {
		if kinds&(1<<k) != 0 && b != "" {
			keys[n] = lookupKey{kind: k, a: a, b: b}
			n++
		}
	}
	add(kindIssSub, c.Issuer(), c.Subject())
	add(kindEmail, "", c.Email())
	add(kindOpaque, "", c.Subject())
	add(kindJTI, c.Issuer(), c.ID())
	add(kindSession, "", c.SessionID())
	add(kindTenant, "", c.Tenant())
	return n
}

// A subjectJSON is a subject identifier (RFC 9493 §3, SSF 1.0 §3): a
// simple one (iss_sub, email, opaque, jwt_id), an aliases list of simple
// ones, or a complex subject of which user, session and tenant are read.
type subjectJSON struct {
	Format      string         `json:"format"`
	Iss         string         `json:"iss"`
	Sub         string         `json:"sub"`
	Email       string         `json:"email"`
	ID          string         `json:"id"`
	JTI         string         `json:"jti"`
	Identifiers []subjectJSON  `json:"identifiers"`
	User        jsontext.Value `json:"user"`
	Session     jsontext.Value `json:"session"`
	Tenant      jsontext.Value `json:"tenant"`
}

// matches returns what the subject s concerns, or an error matching
// ErrSubject.
func (s *subjectJSON) matches() ([]match, error) {
	switch s.Format {
	case "aliases":
		// RFC 9493 §3.2.1: several identifiers of one subject; an event
		// concerns the tokens that match any of them.
		if len(s.Identifiers) == 0 || len(s.Identifiers) > maxAliases {
			return nil, setError(ErrSubject, "identifiers")
		}
		out := make([]match, 0, len(s.Identifiers))
		for i := range s.Identifiers {
			m, err := s.Identifiers[i].simple()
			if err != nil {
				return nil, err
			}
			out = append(out, m)
		}
		return out, nil
	case "complex":
		m, err := s.complex()
		if err != nil {
			return nil, err
		}
		return []match{m}, nil
	}
	m, err := s.simple()
	if err != nil {
		return nil, err
	}
	return []match{m}, nil
}

// simple returns the match of a simple subject identifier.
func (s *subjectJSON) simple() (match, error) {
	var m match
	switch s.Format {
	case "iss_sub":
		m = match{kind: kindIssSub, a: s.Iss, b: s.Sub}
		if s.Iss == "" {
			return match{}, setError(ErrSubject, "iss")
		}
	case "email":
		m = match{kind: kindEmail, b: s.Email}
	case "opaque":
		m = match{kind: kindOpaque, b: s.ID}
	case "jwt_id":
		// SSF 1.0 §3.4.1: one JWT, by its issuer and jti.
		m = match{kind: kindJTI, a: s.Iss, b: s.JTI}
		if s.Iss == "" {
			return match{}, setError(ErrSubject, "iss")
		}
	default:
		return match{}, setError(ErrSubject, "format")
	}
	if m.b == "" || len(m.a) > maxIdentifier || len(m.b) > maxIdentifier {
		return match{}, setError(ErrSubject, s.Format)
	}
	return m, nil
}

// complex returns the match of a complex subject (SSF 1.0 §3.3): the user
// when there is one, narrowed by session and tenant; else the session,
// narrowed by tenant; else the tenant. Other members (device, application,
// group, org_unit) are not compared, which widens the event to every token
// of the user: failing closed. A session or tenant is an opaque id.
func (s *subjectJSON) complex() (match, error) {
	var session, tenant string
	for _, f := range [...]struct {
		v   jsontext.Value
		dst *string
	}{{s.Session, &session}, {s.Tenant, &tenant}} {
		if len(f.v) == 0 || f.v.Kind() == 'n' {
			continue
		}
		var member subjectJSON
		if err := unmarshal(f.v, &member); err != nil {
			return match{}, setError(ErrSubject, "complex")
		}
		if member.Format != "opaque" || member.ID == "" || len(member.ID) > maxIdentifier {
			return match{}, setError(ErrSubject, "complex")
		}
		*f.dst = member.ID
	}
	if len(s.User) != 0 && s.User.Kind() != 'n' {
		var user subjectJSON
		if err := unmarshal(s.User, &user); err != nil {
			return match{}, setError(ErrSubject, "user")
		}
		m, err := user.simple()
		if err != nil {
			return match{}, err
		}
		m.session, m.tenant = session, tenant
		return m, nil
	}
	switch {
	case session != "":
		return match{kind: kindSession, b: session, tenant: tenant}, nil
	case tenant != "":
		return match{kind: kindTenant, b: tenant}, nil
	}
	return match{}, setError(ErrSubject, "complex")
}
