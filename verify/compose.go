package verify

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"time"

	"github.com/oauthgate/oauthgate/internal/b64url"
)

// Func adapts an application's own token lookup, such as a query on the
// service's token table, to a [Verifier], the way http.HandlerFunc adapts a
// function to an http.Handler:
//
//	v := verify.Func(func(ctx context.Context, token string) (*verify.Claims, error) {
//		row, err := db.Token(ctx, token)
//		...
//		return verify.ParseClaims(row.ClaimsJSON) // {"sub":"alice","scope":"read","exp":…}
//	})
//
// Verify holds the function to the [Verifier] contract and fails closed:
//
//   - nil claims with a nil error (token not found) become a [*TokenError]
//     with reason [ErrInactive];
//   - an error is returned unchanged and the claims are dropped. Return a
//     [*TokenError] for a bad token and an [*UnavailableError] when the
//     store cannot be reached; any other error is a denial to the caller,
//     reported as neither;
//   - claims are held to the time rule of every verifier in this package:
//     expired from exp on ([ErrExpired]), not valid before nbf
//     ([ErrNotYetValid]), not issued, nor its user authenticated, in the
//     future (iat, auth_time: [ErrIssuedInFuture]).
//     A function type carries no configuration, so this check reads
//     time.Now with no leeway; a lookup that needs an injected clock
//     checks time itself.
//
// The function must be safe for concurrent use and must never put the
// token into an error.
type Func func(ctx context.Context, token string) (*Claims, error)

// Verify calls f and enforces the contract described at [Func].
func (f Func) Verify(ctx context.Context, token string) (*Claims, error) {
	if f == nil {
		return nil, errors.New("verify: Verify called on a nil Func")
	}
	c, err := f(ctx, token)
	switch {
	case err != nil:
		return nil, err
	case c == nil:
		return nil, &TokenError{Reason: ErrInactive}
	}
	// See the Func doc: no clock can be injected here. The rule is the one
	// every verifier applies, with the leeway of the claims (none for
	// ParseClaims).
	if err := checkTimes(time.Now(), c); err != nil {
		return nil, err
	}
	return c, nil
}

// ByShape returns a [Verifier] that sends tokens shaped like a compact JWS
// (RFC 7515 §7.1: three base64url segments whose first decodes to a JSON
// object with an "alg" member) to jwt, and every other token to opaque. It
// lets a resource server accept JWT access tokens and opaque ones, checked
// by [Introspection] or a [Func], side by side.
//
// The shape only chooses the verifier; it proves nothing. A token that looks
// like a JWS but fails jwt's checks is rejected, never retried on opaque, so
// a forged JWS cannot fall through to a laxer check. Both verifiers are
// required. The result is safe for concurrent use if both verifiers are.
func ByShape(jwt, opaque Verifier) (Verifier, error) {
	if shapeIsNil(jwt) {
		return nil, errors.New("verify: ByShape needs a JWT verifier; jwt is nil")
	}
	if shapeIsNil(opaque) {
		return nil, errors.New("verify: ByShape needs an opaque-token verifier; opaque is nil")
	}
	return &byShape{jwt: jwt, opaque: opaque}, nil
}

func shapeIsNil(v Verifier) bool {
	if v == nil {
		return true
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Pointer, reflect.Func, reflect.Map, reflect.Slice, reflect.Chan, reflect.Interface:
		return rv.IsNil()
	}
	return false
}

type byShape struct {
	jwt, opaque Verifier
}

func (b *byShape) Verify(ctx context.Context, token string) (*Claims, error) {
	if shapeIsJWS(token) {
		return b.jwt.Verify(ctx, token)
	}
	return b.opaque.Verify(ctx, token)
}

// shapeMaxJWSHeader bounds the protected header ByShape decodes. Real headers
// are a few hundred bytes; a bigger one still has a JWS shape and goes to
// the JWT verifier, whose own size cap rejects it.
const shapeMaxJWSHeader = 4 << 10

// shapeIsJWS reports whether token has the shape of a compact JWS. It
// does not allocate for tokens that are plainly not one.
func shapeIsJWS(token string) bool {
	header, rest, ok := strings.Cut(token, ".")
	if !ok {
		return false
	}
	payload, sig, ok := strings.Cut(rest, ".")
	if !ok || strings.Contains(sig, ".") {
		return false
	}
	// The signature is empty for alg "none": route it to the JWT verifier,
	// which refuses it, rather than to introspection.
	if header == "" || payload == "" || !b64url.Alphabet(header) || !b64url.Alphabet(payload) || !b64url.Alphabet(sig) {
		return false
	}
	if len(header) > shapeMaxJWSHeader {
		return true
	}
	raw, err := base64.RawURLEncoding.DecodeString(header)
	if err != nil || !bytes.HasPrefix(bytes.TrimLeft(raw, " \t\r\n"), []byte("{")) {
		return false
	}
	// A map: struct fields would also match "ALG".
	var h map[string]json.RawMessage
	if json.Unmarshal(raw, &h) != nil {
		return false
	}
	_, ok = h["alg"]
	return ok
}
