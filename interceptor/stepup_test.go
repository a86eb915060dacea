package interceptor_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/oauthgate/oauthgate/interceptor"
	testpb "github.com/oauthgate/oauthgate/internal/testproto/oauthgatetest/v1"
	"github.com/oauthgate/oauthgate/oauthtest"
	oauthgatev1 "github.com/oauthgate/oauthgate/proto/oauthgate/v1"
	"github.com/oauthgate/oauthgate/scopes"
	"github.com/oauthgate/oauthgate/verify"
)

// TestStepUp is RFC 9470 on gRPC: every outcome of the acr and max_age
// requirements, for a unary call and each kind of stream, with the
// challenge parsed back by a strict www-authenticate parser.
func TestStepUp(t *testing.T) {
	const mfa = "urn:example:mfa"
	// An acr value could not travel in acr_values="…" unambiguously.
	_, err := scopes.NewPolicy(scopes.FromFiles(testpb.File_oauthgatetest_v1_library_proto),
		scopes.ForMethod("/oauthgatetest.v1.ShelfService/Move", scopes.AllOf("library.read").WithACR("urn:example:hw key")))
	if err == nil || !strings.Contains(err.Error(), "acr value") {
		t.Fatalf("NewPolicy(acr value with a space) error = %v, want it refused", err)
	}
	policy, err := scopes.NewPolicy(scopes.FromFiles(testpb.File_oauthgatetest_v1_library_proto),
		scopes.ForMethod("/oauthgatetest.v1.ShelfService/Move", scopes.AllOf("library.read").WithACR(mfa, "urn:example:hw").WithMaxAge(300*time.Second)),
		scopes.ForMethod("/oauthgatetest.v1.ShelfService/Burn", scopes.AllOf("library.read").WithMaxAge(60*time.Second)))
	if err != nil {
		t.Fatal(err)
	}
	clock := oauthtest.NewClock(time.Unix(1_800_000_000, 0))
	iss := oauthtest.NewIssuer(t, oauthtest.IssuerConfig{Now: clock.Now})
	keys, err := verify.NewStaticKeySet(iss.JWKS().Keys...)
	if err != nil {
		t.Fatal(err)
	}
	jwt, err := verify.NewJWT(keys, verify.JWTConfig{Issuer: iss.URL, Audiences: []string{oauthtest.DefaultAudience}, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	gate, err := interceptor.New(jwt, policy, interceptor.WithRealm("library"), interceptor.WithClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(gate.ServerOptions()...)
	testpb.RegisterLibraryServiceServer(srv, &library{})
	testpb.RegisterShelfServiceServer(srv, shelf{})
	conn := oauthtest.ServeGRPC(t, srv)
	shelf := testpb.NewShelfServiceClient(conn)
	ctx := testContext(t)
	now := clock.Now()
	tok := func(scope string, claims map[string]any) string {
		return iss.Token(t, oauthtest.Token{Scopes: strings.Fields(scope), Claims: claims})
	}
	tests := map[string]struct {
		token      string
		call       func(...grpc.CallOption) error
		wantCode   codes.Code // OK: past the gate, so the test shelf's Unimplemented
		wantReason string
		wantParams map[string]string // of the Bearer challenge
	}{
		"ACRAndFresh":   {token: tok("library.read", map[string]any{"acr": mfa, "auth_time": now.Add(-time.Minute).Unix()})},
		"OtherACRFresh": {token: tok("library.read", map[string]any{"acr": "urn:example:hw", "auth_time": now.Unix()})},
		"ExactlyMaxAge": {token: tok("library.read", map[string]any{"acr": mfa, "auth_time": now.Add(-300 * time.Second).Unix()})},
		"WrongACR": {token: tok("library.read", map[string]any{"acr": "urn:example:pwd", "auth_time": now.Unix()}),
			wantCode: codes.Unauthenticated, wantReason: "INSUFFICIENT_USER_AUTHENTICATION",
			wantParams: map[string]string{"error": "insufficient_user_authentication", "acr_values": mfa + " urn:example:hw", "max_age": "300",
				"error_description": "a stronger and more recent authentication is required"}},
		"NoACR": {token: tok("library.read", map[string]any{"auth_time": now.Unix()}),
			wantCode: codes.Unauthenticated, wantReason: "INSUFFICIENT_USER_AUTHENTICATION",
			wantParams: map[string]string{"error": "insufficient_user_authentication", "acr_values": mfa + " urn:example:hw"}},
		"Stale": {token: tok("library.read", map[string]any{"acr": mfa, "auth_time": now.Add(-301 * time.Second).Unix()}),
			wantCode: codes.Unauthenticated, wantReason: "INSUFFICIENT_USER_AUTHENTICATION",
			wantParams: map[string]string{"max_age": "300"}},
		"NoAuthTime": {token: tok("library.read", map[string]any{"acr": mfa}),
			wantCode: codes.Unauthenticated, wantReason: "INSUFFICIENT_USER_AUTHENTICATION"},
		// An auth_time a year ahead would otherwise meet max_age for a year.
		"FutureAuthTime": {token: tok("library.read", map[string]any{"acr": mfa, "auth_time": now.AddDate(1, 0, 0).Unix()}),
			wantCode: codes.Unauthenticated, wantReason: "INVALID_TOKEN",
			wantParams: map[string]string{"error": "invalid_token"}},
		"ScopeFailureWins": {token: tok("openid", map[string]any{"acr": "urn:example:pwd"}),
			wantCode: codes.PermissionDenied, wantReason: "INSUFFICIENT_SCOPE",
			wantParams: map[string]string{"error": "insufficient_scope", "scope": "library.read"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var hdr metadata.MD
			_, err := shelf.Move(ctx, &testpb.MoveRequest{}, oauthtest.Bearer(tc.token), grpc.Header(&hdr))
			if tc.wantCode == codes.OK {
				if status.Code(err) != codes.Unimplemented {
					t.Fatalf("Move() = %v, want it past the gate", err)
				}
				return
			}
			if status.Code(err) != tc.wantCode {
				t.Fatalf("Move() = %v, want %v %s", err, tc.wantCode, tc.wantReason)
			}
			if r := errorInfo(t, err).GetReason(); r != tc.wantReason {
				t.Fatalf("Move() reason = %s, want %s", r, tc.wantReason)
			}
			www := hdr.Get("www-authenticate")
			if len(www) != 1 {
				t.Fatalf("www-authenticate = %q, want one challenge", www)
			}
			scheme, params, perr := parseChallenge(www[0])
			if perr != nil || scheme != "Bearer" || params["realm"] != "library" {
				t.Fatalf("parseChallenge(%q) = %s, %v, %v", www[0], scheme, params, perr)
			}
			for k, v := range tc.wantParams {
				if params[k] != v {
					t.Errorf("challenge %s = %q, want %q", k, params[k], v)
				}
			}
			md := errorInfo(t, err).GetMetadata()
			if tc.wantReason == "INSUFFICIENT_USER_AUTHENTICATION" && (md["acr_values"] != params["acr_values"] || md["max_age"] != params["max_age"]) {
				t.Errorf("ErrorInfo metadata = %v, want the challenge's acr_values and max_age", md)
			}
		})
	}

	// max_age only.
	_, err = shelf.Burn(ctx, &testpb.BurnRequest{}, oauthtest.Bearer(tok("library.read", map[string]any{"auth_time": now.Add(-2 * time.Minute).Unix()})))
	if errorInfo(t, err).GetReason() != "INSUFFICIENT_USER_AUTHENTICATION" || !strings.Contains(status.Convert(err).Message(), "more recent") {
		t.Errorf("Burn(stale auth_time) = %v, want a max_age step-up", err)
	}
}

// TestStepUp_Streams holds every kind of call to step-up rules declared
// in the .proto (acr_values and max_age on the library's rules).
func TestStepUp_Streams(t *testing.T) {
	policy := editedLibraryPolicy(t, func(r *oauthgatev1.Rule) {
		r.AcrValues = []string{"urn:example:mfa"}
		r.MaxAge = proto.Int64(300)
	})
	v := newFakeVerifier(t)
	for _, tc := range []struct{ token, acr string }{{"pwd", "urn:example:pwd"}, {"mfa", "urn:example:mfa"}} {
		raw := fmt.Sprintf(`{"sub":"alice","scope":"library.read library.write library.admin","aud":"https://library.example.com","acr":%q,"auth_time":%d,"exp":%d}`,
			tc.acr, time.Now().Add(-time.Minute).Unix(), time.Now().Add(time.Hour).Unix())
		c, err := verify.ParseClaims([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		v.add(tc.token, func() (*verify.Claims, error) { return c, nil })
	}
	gate, err := interceptor.New(v, policy, interceptor.WithRealm("library"))
	if err != nil {
		t.Fatal(err)
	}
	client := testpb.NewLibraryServiceClient(startServer(t, serverConfig{gate: gate}))
	ctx := testContext(t)
	for kind, got := range callKinds(withToken(ctx, "mfa"), client) {
		if got.err != nil {
			t.Errorf("%s with acr mfa: %v, want OK", kind, got.err)
		}
	}
	for kind, got := range callKinds(withToken(ctx, "pwd"), client) {
		if status.Code(got.err) != codes.Unauthenticated || errorInfo(t, got.err).GetReason() != "INSUFFICIENT_USER_AUTHENTICATION" {
			t.Errorf("%s with acr pwd: %v, want Unauthenticated INSUFFICIENT_USER_AUTHENTICATION", kind, got.err)
			continue
		}
		www := got.md.Get("www-authenticate")
		if len(www) != 1 {
			t.Errorf("%s: www-authenticate = %q", kind, www)
			continue
		}
		if _, params, err := parseChallenge(www[0]); err != nil || params["acr_values"] != "urn:example:mfa" || params["max_age"] != "300" {
			t.Errorf("%s: challenge %q = %v, %v", kind, www[0], params, err)
		}
	}
}

// TestStepUp_Description: the message and error_description say which
// authentication the rule asks for: stronger (acr_values), more recent
// (max_age), or both.
func TestStepUp_Description(t *testing.T) {
	tests := map[string]struct {
		edit func(*oauthgatev1.Rule)
		want string
	}{
		"ACR":    {edit: func(r *oauthgatev1.Rule) { r.AcrValues = []string{"urn:example:mfa"} }, want: "a stronger authentication is required"},
		"MaxAge": {edit: func(r *oauthgatev1.Rule) { r.MaxAge = proto.Int64(300) }, want: "a more recent authentication is required"},
		"Both": {edit: func(r *oauthgatev1.Rule) { r.AcrValues, r.MaxAge = []string{"urn:example:mfa"}, proto.Int64(300) },
			want: "a stronger and more recent authentication is required"},
	}
	v := newFakeVerifier(t)
	// Neither acr nor auth_time: every step-up rule refuses it.
	raw := fmt.Sprintf(`{"sub":"alice","scope":"library.read","aud":"https://library.example.com","exp":%d}`, time.Now().Add(time.Hour).Unix())
	c, err := verify.ParseClaims([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	v.add("plain", func() (*verify.Claims, error) { return c, nil })
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			gate, err := interceptor.New(v, editedLibraryPolicy(t, tc.edit))
			if err != nil {
				t.Fatal(err)
			}
			client := testpb.NewLibraryServiceClient(startServer(t, serverConfig{gate: gate}))
			var hdr metadata.MD
			_, err = client.GetBook(withToken(testContext(t), "plain"), &testpb.GetBookRequest{}, grpc.Header(&hdr))
			if status.Code(err) != codes.Unauthenticated || status.Convert(err).Message() != tc.want {
				t.Fatalf("GetBook() = %v, want Unauthenticated %q", err, tc.want)
			}
			www := hdr.Get("www-authenticate")
			if len(www) != 1 {
				t.Fatalf("www-authenticate = %q, want one challenge", www)
			}
			if _, params, err := parseChallenge(www[0]); err != nil || params["error_description"] != tc.want {
				t.Errorf("challenge %q: error_description = %q (%v), want %q", www[0], params["error_description"], err, tc.want)
			}
		})
	}
}

// parseChallenge parses one challenge of a www-authenticate value by the
// grammar of RFC 9110 §11.6.1 — auth-scheme [ 1*SP auth-param *( OWS ","
// OWS auth-param ) ], auth-param = token BWS "=" BWS ( token /
// quoted-string ) — strictly: a value it cannot parse whole is an error.
// Parameter names are lower-cased; quoted-pairs are unescaped.
func parseChallenge(v string) (scheme string, params map[string]string, err error) {
	isTchar := func(c byte) bool {
		return c > 0x20 && c < 0x7f && !strings.ContainsRune("\"(),/:;<=>?@[\\]{}", rune(c))
	}
	token := func() string {
		start := 0
		for start < len(v) && isTchar(v[start]) {
			start++
		}
		t := v[:start]
		v = v[start:]
		return t
	}
	ows := func() { v = strings.TrimLeft(v, " \t") }
	if scheme = token(); scheme == "" {
		return "", nil, errors.New("no auth-scheme")
	}
	params = map[string]string{}
	if v == "" {
		return scheme, params, nil
	}
	if v[0] != ' ' {
		return "", nil, errors.New("no space after the scheme")
	}
	for {
		ows()
		name := strings.ToLower(token())
		ows()
		if name == "" || v == "" || v[0] != '=' {
			return "", nil, fmt.Errorf("bad auth-param at %q", v)
		}
		v = v[1:]
		ows()
		var val string
		if v != "" && v[0] == '"' {
			var b strings.Builder
			i := 1
			for ; i < len(v) && v[i] != '"'; i++ {
				if v[i] == '\\' {
					i++
					if i == len(v) {
						return "", nil, errors.New("dangling escape")
					}
				}
				b.WriteByte(v[i])
			}
			if i == len(v) {
				return "", nil, errors.New("unterminated quoted-string")
			}
			val, v = b.String(), v[i+1:]
		} else if val = token(); val == "" {
			return "", nil, fmt.Errorf("empty value for %s", name)
		}
		if _, dup := params[name]; dup {
			return "", nil, fmt.Errorf("repeated auth-param %s", name)
		}
		params[name] = val
		ows()
		if v == "" {
			return scheme, params, nil
		}
		if v[0] != ',' {
			return "", nil, fmt.Errorf("junk after %s: %q", name, v)
		}
		v = v[1:]
	}
}

func TestParseChallenge(t *testing.T) {
	scheme, p, err := parseChallenge(`Bearer realm="a \"q\" b", error=invalid_token, scope="x y"`)
	if err != nil || scheme != "Bearer" || p["realm"] != `a "q" b` || p["error"] != "invalid_token" || p["scope"] != "x y" {
		t.Fatalf("parseChallenge() = %s, %v, %v", scheme, p, err)
	}
	for _, bad := range []string{"", `Bearer realm="x`, `Bearer realm=`, `Bearer realm="a" junk`, `Bearer a="1", a="2"`, "Bearer\trealm=x"} {
		if _, _, err := parseChallenge(bad); err == nil {
			t.Errorf("parseChallenge(%q) succeeded", bad)
		}
	}
}
