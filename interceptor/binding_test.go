package interceptor_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/oauthgate/oauthgate/interceptor"
	testpb "github.com/oauthgate/oauthgate/internal/testproto/oauthgatetest/v1"
	"github.com/oauthgate/oauthgate/oauthtest"
	oauthgatev1 "github.com/oauthgate/oauthgate/proto/oauthgate/v1"
	"github.com/oauthgate/oauthgate/scopes"
	"github.com/oauthgate/oauthgate/verify"
)

// Sender-constrained tokens (RFC 8705 certificate binding, and the DPoP
// and unknown bindings the interceptor must refuse without a proof), end to
// end: real tokens from an oauthtest issuer, a verify.ByShape verifier
// (JWTs against the JWKS, opaque tokens by introspection, both cached),
// grpc-go servers on 127.0.0.1 over mutual TLS with generated
// certificates, every kind of RPC. SECURITY.md describes each case; keep
// both in step.

// Client-facing descriptions of binding failures (verify/errors.go).
const (
	descCertRequired    = "the access token is bound to a client certificate; connect with it"
	descCertMismatch    = "the access token is bound to another client certificate"
	descUnsupportedBind = "the access token is bound to a key or certificate this server cannot check"
	descProofRequired   = "the access token is bound to a DPoP key; present it with a DPoP proof"
	descNotConstrained  = "this method requires a sender-constrained access token"
	descCertUnreadable  = "the client certificate cannot be read"
)

func bindingRefused(reason, desc string) attackOutcome {
	return attackOutcome{code: codes.Unauthenticated, reason: reason, desc: desc}
}

var (
	certRequired  = bindingRefused(interceptor.ReasonCertificateRequired, descCertRequired)
	certMismatch  = bindingRefused(interceptor.ReasonCertificateMismatch, descCertMismatch)
	unsupported   = bindingRefused(interceptor.ReasonUnsupportedBinding, descUnsupportedBind)
	proofRequired = bindingRefused(interceptor.ReasonDPoPProofRequired, descProofRequired)
	notBound      = bindingRefused(interceptor.ReasonSenderConstraintRequired, descNotConstrained)
)

// Connections of a binding environment: how the client reaches the server.
const (
	connClient    = "client"    // mutual TLS with the client certificate tokens are bound to
	connOther     = "other"     // mutual TLS with another certificate of the same CA
	connAnonTLS   = "anon-tls"  // TLS to a server that asks for a certificate but does not require one; none sent
	connPlaintext = "plaintext" // no TLS at all
)

// Token kinds: each case runs with both.
const (
	kindJWT    = "JWT"
	kindOpaque = "Opaque" // introspected
)

// bindingEnv is an issuer, a PKI, one verifier, and servers guarded by two
// gates over it: "default" with the policy of library.proto, and
// "constrained" with the same policy read from the sender_constrained
// proto field on every LibraryService rule.
type bindingEnv struct {
	iss     *oauthtest.Issuer
	certs   *oauthtest.Certificates
	other   tls.Certificate
	verify  *recordingVerifier
	reached atomic.Int64 // calls that passed a gate
	clients map[string]map[string]testpb.LibraryServiceClient
}

func newBindingEnv(t *testing.T, gateOpts ...interceptor.Option) *bindingEnv {
	t.Helper()
	e := &bindingEnv{
		iss:     oauthtest.NewIssuer(t),
		certs:   oauthtest.NewCertificates(t),
		clients: map[string]map[string]testpb.LibraryServiceClient{},
	}
	e.other = e.certs.NewClientCertificate(t, "client-2")
	e.verify = &recordingVerifier{v: newByShape(t, e.iss)}
	for name, policy := range map[string]*scopes.Policy{"default": newPolicy(t), "constrained": constrainedPolicy(t)} {
		gate, err := interceptor.New(e.verify, policy, append([]interceptor.Option{interceptor.WithRealm("library")}, gateOpts...)...)
		if err != nil {
			t.Fatal(err)
		}
		e.clients[name] = e.serve(t, gate)
	}
	return e
}

