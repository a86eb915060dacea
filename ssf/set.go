package ssf

import (
	"context"
	"errors"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/oauthgate/oauthgate/internal/b64url"
	"github.com/oauthgate/oauthgate/internal/josekeys"
	"github.com/oauthgate/oauthgate/internal/mediatype"
	"github.com/oauthgate/oauthgate/internal/numericdate"
	"github.com/oauthgate/oauthgate/verify"
)

// maxEvents bounds the events of one SET; SSF 1.0 §4 puts one in each.
const maxEvents = 16

// A setBody is the part of a SET's claim set that verify.ParseClaims does
// not read: the subject and the events (RFC 8417 §2.2, SSF 1.0 §4).
type setBody struct {
	SubID  jsontext.Value            `json:"sub_id"`
	TOE    jsontext.Value            `json:"toe"`
	Events map[string]jsontext.Value `json:"events"`
}

// An eventBody is the part of an event payload read here: the subject of
// CAEP and RISC events that carry it in the event (before SSF 1.0 moved it
// to sub_id), and CAEP's event_timestamp.
type eventBody struct {
	Subject        jsontext.Value `json:"subject"`
	EventTimestamp jsontext.Value `json:"event_timestamp"`
}

// unmarshal decodes v with the rules of verify's claim reader: exact,
// case-sensitive names, no repeated name, valid UTF-8.
func unmarshal(v []byte, dst any) error { return json.Unmarshal(v, dst) }

// verifySET checks the compact SET raw of transmitter t and returns the
// changes it asks for and its jti. It changes nothing: the caller applies
// the changes and records the jti.
func (t *transmitter) verifySET(ctx context.Context, raw string) ([]change, string, error) {
	if len(raw) > t.maxSize {
		return nil, "", setError(ErrMalformed, "size")
	}
	// RFC 7515 §7.1, and canonical base64url (STYLE R27): one SET, one
	// string, so that a jti cannot be replayed under another spelling.
	if !b64url.CanonicalCompact(raw) {
		return nil, "", setError(ErrMalformed, "")
	}
	jws, err := jose.ParseSignedCompact(raw, t.algorithms)
	if err != nil {
		if _, ok := errors.AsType[*jose.ErrUnexpectedSignatureAlgorithm](err); ok {
			return nil, "", setError(ErrKey, "alg")
		}
		return nil, "", setError(ErrMalformed, "")
	}
	if len(jws.Signatures) != 1 {
		return nil, "", setError(ErrMalformed, "signatures")
	}
	h := &jws.Signatures[0].Protected
	if err := checkHeader(h); err != nil {
		return nil, "", err
	}
	keys, err := t.keys.Keys(ctx, h.KeyID)
	if err != nil {
		if errors.Is(err, verify.ErrUnavailable) {
			return nil, "", err
		}
		return nil, "", setError(ErrKey, "kid")
	}
	alg := jose.SignatureAlgorithm(h.Algorithm)
	var payload []byte
	for i := range keys {
		if !josekeys.Fits(&keys[i], alg) {
			continue
		}
		if p, err := jws.Verify(keys[i].Key); err == nil {
			payload = p
			break
		}
	}
	if payload == nil {
		return nil, "", setError(ErrKey, "")
	}
	return t.readClaims(payload)
}

// checkHeader applies RFC 8417 §2.3 and the header rules of verify.JWT.
func checkHeader(h *jose.Header) error {
	typ, ok := h.ExtraHeaders[jose.HeaderType].(string)
	if !ok || !mediatype.Is(typ, "secevent+jwt") {
		// RFC 8417 §4.3: the explicit type keeps a SET from being taken
		// for an access or ID token, and the reverse.
		return setError(ErrType, "typ")
	}
	if _, ok := h.ExtraHeaders["crit"]; ok {
		return setError(ErrType, "crit")
	}
	if _, ok := h.ExtraHeaders["b64"]; ok {
		return setError(ErrType, "b64")
	}
	if _, ok := h.ExtraHeaders[jose.HeaderContentType]; ok {
		return setError(ErrType, "cty") // a nested token
	}
	return nil
}

