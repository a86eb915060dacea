package interceptor_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/oauthgate/oauthgate/interceptor"
	testpb "github.com/oauthgate/oauthgate/internal/testproto/oauthgatetest/v1"
	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/verify"
)

// The attack catalogue: every row is a real token built here, sent end to
// end through a grpc-go server guarded by the interceptor, whose verifier
// is a verify.JWT over a verify.RemoteKeySet fetching the JWKS of an
// oauthtest issuer on 127.0.0.1. Each row is sent to three deployments:
//
//   - JWT: the JWT verifier alone;
//   - Issuers: verify.NewIssuers over that verifier and a second tenant's,
//     whose key this test holds, to sign hand-built bytes;
//   - ByShape: verify.ByShape over the JWT verifier and introspection at the
//     same issuer, so opaque-looking tokens are introspected.
//
// and with each kind of RPC. Every row asserts the status code, the
// ErrorInfo reason, the client-facing description (which names the check
// that fired), and that the handler was not reached. SECURITY.md lists the
// rows in prose; keep both in step.

// Client-facing descriptions, one per verify reason (verify/errors.go), and
// the interceptor's own.
const (
	descMalformed    = "the access token is malformed"
	descTooLarge     = "the access token is too large"
	descUnsupported  = "the access token uses an unsupported format"
	descAlgorithm    = "the access token is signed with an algorithm that is not accepted"
	descType         = "the token is not an access token"
	descUnknownKey   = "the access token is signed by an unknown key"
	descSignature    = "the access token signature is invalid"
	descIssuer       = "the access token is from an unexpected issuer"
	descAudience     = "the access token is not intended for this API"
	descExpired      = "the access token expired"
	descNotYetValid  = "the access token is not valid yet"
	descIssuedFuture = "the access token was issued in the future"
	descMissingClaim = "the access token lacks a required claim"
	descInactive     = "the access token is not active"
	descBadRequest   = "the authorization metadata must hold exactly one Bearer token"
	descScope        = "the access token lacks a required scope"
)

// attackOutcome is what one call must end with.
type attackOutcome struct {
	code   codes.Code
	reason string // ErrorInfo reason; "" for OK
	desc   string // status message
}

func rejected(desc string) attackOutcome {
	return attackOutcome{code: codes.Unauthenticated, reason: interceptor.ReasonInvalidToken, desc: desc}
}

var (
	allowed      = attackOutcome{code: codes.OK}
	badRequest   = attackOutcome{code: codes.Unauthenticated, reason: interceptor.ReasonInvalidRequest, desc: descBadRequest}
	insufficient = attackOutcome{code: codes.PermissionDenied, reason: interceptor.ReasonInsufficientScope, desc: descScope}
)

// Deployments of the catalogue.
const (
	depJWT     = "JWT"
	depIssuers = "Issuers"
	depByShape = "ByShape"
)

var attackDeployments = []string{depJWT, depIssuers, depByShape}

// allScopes meets the rule of every library method.
var allScopes = []string{"library.read", "library.write", "library.admin"}

// attackClock is a settable clock shared by the issuers, the key sets and
// the verifiers of one test.
type attackClock struct {
	mu sync.Mutex
	t  time.Time
}

func newAttackClock() *attackClock { return &attackClock{t: time.Now().Truncate(time.Second)} }

func (c *attackClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *attackClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// rawSigner signs hand-built JWS bytes with an ES256 key, so a test can put
// anything in a header or payload, duplicate members included. It serves
// its public key as a JWKS on 127.0.0.1 and counts the requests.
type rawSigner struct {
	kid      string
	srv      *httptest.Server
	requests atomic.Int64

	mu  sync.Mutex
	key *ecdsa.PrivateKey // guarded by mu
}

func newRawSigner(t testing.TB, kid string) *rawSigner {
	t.Helper()
	s := &rawSigner{kid: kid}
	s.rotate(t)
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.requests.Add(1)
		jwks, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{s.publicJWK()}})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jwks)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// rotate replaces the signer's key, keeping its kid.
func (s *rawSigner) rotate(t testing.TB) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.key = key
}

func (s *rawSigner) privateKey() *ecdsa.PrivateKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.key
}

// URL is the issuer identifier of the signer's tenant.
func (s *rawSigner) URL() string { return s.srv.URL }

// JWKSURL is where the signer serves its public key.
func (s *rawSigner) JWKSURL() string { return s.srv.URL + "/jwks.json" }

func (s *rawSigner) publicJWK() jose.JSONWebKey {
	return jose.JSONWebKey{Key: s.privateKey().Public(), KeyID: s.kid, Algorithm: string(jose.ES256), Use: "sig"}
}