// serve starts the library behind gate three times (mutual TLS required,
// TLS with an optional client certificate, plaintext) and returns a client
// per connection kind.
func (e *bindingEnv) serve(t *testing.T, gate *interceptor.Interceptor) map[string]testpb.LibraryServiceClient {
	t.Helper()
	countUnary := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		e.reached.Add(1)
		return h(ctx, req)
	}
	countStream := func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		e.reached.Add(1)
		return h(srv, ss)
	}
	opts := []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(gate.Unary, countUnary),
		grpc.ChainStreamInterceptor(gate.Stream, countStream),
	}
	// server builds the library behind gate, with the transport
	// credentials creds if any.
	server := func(creds ...grpc.ServerOption) *grpc.Server {
		s := grpc.NewServer(append(creds, opts...)...)
		testpb.RegisterLibraryServiceServer(s, &library{})
		testpb.RegisterShelfServiceServer(s, shelf{})
		return s
	}
	mtls := oauthtest.ServeGRPCTCP(t, server(grpc.Creds(credentials.NewTLS(e.certs.ServerTLSConfig()))), e.certs.DialOption(&e.certs.Client))
	optional := e.certs.ServerTLSConfig()
	optional.ClientAuth = tls.VerifyClientCertIfGiven
	anon := oauthtest.ServeGRPCTCP(t, server(grpc.Creds(credentials.NewTLS(optional))), e.certs.DialOption(&e.certs.Client))
	return map[string]testpb.LibraryServiceClient{
		connClient:    testpb.NewLibraryServiceClient(mtls),
		connOther:     testpb.NewLibraryServiceClient(oauthtest.DialGRPC(t, mtls.Target(), e.certs.DialOption(&e.other))),
		connAnonTLS:   testpb.NewLibraryServiceClient(oauthtest.DialGRPC(t, anon.Target(), e.certs.DialOption(nil))),
		connPlaintext: testpb.NewLibraryServiceClient(oauthtest.ServeGRPCTCP(t, server())),
	}
}

// mint issues a token of kind with every library scope and opts.
func (e *bindingEnv) mint(t *testing.T, kind string, opts ...oauthtest.Token) string {
	t.Helper()
	opts = append([]oauthtest.Token{{Scopes: allScopes}}, opts...)
	if kind == kindOpaque {
		return e.iss.OpaqueToken(t, opts...)
	}
	return e.iss.Token(t, opts...)
}