// readClaims reads and checks the claim set of a SET whose signature
// verified, and returns its changes and jti.
func (t *transmitter) readClaims(payload []byte) ([]change, string, error) {
	// The one reader of registered claims: iss, aud, iat, exp and jti are
	// read as in an access token (NumericDate, aud string or array, no
	// repeated claim).
	c, err := verify.ParseClaims(payload)
	if err != nil {
		return nil, "", setError(ErrMalformed, claimOf(err))
	}
	var body setBody
	if err := c.Decode(&body); err != nil {
		return nil, "", setError(ErrMalformed, "")
	}
	now := t.now()
	switch {
	case c.Issuer() != t.issuer:
		return nil, "", setError(ErrIssuer, "iss")
	case !c.HasAudience(t.audience):
		return nil, "", setError(ErrAudience, "aud")
	case c.ID() == "" || len(c.ID()) > maxIdentifier:
		return nil, "", setError(ErrMalformed, "jti")
	case c.IssuedAt().IsZero():
		return nil, "", setError(ErrMalformed, "iat")
	case c.IssuedAt().After(now.Add(t.leeway)):
		return nil, "", setError(ErrIssuedInFuture, "iat")
	case c.IssuedAt().Before(now.Add(-t.maxAge)):
		return nil, "", setError(ErrExpired, "iat")
	case !c.Expiry().IsZero() && !now.Before(c.Expiry().Add(t.leeway)):
		return nil, "", setError(ErrExpired, "exp")
	case len(body.Events) == 0 || len(body.Events) > maxEvents:
		return nil, "", setError(ErrMalformed, "events")
	}
	// RFC 8417 §2.2 toe: when the event happened; else iat.
	at := c.IssuedAt()
	if toe, ok, err := date(body.TOE); err != nil {
		return nil, "", setError(ErrMalformed, "toe")
	} else if ok {
		at = toe
	}
	var changes []change
	for typ, v := range body.Events {
		var ev eventBody
		if v.Kind() != '{' || unmarshal(v, &ev) != nil {
			return nil, "", setError(ErrMalformed, "events")
		}
		eff := effectOf(typ)
		if eff == effectNone {
			continue
		}
		when := at
		// CAEP 1.0 §2: event_timestamp is when the event happened.
		if ts, ok, err := date(ev.EventTimestamp); err != nil {
			return nil, "", setError(ErrMalformed, "event_timestamp")
		} else if ok {
			when = ts
		}
		if when.After(now.Add(t.leeway)) {
			return nil, "", setError(ErrIssuedInFuture, "event_timestamp")
		}
		subject, err := eventSubject(body.SubID, ev.Subject)
		if err != nil {
			return nil, "", err
		}
		ms, err := subject.matches()
		if err != nil {
			return nil, "", err
		}
		for _, m := range ms {
			changes = append(changes, change{m: m, at: when, effect: eff})
		}
	}
	return changes, c.ID(), nil
}

// eventSubject returns the subject of an event: sub_id (SSF 1.0 §4.1), or
// the event's own subject member (CAEP and RISC before SSF 1.0). When both
// are present they must be the same JSON value.
func eventSubject(subID, inEvent jsontext.Value) (*subjectJSON, error) {
	v := subID
	switch {
	case len(v) == 0 || v.Kind() == 'n':
		v = inEvent
	case len(inEvent) != 0 && inEvent.Kind() != 'n' && !sameJSON(subID, inEvent):
		return nil, setError(ErrSubject, "sub_id")
	}
	if len(v) == 0 || v.Kind() != '{' {
		return nil, setError(ErrSubject, "sub_id")
	}
	var s subjectJSON
	if err := unmarshal(v, &s); err != nil {
		return nil, setError(ErrSubject, "sub_id")
	}
	return &s, nil
}

// sameJSON reports whether a and b are the same JSON value, whitespace
// and member order aside.
func sameJSON(a, b jsontext.Value) bool {
	a, b = a.Clone(), b.Clone()
	if a.Canonicalize() != nil || b.Canonicalize() != nil {
		return false
	}
	return string(a) == string(b)
}

// date reads an optional NumericDate member.
func date(v jsontext.Value) (time.Time, bool, error) {
	if len(v) == 0 || v.Kind() == 'n' {
		return time.Time{}, false, nil
	}
	if v.Kind() != '0' {
		return time.Time{}, false, ErrMalformed
	}
	t, ok := numericdate.Parse(v)
	if !ok {
		return time.Time{}, false, ErrMalformed
	}
	return t, true, nil
}

// claimOf returns the claim a verify error names, if any.
func claimOf(err error) string {
	if te, ok := errors.AsType[*verify.TokenError](err); ok {
		return te.Claim
	}
	return ""
}