// sign returns header.payload.signature with an ES256 signature (RFC 7518
// §3.4: R and S, 32 bytes each) over the exact bytes given.
func (s *rawSigner) sign(t testing.TB, header, payload string) string {
	t.Helper()
	input := b64(header) + "." + b64(payload)
	digest := sha256.Sum256([]byte(input))
	r, ss, err := ecdsa.Sign(rand.Reader, s.privateKey(), digest[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	ss.FillBytes(sig[32:])
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// jsonObject encodes members in the order given, so a test can write
// duplicates. Values are JSON-encoded unless they are json.RawMessage.
func jsonObject(t testing.TB, members ...any) string {
	t.Helper()
	if len(members)%2 != 0 {
		t.Fatal("jsonObject needs name, value pairs")
	}
	var b strings.Builder
	b.WriteByte('{')
	for i := 0; i < len(members); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		name, _ := json.Marshal(members[i])
		v, err := json.Marshal(members[i+1])
		if err != nil {
			t.Fatal(err)
		}
		b.Write(name)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.String()
}

// attackFixture is everything the catalogue runs against.
type attackFixture struct {
	clock    *attackClock
	iss      *oauthtest.Issuer // the trusted issuer
	other    *oauthtest.Issuer // an untrusted issuer with the same kid scheme
	tenant   *rawSigner        // a second trusted issuer (Issuers deployment)
	attacker *rawSigner        // an attacker's key and JWKS server
	keys     *verify.RemoteKeySet
	secret   string // introspection client secret
	logs     *syncBuffer
	clients  map[string]testpb.LibraryServiceClient
	reached  atomic.Int64 // calls that passed the gate
}

// attackCooldown is the UnknownKeyCooldown of the catalogue's key sets, on
// the fixture's clock, which only moves when a row says so.
const attackCooldown = time.Minute

func newAttackFixture(t *testing.T) *attackFixture {
	t.Helper()
	f := &attackFixture{
		clock:    newAttackClock(),
		logs:     &syncBuffer{},
		attacker: newRawSigner(t, "attacker-1"),
		clients:  map[string]testpb.LibraryServiceClient{},
		secret:   "introspection-secret-" + strconv.FormatInt(time.Now().UnixNano(), 36),
	}
	f.iss = oauthtest.NewIssuer(t, oauthtest.IssuerConfig{
		Now:          f.clock.Now,
		ClientID:     "library-api",
		ClientSecret: f.secret,
	})
	f.other = oauthtest.NewIssuer(t, oauthtest.IssuerConfig{Now: f.clock.Now})
	f.tenant = newRawSigner(t, "tenant-1")
	// Every key the rows use exists before the key set's first fetch, which
	// the frozen clock makes its only fetch until a row advances it.
	for _, alg := range []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.EdDSA} {
		f.iss.Token(t, oauthtest.Token{Algorithm: alg})
	}

	newJWT := func(issuer, jwksURL string) (*verify.JWT, *verify.RemoteKeySet) {
		ks, err := verify.NewRemoteKeySet(verify.RemoteKeySetConfig{
			URL: jwksURL, InsecureAllowHTTP: true, Timeout: 2 * time.Second,
			UnknownKeyCooldown: attackCooldown, Now: f.clock.Now,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = ks.Close() })
		j, err := verify.NewJWT(ks, verify.JWTConfig{Issuer: issuer, Audiences: []string{oauthtest.DefaultAudience}, Now: f.clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		return j, ks
	}
	jwtA, keys := newJWT(f.iss.URL, f.iss.EndpointURL(oauthtest.EndpointJWKS))
	f.keys = keys
	jwtT, _ := newJWT(f.tenant.URL(), f.tenant.JWKSURL())
	issuers, err := verify.NewIssuers(jwtA, jwtT)
	if err != nil {
		t.Fatal(err)
	}
	intro, err := verify.NewIntrospection(verify.IntrospectionConfig{
		Endpoint: f.iss.EndpointURL(oauthtest.EndpointIntrospection), ClientID: "library-api", ClientSecret: verify.Secret(f.secret),
		Issuer: f.iss.URL, Audiences: []string{oauthtest.DefaultAudience}, InsecureAllowHTTP: true,
		Timeout: 2 * time.Second, Now: f.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	byShape, err := verify.ByShape(jwtA, intro)
	if err != nil {
		t.Fatal(err)
	}

	logger := slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	policy := newPolicy(t)
	countUnary := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		f.reached.Add(1)
		return h(ctx, req)
	}
	countStream := func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		f.reached.Add(1)
		return h(srv, ss)
	}
	for name, v := range map[string]verify.Verifier{depJWT: jwtA, depIssuers: issuers, depByShape: byShape} {
		gate, err := interceptor.New(v, policy, interceptor.WithLogger(logger), interceptor.WithRealm("library"))
		if err != nil {
			t.Fatal(err)
		}
		conn := startServer(t, serverConfig{
			unary:    []grpc.UnaryServerInterceptor{gate.Unary, countUnary},
			streamIC: []grpc.StreamServerInterceptor{gate.Stream, countStream},
		})
		f.clients[name] = testpb.NewLibraryServiceClient(conn)
	}
	return f
}

// token mints a token from the trusted issuer with every scope the library
// needs, plus opts.
func (f *attackFixture) token(t testing.TB, opts ...oauthtest.Token) string {
	t.Helper()
	return f.iss.Token(t, append([]oauthtest.Token{{Scopes: allScopes}}, opts...)...)
}

// kid returns the kid of the trusted issuer's current key for alg, creating
// the key if needed.
func (f *attackFixture) kid(t testing.TB, alg jose.SignatureAlgorithm) string {
	t.Helper()
	f.iss.Token(t, oauthtest.Token{Algorithm: alg})
	for _, k := range f.iss.JWKS().Keys {
		if k.Algorithm == string(alg) {
			return k.KeyID
		}
	}
	t.Fatalf("issuer publishes no %s key", alg)
	return ""
}

// publicKey returns the trusted issuer's current public key for alg.
func (f *attackFixture) publicKey(t testing.TB, alg jose.SignatureAlgorithm) jose.JSONWebKey {
	t.Helper()
	kid := f.kid(t, alg)
	for _, k := range f.iss.JWKS().Keys {
		if k.KeyID == kid {
			return k
		}
	}
	t.Fatalf("no key %s", kid)
	return jose.JSONWebKey{}
}

// claims returns a valid claim set for issuer as name, value pairs, with
// extra appended (so an extra member duplicates a standard one).
func (f *attackFixture) claims(issuer string, extra ...any) []any {
	now := f.clock.Now()
	return append([]any{
		"iss", issuer, "sub", "mallory", "aud", oauthtest.DefaultAudience,
		"exp", now.Add(5 * time.Minute).Unix(), "iat", now.Unix(),
		"scope", strings.Join(allScopes, " "),
	}, extra...)
}

// tenantToken signs a token of the tenant with the given header and payload
// members.
func (f *attackFixture) tenantToken(t testing.TB, header, payload []any) string {
	t.Helper()
	return f.tenant.sign(t, jsonObject(t, header...), jsonObject(t, payload...))
}

// unsigned returns header.payload. with an empty signature.
func unsigned(header, payload string) string { return b64(header) + "." + b64(payload) + "." }

// segments splits a compact token.
func segments(tok string) []string { return strings.Split(tok, ".") }

// withSpareBit returns another encoding of the same bytes as the base64url
// segment s: a spare low bit of its last character set, or, when s has no
// spare bits, s with its last character repeated (no longer canonical
// either: a length of 1 modulo 4 or trailing garbage).
func withSpareBit(s string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	if len(s)%4 == 0 {
		return s + s[len(s)-1:]
	}
	i := strings.IndexByte(alphabet, s[len(s)-1])
	return s[:len(s)-1] + string(alphabet[i|1])
}

// headerOf decodes the protected header of a compact JWS.
func headerOf(t testing.TB, tok string) map[string]any {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(segments(tok)[0])
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

// hs256 signs header.payload with HMAC-SHA256 under key: how an attacker
// forges a token with a public key used as an HMAC secret.
func hs256(header, payload string, key []byte) string {
	input := b64(header) + "." + b64(payload)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(input))
	return input + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// attackerCert is a self-signed certificate for the attacker's key, for x5c.
func attackerCert(t testing.TB, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "auth.example.com"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// attackRow is one entry of the catalogue.
type attackRow struct {
	name string
	// token builds the token; it runs once, when the row's turn comes.
	token func(t *testing.T, f *attackFixture) string
	// auth renders the authorization metadata values; nil means
	// "Bearer <token>".
	auth func(tok string) []string
	want attackOutcome
	// per overrides want for some deployments.
	per map[string]attackOutcome
	// only limits the row to these deployments.
	only []string
	// taint lists attacker-chosen strings that must never reach the logs.
	taint []string
}

// attackRows returns the catalogue. Rows run in order: the rotation rows
// come last because they replace the issuer's keys.
func attackRows() []attackRow {
	validToken := func(t *testing.T, f *attackFixture) string { return f.token(t) }
	mint := func(opts ...oauthtest.Token) func(*testing.T, *attackFixture) string {
		return func(t *testing.T, f *attackFixture) string { return f.token(t, opts...) }
	}
	algNone := func(alg string) func(*testing.T, *attackFixture) string {
		return func(t *testing.T, f *attackFixture) string {
			return unsigned(jsonObject(t, "alg", alg, "typ", "at+jwt", "kid", f.kid(t, jose.ES256)),
				jsonObject(t, f.claims(f.iss.URL)...))
		}
	}
	attackerSigned := func(header ...any) func(*testing.T, *attackFixture) string {
		return func(t *testing.T, f *attackFixture) string {
			h := []any{"alg", "ES256", "typ", "at+jwt"}
			for i := 0; i < len(header); i += 2 {
				v := header[i+1]
				if v == "$issuerKid" {
					v = f.kid(t, jose.ES256)
				}
				if v == "$attackerJWKS" {
					v = f.attacker.JWKSURL()
				}
				h = append(h, header[i], v)
			}
			return f.attacker.sign(t, jsonObject(t, h...), jsonObject(t, f.claims(f.iss.URL)...))
		}
	}
	tenantDup := func(header, payload func(f *attackFixture) []any) func(*testing.T, *attackFixture) string {
		return func(t *testing.T, f *attackFixture) string { return f.tenantToken(t, header(f), payload(f)) }
	}
	tenantHeader := func(f *attackFixture) []any { return []any{"alg", "ES256", "typ", "at+jwt", "kid", f.tenant.kid} }
	tenantClaims := func(extra ...any) func(f *attackFixture) []any {
		return func(f *attackFixture) []any { return f.claims(f.tenant.URL(), extra...) }
	}
	issuers := []string{depIssuers}
	withSegment := func(i int, fn func(t *testing.T, f *attackFixture, seg string) string) func(*testing.T, *attackFixture) string {
		return func(t *testing.T, f *attackFixture) string {
			parts := segments(f.token(t))
			parts[i] = fn(t, f, parts[i])
			return strings.Join(parts, ".")
		}
	}

	return []attackRow{
		// Controls: the harness lets a good token through, so every
		// rejection below is the gate's doing.
		{name: "Control/ValidES256", token: validToken, want: allowed},
		{name: "Control/ValidRS256", token: mint(oauthtest.Token{Algorithm: jose.RS256}), want: allowed},
		{name: "Control/ValidEdDSA", token: mint(oauthtest.Token{Algorithm: jose.EdDSA}), want: allowed},
		{name: "Control/ValidTenant", only: issuers, want: allowed,
			token: tenantDup(tenantHeader, tenantClaims())},
		{name: "Control/ValidOpaque", only: []string{depByShape}, want: allowed,
			token: func(t *testing.T, f *attackFixture) string {
				return f.iss.OpaqueToken(t, oauthtest.Token{Scopes: allScopes})
			}},

		// alg "none" in several spellings, with no signature.
		{name: "AlgNone/none", token: algNone("none"), want: rejected(descAlgorithm)},
		{name: "AlgNone/None", token: algNone("None"), want: rejected(descAlgorithm)},
		{name: "AlgNone/NONE", token: algNone("NONE"), want: rejected(descAlgorithm)},
		{name: "AlgNone/nOnE", token: algNone("nOnE"), want: rejected(descAlgorithm)},
		{name: "AlgNone/Empty", token: algNone(""), want: rejected(descAlgorithm)},
		{name: "AlgNone/Missing", want: rejected(descAlgorithm),
			per: map[string]attackOutcome{depByShape: rejected(descInactive)}, // no alg: not JWS-shaped
			token: func(t *testing.T, f *attackFixture) string {
				return unsigned(jsonObject(t, "typ", "at+jwt"), jsonObject(t, f.claims(f.iss.URL)...))
			}},
		// The header says none, the issuer's real signature is attached.
		{name: "AlgNone/RealSignatureAttached", want: rejected(descAlgorithm),
			token: func(t *testing.T, f *attackFixture) string {
				good := segments(f.token(t))
				return b64(jsonObject(t, "alg", "none", "typ", "at+jwt", "kid", f.kid(t, jose.ES256))) + "." + good[1] + "." + good[2]
			}},
		{name: "AlgNone/HeaderLiesSigned", token: mint(oauthtest.Token{Header: map[string]any{"alg": "none"}}), want: rejected(descAlgorithm)},

		// Algorithm confusion: HS256 keyed with the issuer's RSA public key.
		{name: "AlgConfusion/HS256WithRSAPublicKeyPEM", want: rejected(descAlgorithm),
			token: func(t *testing.T, f *attackFixture) string {
				pub := f.publicKey(t, jose.RS256)
				der, err := x509.MarshalPKIXPublicKey(pub.Key.(*rsa.PublicKey))
				if err != nil {
					t.Fatal(err)
				}
				key := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
				return hs256(jsonObject(t, "alg", "HS256", "typ", "at+jwt", "kid", pub.KeyID), jsonObject(t, f.claims(f.iss.URL)...), key)
			}},
		{name: "AlgConfusion/HS256WithRSAPublicKeyDER", want: rejected(descAlgorithm),
			token: func(t *testing.T, f *attackFixture) string {
				pub := f.publicKey(t, jose.RS256)
				key := x509.MarshalPKCS1PublicKey(pub.Key.(*rsa.PublicKey))
				return hs256(jsonObject(t, "alg", "HS256", "typ", "at+jwt", "kid", pub.KeyID), jsonObject(t, f.claims(f.iss.URL)...), key)
			}},
		{name: "AlgConfusion/HS256WithPublicJWK", want: rejected(descAlgorithm),
			token: func(t *testing.T, f *attackFixture) string {
				pub := f.publicKey(t, jose.RS256)
				key, err := json.Marshal(pub)
				if err != nil {
					t.Fatal(err)
				}
				return hs256(jsonObject(t, "alg", "HS256", "typ", "at+jwt", "kid", pub.KeyID), jsonObject(t, f.claims(f.iss.URL)...), key)
			}},
		{name: "AlgConfusion/HS256IssuerSecret", token: mint(oauthtest.Token{Algorithm: jose.HS256}), want: rejected(descAlgorithm)},
		// A header algorithm that does not fit the key its kid names.
		{name: "AlgConfusion/RS256HeaderNamesECKey", want: rejected(descAlgorithm),
			token: func(t *testing.T, f *attackFixture) string {
				return f.token(t, oauthtest.Token{Algorithm: jose.RS256, KeyID: f.kid(t, jose.ES256)})
			}},
		{name: "AlgConfusion/ES256HeaderNamesRSAKey", want: rejected(descAlgorithm),
			token: func(t *testing.T, f *attackFixture) string {
				return f.token(t, oauthtest.Token{Algorithm: jose.ES256, KeyID: f.kid(t, jose.RS256)})
			}},
		{name: "AlgConfusion/EdDSAHeaderNamesECKey", want: rejected(descAlgorithm),
			token: func(t *testing.T, f *attackFixture) string {
				return f.token(t, oauthtest.Token{Algorithm: jose.EdDSA, KeyID: f.kid(t, jose.ES256)})
			}},

		// Hostile kid values: never a path, a query or a URL, just a
		// lookup key that misses.
		{name: "Kid/PathTraversal", token: mint(oauthtest.Token{KeyID: "../../../../etc/passwd"}), want: rejected(descUnknownKey), taint: []string{"etc/passwd"}},
		{name: "Kid/SQL", token: mint(oauthtest.Token{KeyID: "x' OR '1'='1'; DROP TABLE keys; --"}), want: rejected(descUnknownKey), taint: []string{"DROP TABLE"}},
		{name: "Kid/URL", token: mint(oauthtest.Token{KeyID: "http://127.0.0.1:1/jwks.json"}), want: rejected(descUnknownKey), taint: []string{"127.0.0.1:1"}},
		{name: "Kid/ControlChars", token: mint(oauthtest.Token{KeyID: "es256-1\x00\r\nlevel=ERROR msg=forged"}), want: rejected(descUnknownKey), taint: []string{"msg=forged"}},
		{name: "Kid/Long4KiB", token: mint(oauthtest.Token{KeyID: strings.Repeat("k", 4<<10)}), want: rejected(descUnknownKey), taint: []string{strings.Repeat("k", 64)}},
		{name: "Kid/Long100KiB", token: mint(oauthtest.Token{KeyID: strings.Repeat("k", 100<<10)}), want: rejected(descTooLarge)},
		{name: "Kid/NotAString", token: mint(oauthtest.Token{Header: map[string]any{"kid": 42}}), want: rejected(descMalformed)},

		// Headers that point at the attacker's keys are never followed:
		// with the attacker's kid the key is unknown, with the issuer's kid
		// the issuer's key does not verify the attacker's signature.
		{name: "AttackerKey/EmbeddedJWKAttackerKid", want: rejected(descUnknownKey),
			token: func(t *testing.T, f *attackFixture) string {
				return attackerSigned("kid", f.attacker.kid, "jwk", f.attacker.publicJWK())(t, f)
			}},
		{name: "AttackerKey/EmbeddedJWKIssuerKid", want: rejected(descSignature),
			token: func(t *testing.T, f *attackFixture) string {
				return attackerSigned("kid", "$issuerKid", "jwk", f.attacker.publicJWK())(t, f)
			}},
		{name: "AttackerKey/JKUAttackerKid", token: attackerSigned("kid", "attacker-1", "jku", "$attackerJWKS"), want: rejected(descUnknownKey)},
		{name: "AttackerKey/JKUIssuerKid", token: attackerSigned("kid", "$issuerKid", "jku", "$attackerJWKS"), want: rejected(descSignature)},
		{name: "AttackerKey/X5UIssuerKid", token: attackerSigned("kid", "$issuerKid", "x5u", "$attackerJWKS"), want: rejected(descSignature)},
		{name: "AttackerKey/X5CIssuerKid", want: rejected(descSignature),
			token: func(t *testing.T, f *attackFixture) string {
				cert := base64.StdEncoding.EncodeToString(attackerCert(t, f.attacker.privateKey()))
				return attackerSigned("kid", "$issuerKid", "x5c", []string{cert})(t, f)
			}},
		// Without a kid every issuer key that fits the algorithm is tried;
		// none verifies the attacker's signature.
		{name: "AttackerKey/EmbeddedJWKNoKid", want: rejected(descSignature),
			token: func(t *testing.T, f *attackFixture) string {
				return attackerSigned("jwk", f.attacker.publicJWK())(t, f)
			}},
		{name: "AttackerKey/NoKid", token: attackerSigned(), want: rejected(descSignature)},

		// crit: go-jose lets it through parsing; the verifier understands
		// no extension, so any crit is refused (RFC 7515 §4.1.11).
		{name: "Crit/Unknown", token: mint(oauthtest.Token{Header: map[string]any{"crit": []string{"urn:example:policy"}, "urn:example:policy": "x"}}), want: rejected(descUnsupported)},
		{name: "Crit/Exp", token: mint(oauthtest.Token{Header: map[string]any{"crit": []string{"exp"}, "exp": 1}}), want: rejected(descUnsupported)},
		{name: "Crit/Empty", token: mint(oauthtest.Token{Header: map[string]any{"crit": []string{}}}), want: rejected(descUnsupported)},
		{name: "Crit/B64False", token: mint(oauthtest.Token{Header: map[string]any{"crit": []string{"b64"}, "b64": false}}), want: rejected(descUnsupported)},
		{name: "B64FalseWithoutCrit", token: mint(oauthtest.Token{Header: map[string]any{"b64": false}}), want: rejected(descUnsupported)},

		// JWE (five parts) and nested tokens.
		{name: "JWE/Encrypted", want: rejected(descUnsupported),
			per: map[string]attackOutcome{depByShape: rejected(descInactive)}, // not JWS-shaped: introspected
			token: func(t *testing.T, f *attackFixture) string {
				return encrypt(t, f.attacker.privateKey(), jsonObject(t, f.claims(f.iss.URL)...), "")
			}},
		{name: "JWE/WrapsValidJWT", want: rejected(descUnsupported),
			per: map[string]attackOutcome{depByShape: rejected(descInactive)},
			token: func(t *testing.T, f *attackFixture) string {
				return encrypt(t, f.attacker.privateKey(), f.token(t), "JWT")
			}},
		{name: "JWE/FivePartsDots", token: func(*testing.T, *attackFixture) string { return "eyJhbGciOiJkaXIifQ..aXY.Y2lwaGVy.dGFn" },
			want: rejected(descUnsupported), per: map[string]attackOutcome{depByShape: rejected(descInactive)}},
		{name: "Nested/CtyJWT", token: mint(oauthtest.Token{Header: map[string]any{"cty": "JWT"}}), want: rejected(descUnsupported)},
		{name: "Nested/CtyApplicationJWT", token: mint(oauthtest.Token{Header: map[string]any{"cty": "application/jwt"}}), want: rejected(descUnsupported)},
		{name: "Nested/CtyNotString", token: mint(oauthtest.Token{Header: map[string]any{"cty": 7}}), want: rejected(descUnsupported)},
		{name: "Nested/PayloadIsValidJWT", only: issuers, want: rejected(descMalformed),
			token: func(t *testing.T, f *attackFixture) string {
				return f.tenant.sign(t, jsonObject(t, tenantHeader(f)...), f.token(t))
			}},

		// Size caps: nothing over 8 KiB is parsed.
		{name: "Size/Token9KiB", token: mint(oauthtest.Token{Claims: map[string]any{"pad": strings.Repeat("p", 9<<10)}}), want: rejected(descTooLarge)},
		{name: "Size/Header9KiB", token: mint(oauthtest.Token{Header: map[string]any{"pad": strings.Repeat("p", 9<<10)}}), want: rejected(descTooLarge)},
		{name: "Size/Token64KiB", token: mint(oauthtest.Token{Claims: map[string]any{"pad": strings.Repeat("p", 64<<10)}}), want: rejected(descTooLarge)},

		// Duplicate JSON members. go-jose's JSON decoder refuses
		// duplicate header members; the claims reader refuses duplicates of
		// the claims it reads. Duplicates of other claims are accepted
		// (Claims.Decode then sees the last, as encoding/json does).
		{name: "Duplicate/HeaderAlg", only: issuers, want: rejected(descMalformed),
			token: tenantDup(func(f *attackFixture) []any { return append(tenantHeader(f), "alg", "none") }, tenantClaims())},
		{name: "Duplicate/HeaderKid", only: issuers, want: rejected(descMalformed),
			token: tenantDup(func(f *attackFixture) []any {
				return []any{"kid", "attacker-1", "alg", "ES256", "typ", "at+jwt", "kid", f.tenant.kid}
			}, tenantClaims())},
		{name: "Duplicate/HeaderTyp", only: issuers, want: rejected(descMalformed),
			token: tenantDup(func(f *attackFixture) []any { return append(tenantHeader(f), "typ", "JWT") }, tenantClaims())},
		{name: "Duplicate/ClaimExp", only: issuers, want: rejected(descMalformed),
			token: tenantDup(tenantHeader, func(f *attackFixture) []any {
				return f.claims(f.tenant.URL(), "exp", f.clock.Now().Add(1000*time.Hour).Unix())
			})},
		{name: "Duplicate/ClaimIss", only: issuers, want: rejected(descMalformed),
			token: tenantDup(tenantHeader, func(f *attackFixture) []any {
				return append([]any{"iss", f.iss.URL}, f.claims(f.tenant.URL())...)
			})},
		{name: "Duplicate/ClaimAud", only: issuers, want: rejected(descMalformed), token: tenantDup(tenantHeader, tenantClaims("aud", "https://other.example.com"))},
		{name: "Duplicate/ClaimScope", only: issuers, want: rejected(descMalformed), token: tenantDup(tenantHeader, tenantClaims("scope", "library.admin"))},
		{name: "Duplicate/ClaimScopeEscaped", only: issuers, want: rejected(descMalformed), token: tenantDup(tenantHeader, tenantClaims(json.RawMessage(`"\u0073cope"`), "library.admin"))},
		{name: "Duplicate/UnregisteredClaimAccepted", only: issuers, want: allowed, token: tenantDup(tenantHeader, tenantClaims("role", "user", "role", "admin"))},

		// Claim types and values.
		{name: "Exp/String", token: mint(oauthtest.Token{Claims: map[string]any{"exp": "9999999999"}}), want: rejected(descMalformed)},
		{name: "Exp/Huge", token: mint(oauthtest.Token{Claims: map[string]any{"exp": json.RawMessage("1e300")}}), want: rejected(descMalformed)},
		{name: "Exp/HugeInteger", token: mint(oauthtest.Token{Claims: map[string]any{"exp": json.RawMessage("99999999999999999999999")}}), want: rejected(descMalformed)},
		{name: "Exp/Year10000", token: mint(oauthtest.Token{Claims: map[string]any{"exp": 253402300800}}), want: rejected(descMalformed)},
		{name: "Exp/Negative", token: mint(oauthtest.Token{Claims: map[string]any{"exp": -1}}), want: rejected(descMalformed)},
		{name: "Exp/Bool", token: mint(oauthtest.Token{Claims: map[string]any{"exp": true}}), want: rejected(descMalformed)},
		{name: "Exp/Null", token: mint(oauthtest.Token{Claims: map[string]any{"exp": json.RawMessage("null")}}), want: rejected(descMissingClaim)}, // null is absent
		{name: "Exp/FloatPast", token: mint(oauthtest.Token{Claims: map[string]any{"exp": 1.5}}), want: rejected(descExpired)},
		// RFC 7519 §2: a NumericDate may be fractional, so this is a
		// valid token, recorded here as the boundary of the rows above.
		{name: "Exp/FloatFutureAccepted", token: func(t *testing.T, f *attackFixture) string {
			return f.token(t, oauthtest.Token{Claims: map[string]any{"exp": float64(f.clock.Now().Add(time.Minute).Unix()) + 0.25}})
		}, want: allowed},
		{name: "Exp/Missing", token: mint(oauthtest.Token{Claims: map[string]any{"exp": nil}}), want: rejected(descMissingClaim)},
		{name: "Exp/Expired", token: mint(oauthtest.Token{Lifetime: -time.Minute}), want: rejected(descExpired)},
		{name: "Nbf/Future", token: func(t *testing.T, f *attackFixture) string {
			return f.token(t, oauthtest.Token{Claims: map[string]any{"nbf": f.clock.Now().Add(time.Hour).Unix()}})
		}, want: rejected(descNotYetValid)},
		{name: "Iat/Future", token: func(t *testing.T, f *attackFixture) string {
			return f.token(t, oauthtest.Token{Claims: map[string]any{"iat": f.clock.Now().Add(time.Hour).Unix()}})
		}, want: rejected(descIssuedFuture)},
		{name: "Aud/Object", token: mint(oauthtest.Token{Claims: map[string]any{"aud": map[string]string{"0": oauthtest.DefaultAudience}}}), want: rejected(descMalformed)},
		{name: "Aud/ArrayWithNumber", token: mint(oauthtest.Token{Claims: map[string]any{"aud": []any{oauthtest.DefaultAudience, 1}}}), want: rejected(descMalformed)},
		{name: "Aud/Other", token: mint(oauthtest.Token{Audience: []string{"https://other.example.com"}}), want: rejected(descAudience)},
		{name: "Aud/EmptyArray", token: mint(oauthtest.Token{Claims: map[string]any{"aud": []string{}}}), want: rejected(descAudience)},
		{name: "Aud/Prefix", token: mint(oauthtest.Token{Audience: []string{oauthtest.DefaultAudience + ".evil.com"}}), want: rejected(descAudience)},
		{name: "Aud/Missing", token: mint(oauthtest.Token{Audience: []string{}}), want: rejected(descMissingClaim)},
		{name: "Iss/TrailingSlash", token: func(t *testing.T, f *attackFixture) string {
			return f.token(t, oauthtest.Token{Issuer: f.iss.URL + "/"})
		}, want: rejected(descIssuer)},
		{name: "Iss/UpperCase", token: func(t *testing.T, f *attackFixture) string {
			return f.token(t, oauthtest.Token{Issuer: strings.ToUpper(f.iss.URL)})
		}, want: rejected(descIssuer)},
		{name: "Iss/Missing", token: mint(oauthtest.Token{Claims: map[string]any{"iss": nil}}), want: rejected(descMissingClaim)},
		{name: "Iss/NotAString", token: mint(oauthtest.Token{Claims: map[string]any{"iss": 1}}), want: rejected(descMalformed)},
		{name: "Iss/CaseVariantName", token: func(t *testing.T, f *attackFixture) string {
			return f.token(t, oauthtest.Token{Claims: map[string]any{"iss": nil, "ISS": f.iss.URL}})
		}, want: rejected(descMissingClaim)},
		{name: "Payload/NotJSON", only: issuers, want: rejected(descMalformed),
			token: func(t *testing.T, f *attackFixture) string {
				return f.tenant.sign(t, jsonObject(t, tenantHeader(f)...), "not json")
			}},

		// Signatures.
		{name: "Signature/Stripped", want: rejected(descSignature),
			token: withSegment(2, func(*testing.T, *attackFixture, string) string { return "" })},
		{name: "Signature/StrippedAndDot", want: rejected(descMalformed),
			per: map[string]attackOutcome{depByShape: rejected(descInactive)}, // two segments: opaque
			token: func(t *testing.T, f *attackFixture) string {
				p := segments(f.token(t))
				return p[0] + "." + p[1]
			}},
		{name: "Signature/Truncated", want: rejected(descSignature),
			token: withSegment(2, func(t *testing.T, _ *attackFixture, s string) string {
				sig, err := base64.RawURLEncoding.DecodeString(s)
				if err != nil {
					t.Fatal(err)
				}
				return base64.RawURLEncoding.EncodeToString(sig[:len(sig)-3])
			})},
		// RFC 7515 §2: one signed token has one encoding. go-jose decodes
		// spare bits and line breaks leniently; oauthgate refuses them.
		{name: "Signature/SpareBits", want: rejected(descMalformed),
			token: withSegment(2, func(_ *testing.T, _ *attackFixture, s string) string { return withSpareBit(s) })},
		{name: "Payload/SpareBits", want: rejected(descMalformed),
			token: withSegment(1, func(_ *testing.T, _ *attackFixture, s string) string { return withSpareBit(s) })},
		{name: "Header/SpareBits", want: rejected(descMalformed),
			token: withSegment(0, func(_ *testing.T, _ *attackFixture, s string) string { return withSpareBit(s) })},
		{name: "Signature/Padded", want: rejected(descMalformed),
			per:   map[string]attackOutcome{depByShape: rejected(descInactive)}, // '=' is not base64url
			token: withSegment(2, func(_ *testing.T, _ *attackFixture, s string) string { return s + "==" })},
		{name: "Signature/FromAnotherToken", want: rejected(descSignature),
			token: withSegment(2, func(t *testing.T, f *attackFixture, _ string) string { return segments(f.token(t))[2] })},
		{name: "Tampered/PayloadScopeRaised", want: rejected(descSignature),
			token: func(t *testing.T, f *attackFixture) string {
				p := segments(f.iss.Token(t, oauthtest.Token{Scopes: []string{"openid"}}))
				raw, _ := base64.RawURLEncoding.DecodeString(p[1])
				raw = []byte(strings.Replace(string(raw), `"openid"`, `"library.admin library.read library.write"`, 1))
				return p[0] + "." + base64.RawURLEncoding.EncodeToString(raw) + "." + p[2]
			}},
		{name: "Tampered/PayloadExpExtended", want: rejected(descSignature),
			token: func(t *testing.T, f *attackFixture) string {
				p := segments(f.token(t, oauthtest.Token{Lifetime: -time.Hour}))
				return p[0] + "." + b64(jsonObject(t, f.claims(f.iss.URL)...)) + "." + p[2]
			}},
		{name: "Tampered/HeaderReencoded", want: rejected(descSignature),
			token: func(t *testing.T, f *attackFixture) string {
				p := segments(f.token(t))
				// The same members in another order: the signature covers
				// the header's bytes, not its meaning.
				return b64(jsonObject(t, "typ", "at+jwt", "kid", f.kid(t, jose.ES256), "alg", "ES256")) + "." + p[1] + "." + p[2]
			}},

		// Tokens of another issuer.
		{name: "OtherIssuer/ReusedKidClaimsOurIssuer", want: rejected(descSignature),
			token: func(t *testing.T, f *attackFixture) string {
				tok := f.other.Token(t, oauthtest.Token{Scopes: allScopes, Issuer: f.iss.URL})
				if got, want := headerOf(t, tok)["kid"], f.kid(t, jose.ES256); got != want {
					t.Fatalf("other issuer's kid = %v, want the trusted issuer's %v", got, want)
				}
				return tok
			}},
		{name: "OtherIssuer/OwnIssuer", want: rejected(descSignature),
			per: map[string]attackOutcome{depIssuers: rejected(descIssuer)}, // routed by iss: no verifier
			token: func(t *testing.T, f *attackFixture) string {
				return f.other.Token(t, oauthtest.Token{Scopes: allScopes})
			}},
		{name: "OtherIssuer/TenantKeyClaimsOurIssuer", only: issuers, want: rejected(descUnknownKey),
			token: tenantDup(tenantHeader, func(f *attackFixture) []any { return f.claims(f.iss.URL) })},

		// typ: only access tokens (RFC 9068), so an ID token is not one.
		{name: "Typ/JWT", token: mint(oauthtest.Token{Type: "JWT"}), want: rejected(descType)},
		{name: "Typ/Missing", token: mint(oauthtest.Token{Header: map[string]any{"typ": nil}}), want: rejected(descType)},
		{name: "Typ/IDTokenLike", token: mint(oauthtest.Token{Type: "id_token+jwt"}), want: rejected(descType)},
		{name: "Typ/DPoP", token: mint(oauthtest.Token{Type: "dpop+jwt"}), want: rejected(descType)},
		{name: "Typ/NotAString", token: mint(oauthtest.Token{Header: map[string]any{"typ": 1}}), want: rejected(descType)},

		// Scopes.
		{name: "Scope/Absent", token: func(t *testing.T, f *attackFixture) string { return f.iss.Token(t) }, want: insufficient},
		{name: "Scope/Other", token: func(t *testing.T, f *attackFixture) string {
			return f.iss.Token(t, oauthtest.Token{Scopes: []string{"openid", "profile"}})
		}, want: insufficient},
		{name: "Scope/CaseVariant", token: func(t *testing.T, f *attackFixture) string {
			return f.iss.Token(t, oauthtest.Token{Scopes: []string{"LIBRARY.READ", "LIBRARY.WRITE", "LIBRARY.ADMIN"}})
		}, want: insufficient},
		{name: "Scope/InjectionSCPElement", token: func(t *testing.T, f *attackFixture) string {
			return f.iss.Token(t, oauthtest.Token{Scopes: []string{"library.read library.write library.admin"}, SCP: true})
		}, want: rejected(descMalformed)},
		{name: "Scope/InjectionScopeArrayElement", token: func(t *testing.T, f *attackFixture) string {
			return f.iss.Token(t, oauthtest.Token{Claims: map[string]any{"scope": []string{"library.read library.write library.admin"}}})
		}, want: rejected(descMalformed)},
		{name: "Scope/InjectionTab", token: func(t *testing.T, f *attackFixture) string {
			return f.iss.Token(t, oauthtest.Token{Claims: map[string]any{"scope": "library.read\tlibrary.write\tlibrary.admin"}})
		}, want: rejected(descMalformed)},
		{name: "Scope/NotAString", token: func(t *testing.T, f *attackFixture) string {
			return f.iss.Token(t, oauthtest.Token{Claims: map[string]any{"scope": map[string]bool{"library.read": true}}})
		}, want: rejected(descMalformed)},
		{name: "Scope/SCPIgnoredWhenScopePresent", token: func(t *testing.T, f *attackFixture) string {
			return f.iss.Token(t, oauthtest.Token{Scopes: []string{"openid"}, Claims: map[string]any{"scp": allScopes}})
		}, want: insufficient},

		// Malformed authorization metadata around a valid token.
		{name: "Bearer/TwoValues", token: validToken, auth: func(tok string) []string { return []string{"Bearer " + tok, "Bearer " + tok} }, want: badRequest},
		{name: "Bearer/TrailingJunk", token: validToken, auth: func(tok string) []string { return []string{"Bearer " + tok + ";"} }, want: badRequest},
		{name: "Bearer/Quoted", token: validToken, auth: func(tok string) []string { return []string{`Bearer "` + tok + `"`} }, want: badRequest},
		{name: "Bearer/TwoTokensOneValue", token: validToken, auth: func(tok string) []string { return []string{"Bearer " + tok + " " + tok} }, want: badRequest},
		{name: "Bearer/BasicScheme", token: validToken, auth: func(tok string) []string { return []string{"Basic " + tok} }, want: badRequest},
		{name: "Bearer/NoSpace", token: validToken, auth: func(tok string) []string { return []string{"Bearer" + tok} }, want: badRequest},

		// Introspected tokens.
		{name: "Opaque/Unknown", only: []string{depByShape}, want: rejected(descInactive),
			token: func(*testing.T, *attackFixture) string {
				return "opaque-" + strconv.FormatInt(time.Now().UnixNano(), 36)
			}},
		{name: "Opaque/Revoked", only: []string{depByShape}, want: rejected(descInactive),
			token: func(t *testing.T, f *attackFixture) string {
				tok := f.iss.OpaqueToken(t, oauthtest.Token{Scopes: allScopes})
				f.iss.Revoke(tok)
				return tok
			}},
		{name: "Opaque/OtherAudience", only: []string{depByShape}, want: rejected(descAudience),
			token: func(t *testing.T, f *attackFixture) string {
				return f.iss.OpaqueToken(t, oauthtest.Token{Scopes: allScopes, Audience: []string{"https://other.example.com"}})
			}},
		{name: "Opaque/Expired", only: []string{depByShape}, want: rejected(descInactive),
			token: func(t *testing.T, f *attackFixture) string {
				return f.iss.OpaqueToken(t, oauthtest.Token{Scopes: allScopes, Lifetime: -time.Minute})
			}},
		{name: "Opaque/EndpointDown", only: []string{depByShape},
			want: attackOutcome{code: codes.Unavailable, reason: interceptor.ReasonUnavailable, desc: "the access token cannot be verified right now; retry later"},
			token: func(t *testing.T, f *attackFixture) string {
				f.iss.SetFault(oauthtest.EndpointIntrospection, oauthtest.Fault{Status: http.StatusInternalServerError})
				t.Cleanup(func() { f.iss.SetFault(oauthtest.EndpointIntrospection, oauthtest.Fault{}) })
				return f.iss.OpaqueToken(t, oauthtest.Token{Scopes: allScopes})
			}},

		// Key rotation, last: a token whose key the issuer removed is
		// rejected once the key set has seen the new JWKS, even though the
		// same token was accepted a moment before.
		{name: "Rotation/RemovedKeyVerifiedBefore", want: rejected(descUnknownKey),
			token: func(t *testing.T, f *attackFixture) string {
				old := f.token(t)
				for _, dep := range attackDeployments {
					if _, err := f.clients[dep].GetBook(withToken(testContext(t), old), &testpb.GetBookRequest{Name: "x"}); err != nil {
						t.Fatalf("%s: GetBook() with a valid token before rotation = %v", dep, err)
					}
				}
				f.iss.RotateKeys()
				// The next kid the key set misses fetches the new JWKS.
				f.clock.Advance(attackCooldown + time.Second)
				if _, err := f.clients[depJWT].GetBook(withToken(testContext(t), f.token(t)), &testpb.GetBookRequest{Name: "x"}); err != nil {
					t.Fatalf("GetBook() with a token signed by the new key = %v", err)
				}
				return old
			}},
		{name: "Rotation/NewKey", token: validToken, want: allowed},
		// The tenant replaces its key but keeps the kid: a token verified
		// under the old key must not pass on the strength of its kid.
		{name: "Rotation/SameKidNewKeyVerifiedBefore", only: issuers, want: rejected(descSignature),
			token: func(t *testing.T, f *attackFixture) string {
				old := f.tenantToken(t, tenantHeader(f), tenantClaims()(f))
				if _, err := f.clients[depIssuers].GetBook(withToken(testContext(t), old), &testpb.GetBookRequest{Name: "x"}); err != nil {
					t.Fatalf("GetBook() with a valid tenant token before rotation = %v", err)
				}
				f.tenant.rotate(t)
				// The kid is still known, so only a miss makes the key set
				// fetch: send a token with a made-up kid once the cooldown
				// has passed.
				f.clock.Advance(attackCooldown + time.Second)
				before := f.tenant.requests.Load()
				probe := f.tenantToken(t, []any{"alg", "ES256", "typ", "at+jwt", "kid", "tenant-probe"}, tenantClaims()(f))
				if _, err := f.clients[depIssuers].GetBook(withToken(testContext(t), probe), &testpb.GetBookRequest{Name: "x"}); status.Code(err) != codes.Unauthenticated {
					t.Fatalf("GetBook() with a made-up kid = %v, want Unauthenticated", err)
				}
				if f.tenant.requests.Load() == before {
					t.Fatal("the tenant's key set did not fetch its JWKS again")
				}
				return old
			}},
		{name: "Rotation/SameKidNewKeyFreshToken", only: issuers, want: allowed, token: tenantDup(tenantHeader, tenantClaims())},
	}
}

// encrypt returns a compact JWE of plaintext (RFC 7516 §7.1, five parts)
// to key's public half.
func encrypt(t testing.TB, key *ecdsa.PrivateKey, plaintext, cty string) string {
	t.Helper()
	opts := (&jose.EncrypterOptions{}).WithType("at+jwt")
	if cty != "" {
		opts = opts.WithContentType(jose.ContentType(cty))
	}
	enc, err := jose.NewEncrypter(jose.A128GCM, jose.Recipient{Algorithm: jose.ECDH_ES, Key: key.Public()}, opts)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := enc.Encrypt([]byte(plaintext))
	if err != nil {
		t.Fatal(err)
	}
	s, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestAttackCatalogue runs every row against every deployment and kind of
// RPC, then checks that the logs of all those denials hold no token, no
// signature, no attacker-chosen header value and no client secret.
func TestAttackCatalogue(t *testing.T) {
	f := newAttackFixture(t)
	var (
		sent  []string // every token sent
		taint []string
	)
	for _, row := range attackRows() {
		t.Run(row.name, func(t *testing.T) {
			tok := row.token(t, f)
			sent = append(sent, tok)
			taint = append(taint, row.taint...)
			auth := []string{"Bearer " + tok}
			if row.auth != nil {
				auth = row.auth(tok)
			}
			deps := row.only
			if deps == nil {
				deps = attackDeployments
			}
			for _, dep := range deps {
				want := row.want
				if o, ok := row.per[dep]; ok {
					want = o
				}
				for _, k := range rpcKinds {
					ctx := testContext(t)
					for _, a := range auth {
						ctx = metadata.AppendToOutgoingContext(ctx, "authorization", a)
					}
					before := f.reached.Load()
					r := k.call(ctx, f.clients[dep])
					checkAttackOutcome(t, dep+"/"+k.name, r, want, f.reached.Load()-before)
				}
			}
		})
	}

	// Headers naming key URLs are never followed, and made-up kids fetch
	// nothing within the cooldown: the JWKS was fetched at the start and
	// after the rotation, no more.
	if n := f.attacker.requests.Load(); n != 0 {
		t.Errorf("the attacker's JWKS server got %d requests, want 0", n)
	}
	if n := f.iss.Requests(oauthtest.EndpointJWKS); n > 2 {
		t.Errorf("the issuer's JWKS was fetched %d times, want at most 2", n)
	}

	t.Run("NoSecretsInLogs", func(t *testing.T) {
		logs := f.logs.String()
		if n := strings.Count(logs, `"msg":"oauthgate: call denied"`); n < len(sent) {
			t.Fatalf("logs hold %d denials, want at least %d: the log check would prove nothing", n, len(sent))
		}
		checkNoSecrets(t, logs, sent, append(taint, f.secret, basicAuth("library-api", f.secret)))
	})
}

// basicAuth renders an HTTP Basic credential, as the introspection client
// sends it.
func basicAuth(id, secret string) string {
	return base64.StdEncoding.EncodeToString([]byte(id + ":" + secret))
}

// checkAttackOutcome compares one call with want. reached is how many
// calls got past the gate meanwhile.
func checkAttackOutcome(t *testing.T, call string, r result, want attackOutcome, reached int64) {
	t.Helper()
	if got := status.Code(r.err); got != want.code {
		t.Errorf("%s: code = %v (%v), want %v", call, got, r.err, want.code)
		return
	}
	if want.code == codes.OK {
		if reached != 1 || r.reply == "" {
			t.Errorf("%s: handler reached %d times with reply %q, want once", call, reached, r.reply)
		}
		return
	}
	if reached != 0 {
		t.Errorf("%s: handler reached %d times, want 0", call, reached)
	}
	if info := errorInfo(t, r.err); info.GetReason() != want.reason {
		t.Errorf("%s: ErrorInfo.reason = %q, want %q", call, info.GetReason(), want.reason)
	}
	if got := status.Convert(r.err).Message(); got != want.desc {
		t.Errorf("%s: message = %q, want %q", call, got, want.desc)
	}
}

// checkNoSecrets fails if logs contain any token, any signature or payload
// segment of one, or any of the other strings.
func checkNoSecrets(t *testing.T, logs string, tokens, others []string) {
	t.Helper()
	leaks := map[string]string{}
	for _, tok := range tokens {
		leaks[tok] = "token"
		for i, seg := range segments(tok) {
			// Short segments ("", "e30") would match by chance; real
			// signatures and payloads are far longer.
			if i > 0 && len(seg) >= 16 {
				leaks[seg] = fmt.Sprintf("segment %d of a token", i)
			}
		}
	}
	for _, s := range others {
		leaks[s] = "secret or attacker-chosen value"
	}
	for s, what := range leaks {
		if s != "" && strings.Contains(logs, s) {
			t.Errorf("logs contain a %s: %.40q…", what, s)
		}
	}
}