// newByShape returns a verify.ByShape over a JWT verifier and an
// introspection verifier at iss, both with their caches on.
func newByShape(t *testing.T, iss *oauthtest.Issuer) verify.Verifier {
	t.Helper()
	keys, err := verify.NewRemoteKeySet(verify.RemoteKeySetConfig{URL: iss.EndpointURL(oauthtest.EndpointJWKS), InsecureAllowHTTP: true, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = keys.Close() })
	jwt, err := verify.NewJWT(keys, verify.JWTConfig{Issuer: iss.URL, Audiences: []string{oauthtest.DefaultAudience}})
	if err != nil {
		t.Fatal(err)
	}
	intro, err := verify.NewIntrospection(verify.IntrospectionConfig{
		Endpoint: iss.EndpointURL(oauthtest.EndpointIntrospection), ClientID: iss.ClientID, ClientSecret: verify.Secret(iss.ClientSecret),
		Issuer: iss.URL, Audiences: []string{oauthtest.DefaultAudience}, InsecureAllowHTTP: true, Timeout: 2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	v, err := verify.ByShape(jwt, intro)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// recordingVerifier remembers the claims its verifier returned for each
// token, so a test can tell a cache hit (the same *Claims again) from a
// fresh verification.
type recordingVerifier struct {
	v     verify.Verifier
	mu    sync.Mutex
	last  map[string]*verify.Claims
	calls map[string]int
}

func (r *recordingVerifier) Verify(ctx context.Context, token string) (*verify.Claims, error) {
	c, err := r.v.Verify(ctx, token)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.last == nil {
		r.last, r.calls = map[string]*verify.Claims{}, map[string]int{}
	}
	r.calls[token]++
	if prev, ok := r.last[token]; ok && prev != c {
		r.last[token] = nil // not a cache hit: poison the record
	} else if !ok {
		r.last[token] = c
	}
	return c, err
}

// sameClaims reports whether every verification of token returned one
// *Claims, and how many there were.
func (r *recordingVerifier) sameClaims(token string) (same bool, calls int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last[token] != nil, r.calls[token]
}

// constrainedPolicy is the policy of library.proto with sender_constrained
// set on every LibraryService rule but Ping's (public), in the descriptor,
// as a user's .proto annotation sets it.
func constrainedPolicy(t testing.TB) *scopes.Policy {
	t.Helper()
	return editedLibraryPolicy(t, func(r *oauthgatev1.Rule) { r.SenderConstrained = true })
}

// editedLibraryPolicy is the policy of library.proto with edit applied to
// every LibraryService rule but Ping's (public), in a copy of the
// descriptor, as a user's .proto annotation would declare it.
func editedLibraryPolicy(t testing.TB, edit func(*oauthgatev1.Rule)) *scopes.Policy {
	t.Helper()
	fdp := protodesc.ToFileDescriptorProto(testpb.File_oauthgatetest_v1_library_proto)
	constrain := func(opts proto.Message, xt protoreflect.ExtensionType) {
		if opts == nil || !proto.HasExtension(opts, xt) {
			return
		}
		rule := proto.Clone(proto.GetExtension(opts, xt).(*oauthgatev1.Rule)).(*oauthgatev1.Rule)
		if rule.GetPublic() {
			return
		}
		edit(rule)
		proto.SetExtension(opts, xt, rule)
	}
	for _, sd := range fdp.GetService() {
		if sd.GetName() != "LibraryService" {
			continue
		}
		constrain(sd.GetOptions(), oauthgatev1.E_Service)
		for _, md := range sd.GetMethod() {
			constrain(md.GetOptions(), oauthgatev1.E_Method)
		}
	}
	fd, err := protodesc.NewFile(fdp, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatal(err)
	}
	p, err := scopes.NewPolicy(scopes.FromFiles(fd))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// checkOutcome asserts that r, a call with token, ended with want: code,
// ErrorInfo reason and error, status message, the exact invalid_token (or
// invalid_request) challenge, and no trace of the token.
func checkOutcome(t *testing.T, r result, token string, want attackOutcome) {
	t.Helper()
	if got := status.Code(r.err); got != want.code {
		t.Fatalf("code = %v (%v), want %v", got, r.err, want.code)
	}
	if want.code == codes.OK {
		if r.reply == "" {
			t.Fatal("no reply from the handler")
		}
		return
	}
	if r.reply != "" {
		t.Errorf("the handler replied %q to a refused call", r.reply)
	}
	st := status.Convert(r.err)
	if st.Message() != want.desc {
		t.Errorf("message = %q, want %q", st.Message(), want.desc)
	}
	oauthErr := "invalid_token"
	switch want.reason {
	case interceptor.ReasonInvalidRequest:
		oauthErr = "invalid_request"
	case interceptor.ReasonUnavailable:
		oauthErr = "" // no challenge: the client must keep its token
	}
	info := errorInfo(t, r.err)
	if info.GetReason() != want.reason || info.GetMetadata()["error"] != oauthErr {
		t.Errorf("ErrorInfo = %v, want reason %s, error %q", info, want.reason, oauthErr)
	}
	www := r.wwwAuthenticate()
	if oauthErr == "" {
		if len(www) != 0 {
			t.Errorf("www-authenticate = %q, want none", www)
		}
	} else if wantWWW := `Bearer realm="library", error="` + oauthErr + `", error_description="` + want.desc + `"`; len(www) != 1 || www[0] != wantWWW {
		t.Errorf("www-authenticate = %q, want %q", www, wantWWW)
	}
	if strings.Contains(st.Message(), token) || strings.Contains(fmt.Sprint(r.wwwAuthenticate(), info), token) {
		t.Error("the answer contains the token")
	}
}

func TestBinding(t *testing.T) {
	e := newBindingEnv(t)
	const jkt = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I" // RFC 7638 §3.1's example key
	bound := oauthtest.Token{Certificate: e.certs.Client.Leaf}
	x5t := verify.CertificateThumbprint(e.certs.Client.Leaf)

	tests := []struct {
		name  string
		opts  []oauthtest.Token
		kinds []string // token kinds; both if nil
		gate  string   // "default" if empty
		conn  string
		want  attackOutcome
	}{
		{name: "Bound/MatchingCert", opts: []oauthtest.Token{bound}, conn: connClient, want: allowed},
		{name: "Bound/OtherCert", opts: []oauthtest.Token{bound}, conn: connOther, want: certMismatch},
		{name: "Bound/NoCertOverTLS", opts: []oauthtest.Token{bound}, conn: connAnonTLS, want: certRequired},
		{name: "Bound/Plaintext", opts: []oauthtest.Token{bound}, conn: connPlaintext, want: certRequired},
		{name: "Bound/OtherCertOnConstrained", opts: []oauthtest.Token{bound}, gate: "constrained", conn: connOther, want: certMismatch},
		{name: "Bound/MatchingCertOnConstrained", opts: []oauthtest.Token{bound}, gate: "constrained", conn: connClient, want: allowed},
		{name: "Bearer/OverMTLS", conn: connClient, want: allowed},
		{name: "Bearer/Plaintext", conn: connPlaintext, want: allowed},
		{name: "Bearer/OnConstrained", gate: "constrained", conn: connClient, want: notBound},
		{name: "Bearer/OnConstrainedPlaintext", gate: "constrained", conn: connPlaintext, want: notBound},
		{name: "JKT/NoProof", opts: []oauthtest.Token{{Confirmation: map[string]any{"jkt": jkt}}}, conn: connClient, want: proofRequired},
		{name: "JKT/NoProofOnConstrained", opts: []oauthtest.Token{{Confirmation: map[string]any{"jkt": jkt}}}, gate: "constrained", conn: connClient, want: proofRequired},
		{name: "JKT/AndMatchingCert", opts: []oauthtest.Token{{Confirmation: map[string]any{"x5t#S256": x5t, "jkt": jkt}}}, conn: connClient, want: proofRequired},
		{name: "DPoPTokenType/NoProof", opts: []oauthtest.Token{{Claims: map[string]any{"token_type": "DPoP"}}}, kinds: []string{kindOpaque}, conn: connClient, want: proofRequired},
		{name: "DPoPTokenType/AndMatchingCert", opts: []oauthtest.Token{bound, {Claims: map[string]any{"token_type": "DPoP"}}}, kinds: []string{kindOpaque}, conn: connClient, want: proofRequired},
		{name: "Unknown/JWK", opts: []oauthtest.Token{{Confirmation: map[string]any{"jwk": map[string]any{"kty": "EC"}}}}, conn: connClient, want: unsupported},
		{name: "Unknown/EmptyCnf", opts: []oauthtest.Token{{Confirmation: map[string]any{}}}, conn: connClient, want: unsupported},
		{name: "Unknown/BesideMatchingCert", opts: []oauthtest.Token{{Confirmation: map[string]any{"x5t#S256": x5t, "x5t": "c2hhMQ"}}}, conn: connClient, want: unsupported},
		{name: "Unknown/OnConstrained", opts: []oauthtest.Token{{Confirmation: map[string]any{"kid": "k1"}}}, gate: "constrained", conn: connClient, want: unsupported},
		{name: "Malformed/ShortThumbprint", kinds: []string{kindJWT}, opts: []oauthtest.Token{{Confirmation: map[string]any{"x5t#S256": x5t[:42]}}}, conn: connClient, want: rejected(descMalformed)},
		{name: "Malformed/PaddedThumbprint", kinds: []string{kindJWT}, opts: []oauthtest.Token{{Confirmation: map[string]any{"x5t#S256": x5t + "="}}}, conn: connClient, want: rejected(descMalformed)},
		{name: "Malformed/CnfString", kinds: []string{kindJWT}, opts: []oauthtest.Token{{Claims: map[string]any{"cnf": x5t}}}, conn: connClient, want: rejected(descMalformed)},
		// A malformed introspection answer is the authorization server's
		// fault, not the token's (verify.IntrospectionConfig): Unavailable,
		// never a bearer token.
		{name: "Malformed/IntrospectedCnf", kinds: []string{kindOpaque}, opts: []oauthtest.Token{{Confirmation: map[string]any{"x5t#S256": x5t + "="}}}, conn: connClient, want: unavailable},
	}
	allowedCalls := int64(0)
	t.Run("Cases", func(t *testing.T) {
		for _, tc := range tests {
			kinds := tc.kinds
			if kinds == nil {
				kinds = []string{kindJWT, kindOpaque}
			}
			gate := tc.gate
			if gate == "" {
				gate = "default"
			}
			for _, kind := range kinds {
				token := e.mint(t, kind, tc.opts...)
				for _, k := range rpcKinds {
					if tc.want.code == codes.OK {
						allowedCalls++
					}
					t.Run(kind+"/"+tc.name+"/"+k.name, func(t *testing.T) {
						t.Parallel()
						r := k.call(withToken(testContext(t), token), e.clients[gate][tc.conn])
						checkOutcome(t, r, token, tc.want)
					})
				}
			}
		}
	})
	// Every refused call stopped at the gate.
	if got := e.reached.Load(); got != allowedCalls {
		t.Errorf("%d calls passed the gates, want %d (the allowed ones)", got, allowedCalls)
	}
}

// TestBinding_CacheHitStillChecked proves that a verified-token cache hit
// never skips the binding check: the same bound token, verified once, is
// refused from the cache on another connection and accepted again on its
// own, for JWTs (the JWT cache) and opaque tokens (the introspection
// cache).
func TestBinding_CacheHitStillChecked(t *testing.T) {
	e := newBindingEnv(t)
	for _, kind := range []string{kindJWT, kindOpaque} {
		t.Run(kind, func(t *testing.T) {
			token := e.mint(t, kind, oauthtest.Token{Certificate: e.certs.Client.Leaf})
			unary := rpcKinds[0]
			for i, step := range []struct {
				conn string
				want attackOutcome
			}{
				{connClient, allowed},
				{connOther, certMismatch},
				{connPlaintext, certRequired},
				{connAnonTLS, certRequired},
				{connClient, allowed},
			} {
				r := unary.call(withToken(testContext(t), token), e.clients["default"][step.conn])
				t.Run(fmt.Sprintf("%d-%s", i, step.conn), func(t *testing.T) { checkOutcome(t, r, token, step.want) })
			}
			same, calls := e.verify.sameClaims(token)
			if !same || calls != 5 {
				t.Errorf("verifier answered %d calls with one cached *Claims = %v, want 5 and true: the refusals must come from cache hits", calls, same)
			}
		})
	}
}

// forwardedCertHeader is the metadata key a TLS-terminating proxy in front
// of the test server would set: the client's certificate as URL-escaped
// PEM, as nginx's $ssl_client_escaped_cert.
const forwardedCertHeader = "x-client-cert"

// forwardedCertificate is a CertificateFunc reading forwardedCertHeader.
// Trusting it is only sound behind a proxy that terminates the client's
// mutual TLS, sets the header from the certificate the client proved it
// holds, and removes any value the client sent: otherwise a client names
// any certificate it has seen and certificate binding protects nothing.
func forwardedCertificate(ctx context.Context) (*x509.Certificate, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	v := md.Get(forwardedCertHeader)
	switch len(v) {
	case 0:
		return nil, nil
	case 1:
	default:
		return nil, errors.New("more than one forwarded client certificate")
	}
	raw, err := url.QueryUnescape(v[0])
	if err != nil {
		return nil, err
	}
	block, rest := pem.Decode([]byte(raw))
	if block == nil || block.Type != "CERTIFICATE" || len(strings.TrimSpace(string(rest))) != 0 {
		return nil, errors.New("forwarded client certificate is not one PEM certificate")
	}
	return x509.ParseCertificate(block.Bytes)
}

// forwardedValue is what the proxy would send for cert.
func forwardedValue(cert *x509.Certificate) string {
	return url.QueryEscape(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})))
}

func TestBinding_ForwardedCertificate(t *testing.T) {
	e := newBindingEnv(t)
	fwd := newBindingEnv(t, interceptor.WithClientCertificate(forwardedCertificate))
	client, other := forwardedValue(e.certs.Client.Leaf), forwardedValue(e.other.Leaf)
	garbage := url.QueryEscape("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n")
	unreadable := bindingRefused(interceptor.ReasonInvalidRequest, descCertUnreadable)

	tests := []struct {
		name    string
		env     *bindingEnv
		bearer  bool // an unbound token; else bound to env's client certificate
		conn    string
		headers []string // forwardedCertHeader values
		want    attackOutcome
	}{
		{name: "Extractor/BoundCert", env: fwd, conn: connPlaintext, headers: []string{forwardedValue(fwd.certs.Client.Leaf)}, want: allowed},
		{name: "Extractor/OtherCert", env: fwd, conn: connPlaintext, headers: []string{forwardedValue(fwd.other.Leaf)}, want: certMismatch},
		{name: "Extractor/NoHeader", env: fwd, conn: connPlaintext, want: certRequired},
		// The extractor replaces the connection: a matching TLS client
		// certificate does not help when the header is missing.
		{name: "Extractor/NoHeaderOverMTLS", env: fwd, conn: connClient, want: certRequired},
		{name: "Extractor/Garbage", env: fwd, conn: connPlaintext, headers: []string{garbage}, want: unreadable},
		{name: "Extractor/NotEscaped", env: fwd, conn: connPlaintext, headers: []string{"%zz"}, want: unreadable},
		{name: "Extractor/TwoHeaders", env: fwd, conn: connPlaintext, headers: []string{forwardedValue(fwd.certs.Client.Leaf), forwardedValue(fwd.certs.Client.Leaf)}, want: unreadable},
		// Bearer tokens never consult the extractor.
		{name: "Extractor/BearerWithGarbage", env: fwd, bearer: true, conn: connPlaintext, headers: []string{garbage}, want: allowed},
		// Without WithClientCertificate the header is never read.
		{name: "Default/HeaderPlaintext", env: e, conn: connPlaintext, headers: []string{client}, want: certRequired},
		{name: "Default/HeaderOverOtherCert", env: e, conn: connOther, headers: []string{client}, want: certMismatch},
		{name: "Default/OtherHeaderOverBoundCert", env: e, conn: connClient, headers: []string{other}, want: allowed},
	}
	for _, tc := range tests {
		var opts []oauthtest.Token
		if !tc.bearer {
			opts = append(opts, oauthtest.Token{Certificate: tc.env.certs.Client.Leaf})
		}
		token := tc.env.mint(t, kindJWT, opts...)
		for _, k := range rpcKinds {
			t.Run(tc.name+"/"+k.name, func(t *testing.T) {
				t.Parallel()
				ctx := withToken(testContext(t), token)
				for _, h := range tc.headers {
					ctx = metadata.AppendToOutgoingContext(ctx, forwardedCertHeader, h)
				}
				checkOutcome(t, k.call(ctx, tc.env.clients["default"][tc.conn]), token, tc.want)
			})
		}
	}
}

// TestBinding_SenderConstrainedInGo requires binding with a rule declared
// in Go (scopes.Rule.SenderConstrained) rather than in a .proto file.
func TestBinding_SenderConstrainedInGo(t *testing.T) {
	iss := oauthtest.NewIssuer(t)
	certs := oauthtest.NewCertificates(t)
	policy, err := scopes.NewPolicy(scopes.FromFiles(testpb.File_oauthgatetest_v1_library_proto),
		scopes.ForMethod(testpb.ShelfService_Move_FullMethodName, scopes.AllOf("shelf.write").SenderConstrained()))
	if err != nil {
		t.Fatal(err)
	}
	gate, err := interceptor.New(newByShape(t, iss), policy, interceptor.WithRealm("library"))
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(append(gate.ServerOptions(), grpc.Creds(credentials.NewTLS(certs.ServerTLSConfig())))...)
	testpb.RegisterShelfServiceServer(srv, shelf{})
	conn := oauthtest.ServeGRPCTCP(t, srv, certs.DialOption(&certs.Client))
	shelves := testpb.NewShelfServiceClient(conn)
	ctx := testContext(t)

	bearer := iss.Token(t, oauthtest.Token{Scopes: []string{"shelf.write"}})
	var r result
	_, r.err = shelves.Move(withToken(ctx, bearer), &testpb.MoveRequest{}, grpc.Header(&r.header))
	checkOutcome(t, r, bearer, notBound)

	// The bound token passes the gate and reaches the (unimplemented) handler.
	bound := iss.Token(t, oauthtest.Token{Scopes: []string{"shelf.write"}, Certificate: certs.Client.Leaf})
	if _, err := shelves.Move(withToken(ctx, bound), &testpb.MoveRequest{}); status.Code(err) != codes.Unimplemented {
		t.Errorf("Move() with a bound token = %v, want Unimplemented from the handler", err)
	}
}
