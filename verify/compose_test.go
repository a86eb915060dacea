package verify

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestFunc(t *testing.T) {
	t.Parallel()
	errStore := errors.New("store: connection reset")
	unavailable := &UnavailableError{Op: "lookup", Err: errStore}
	revoked := &TokenError{Reason: ErrInactive}
	good := testClaims(t, map[string]any{"sub": "alice", "exp": time.Now().Add(time.Hour).Unix()})
	tests := map[string]struct {
		claims   *Claims
		err      error
		wantErr  error // nil: the function's claims come back; else matched with errors.Is
		wantSame bool  // the function's error must come back unchanged
	}{
		"Found":              {claims: good},
		"FoundNoExpiry":      {claims: testClaims(t, map[string]any{"sub": "svc"})},
		"NotFound":           {wantErr: ErrInactive},
		"TokenError":         {err: revoked, wantErr: ErrInactive, wantSame: true},
		"Unavailable":        {err: unavailable, wantErr: ErrUnavailable, wantSame: true},
		"OtherError":         {err: errStore, wantErr: errStore, wantSame: true},
		"ClaimsWithError":    {claims: good, err: errStore, wantErr: errStore, wantSame: true},
		"Expired":            {claims: testClaims(t, map[string]any{"exp": time.Now().Add(-time.Hour).Unix()}), wantErr: ErrExpired},
		"NotYetValid":        {claims: testClaims(t, map[string]any{"nbf": time.Now().Add(time.Hour).Unix()}), wantErr: ErrNotYetValid},
		"ExpiredWithinEpoch": {claims: testClaims(t, map[string]any{"exp": 1}), wantErr: ErrExpired},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var gotToken string
			v := Func(func(_ context.Context, token string) (*Claims, error) {
				gotToken = token
				return tc.claims, tc.err
			})
			c, err := v.Verify(t.Context(), "tok")
			if gotToken != "tok" {
				t.Errorf("function got token %q, want tok", gotToken)
			}
			if tc.wantErr == nil {
				if err != nil || c != tc.claims {
					t.Fatalf("Verify() = %p, %v, want the function's claims %p", c, err, tc.claims)
				}
				return
			}
			if c != nil {
				t.Errorf("Verify() claims = %+v, want nil with an error", c)
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Verify() error = %v, want %v", err, tc.wantErr)
			}
			if tc.wantSame && err != tc.err {
				t.Errorf("Verify() error = %#v, want the function's error unchanged", err)
			}
			if !tc.wantSame && !errors.Is(err, ErrInvalidToken) {
				t.Errorf("Verify() error = %v, want it to match ErrInvalidToken", err)
			}
			if tc.err == errStore && (errors.Is(err, ErrInvalidToken) || errors.Is(err, ErrUnavailable)) {
				t.Errorf("Verify() error = %v, want neither invalid token nor unavailable", err)
			}
		})
	}
}

func TestFunc_Nil(t *testing.T) {
	t.Parallel()
	var f Func
	c, err := f.Verify(t.Context(), "tok")
	if c != nil || err == nil || errors.Is(err, ErrInvalidToken) || errors.Is(err, ErrUnavailable) {
		t.Errorf("nil Func.Verify() = %v, %v, want a plain error (a denial)", c, err)
	}
}

// shapeRecorder is a fake Verifier that records the tokens it sees.
type shapeRecorder struct {
	mu     sync.Mutex
	tokens []string
	err    error
}

func (r *shapeRecorder) Verify(_ context.Context, token string) (*Claims, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tokens = append(r.tokens, token)
	if r.err != nil {
		return nil, r.err
	}
	return &Claims{subject: token}, nil
}

func shapeB64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestByShape(t *testing.T) {
	t.Parallel()
	payload := shapeB64(`{"sub":"alice"}`)
	sig := shapeB64(strings.Repeat("s", 64))
	tests := map[string]struct {
		token   string
		wantJWT bool
	}{
		"JWS":              {token: shapeB64(`{"alg":"ES256","typ":"at+jwt","kid":"k1"}`) + "." + payload + "." + sig, wantJWT: true},
		"JWSSpacedHeader":  {token: shapeB64(" {\"alg\" : \"RS256\"}") + "." + payload + "." + sig, wantJWT: true},
		"AlgNone":          {token: shapeB64(`{"alg":"none"}`) + "." + payload + ".", wantJWT: true},
		"AlgNotString":     {token: shapeB64(`{"alg":1}`) + "." + payload + "." + sig, wantJWT: true},
		"HugeHeader":       {token: shapeB64(`{"alg":"`+strings.Repeat("A", 4000)+`"}`) + "." + payload + "." + sig, wantJWT: true},
		"NoAlg":            {token: shapeB64(`{"typ":"JWT"}`) + "." + payload + "." + sig},
		"AlgUpperCase":     {token: shapeB64(`{"ALG":"ES256"}`) + "." + payload + "." + sig},
		"HeaderNotJSON":    {token: shapeB64(`alg`) + "." + payload + "." + sig},
		"HeaderJSONArray":  {token: shapeB64(`["alg"]`) + "." + payload + "." + sig},
		"HeaderBadJSON":    {token: shapeB64(`{"alg":"ES256"`) + "." + payload + "." + sig},
		"HeaderPadded":     {token: base64.URLEncoding.EncodeToString([]byte(`{"alg":"ES256"}`)) + "=." + payload + "." + sig},
		"HeaderStdBase64":  {token: "+/" + shapeB64(`{"alg":"ES256"}`) + "." + payload + "." + sig},
		"EmptyPayload":     {token: shapeB64(`{"alg":"ES256"}`) + ".." + sig},
		"EmptyHeader":      {token: "." + payload + "." + sig},
		"TwoSegments":      {token: shapeB64(`{"alg":"ES256"}`) + "." + payload},
		"FourSegments":     {token: shapeB64(`{"alg":"ES256"}`) + "." + payload + "." + sig + "." + sig},
		"JWE":              {token: shapeB64(`{"alg":"RSA-OAEP","enc":"A256GCM"}`) + ".a.b.c.d"},
		"Opaque":           {token: "2YotnFZFEjr1zCsicMWpAA"},
		"HydraOpaque":      {token: "ory_at_9kQm2x7b.Xc0Zr4"},
		"ThreeDotsOpaque":  {token: "abc.def.ghi"},
		"Empty":            {token: ""},
		"NonASCIISegments": {token: "é.é.é"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			jwt, opaque := &shapeRecorder{}, &shapeRecorder{}
			v, err := ByShape(jwt, opaque)
			if err != nil {
				t.Fatalf("ByShape() error = %v", err)
			}
			c, err := v.Verify(t.Context(), tc.token)
			if err != nil || c.Subject() != tc.token {
				t.Fatalf("Verify() = %v, %v, want the chosen verifier's claims", c, err)
			}
			gotJWT := len(jwt.tokens) == 1 && len(opaque.tokens) == 0
			gotOpaque := len(opaque.tokens) == 1 && len(jwt.tokens) == 0
			if tc.wantJWT && !gotJWT || !tc.wantJWT && !gotOpaque {
				t.Errorf("Verify() called jwt %d times and opaque %d times, want only %s",
					len(jwt.tokens), len(opaque.tokens), map[bool]string{true: "jwt", false: "opaque"}[tc.wantJWT])
			}
		})
	}
}

func TestByShape_NoFallThrough(t *testing.T) {
	t.Parallel()
	for _, routeErr := range []error{
		&TokenError{Reason: ErrSignature},
		&UnavailableError{Op: "fetch JWKS"},
	} {
		jwt, opaque := &shapeRecorder{err: routeErr}, &shapeRecorder{}
		v, err := ByShape(jwt, opaque)
		if err != nil {
			t.Fatalf("ByShape() error = %v", err)
		}
		token := shapeB64(`{"alg":"HS256"}`) + "." + shapeB64(`{}`) + "." + shapeB64("forged")
		if _, err := v.Verify(t.Context(), token); err != routeErr || len(opaque.tokens) != 0 {
			t.Errorf("Verify(rejected JWS) = %v with %d opaque calls, want %v and no fallback", err, len(opaque.tokens), routeErr)
		}
	}
}

func TestByShape_Required(t *testing.T) {
	t.Parallel()
	var typedNil *Introspection
	var nilFunc Func
	ok := &shapeRecorder{}
	tests := map[string]struct {
		jwt, opaque Verifier
		wantErr     string
	}{
		"NilJWT":         {jwt: nil, opaque: ok, wantErr: "jwt"},
		"NilOpaque":      {jwt: ok, opaque: nil, wantErr: "opaque"},
		"TypedNilOpaque": {jwt: ok, opaque: typedNil, wantErr: "opaque"},
		"NilFuncJWT":     {jwt: nilFunc, opaque: ok, wantErr: "jwt"},
		"Both":           {jwt: ok, opaque: ok},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			v, err := ByShape(tc.jwt, tc.opaque)
			if tc.wantErr == "" {
				if err != nil || v == nil {
					t.Fatalf("ByShape() = %v, %v, want a verifier", v, err)
				}
				return
			}
			if err == nil || v != nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ByShape() = %v, %v, want an error naming %s", v, err, tc.wantErr)
			}
		})
	}
}

func TestByShape_OpaqueRouteDoesNotAllocate(t *testing.T) {
	for _, token := range []string{"2YotnFZFEjr1zCsicMWpAA", "ory_at_9kQm2x7b.Xc0Zr4"} {
		if n := testing.AllocsPerRun(100, func() { shapeIsJWS(token) }); n != 0 {
			t.Errorf("shapeIsJWS(%q) allocates %v times, want 0", token, n)
		}
	}
}

// testClaims returns the claims of the claim set m, read by ParseClaims.
func testClaims(tb testing.TB, m map[string]any) *Claims {
	tb.Helper()
	raw, err := json.Marshal(m)
	if err != nil {
		tb.Fatal(err)
	}
	c, err := ParseClaims(raw)
	if err != nil {
		tb.Fatalf("ParseClaims(%s) error = %v", raw, err)
	}
	return c
}
