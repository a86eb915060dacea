package interceptor_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
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

	"github.com/oauthgate/oauthgate/dpop"
	"github.com/oauthgate/oauthgate/dpop/dpopgrpc"
	"github.com/oauthgate/oauthgate/interceptor"
	testpb "github.com/oauthgate/oauthgate/internal/testproto/oauthgatetest/v1"
	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/scopes"
	"github.com/oauthgate/oauthgate/verify"
)

// dpopFixture is a server over TCP that accepts DPoP and Bearer tokens
// from an in-process issuer.
type dpopFixture struct {
	iss    *oauthtest.Issuer
	key    *oauthtest.DPoPKey
	conn   *grpc.ClientConn
	client testpb.LibraryServiceClient
	dpop   *dpop.Verifier
}

func newDPoPFixture(t *testing.T, cfg dpop.Config, policy *scopes.Policy, origins ...string) *dpopFixture {
	t.Helper()
	return newDPoPFixtureOpts(t, cfg, policy, origins)
}

// newDPoPFixtureOpts is newDPoPFixture with more interceptor options.
func newDPoPFixtureOpts(t *testing.T, cfg dpop.Config, policy *scopes.Policy, origins []string, opts ...interceptor.Option) *dpopFixture {
	t.Helper()
	f := &dpopFixture{iss: oauthtest.NewIssuer(t)}
	f.key = oauthtest.NewDPoPKey(t, jose.ES256, nil)
	keys, err := verify.NewStaticKeySet(f.iss.JWKS().Keys...)
	if err != nil {
		t.Fatal(err)
	}
	jwt, err := verify.NewJWT(keys, verify.JWTConfig{Issuer: f.iss.URL, Audiences: []string{oauthtest.DefaultAudience}})
	if err != nil {
		t.Fatal(err)
	}
	intro, err := verify.NewIntrospection(verify.IntrospectionConfig{
		Endpoint: f.iss.EndpointURL(oauthtest.EndpointIntrospection), ClientID: f.iss.ClientID, ClientSecret: verify.Secret(f.iss.ClientSecret),
		Audiences: []string{oauthtest.DefaultAudience}, HTTPClient: f.iss.Client(), InsecureAllowHTTP: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	v, err := verify.ByShape(jwt, intro)
	if err != nil {
		t.Fatal(err)
	}
	if f.dpop, err = dpop.New(cfg); err != nil {
		t.Fatal(err)
	}
	if policy == nil {
		policy = newPolicy(t)
	}
	gate, err := interceptor.New(v, policy, append([]interceptor.Option{interceptor.WithRealm("library"), interceptor.WithDPoP(f.dpop, origins...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(gate.ServerOptions()...)
	testpb.RegisterLibraryServiceServer(srv, &library{})
	testpb.RegisterShelfServiceServer(srv, shelf{})
	f.conn = oauthtest.ServeGRPCTCP(t, srv)
	f.client = testpb.NewLibraryServiceClient(f.conn)
	return f
}

// uri is the htu of method on the fixture's server.
func (f *dpopFixture) uri(method string) string {
	return "http://" + strings.TrimPrefix(f.conn.Target(), "passthrough:///") + "/oauthgatetest.v1.LibraryService/" + method
}

// withDPoP returns ctx carrying token with the DPoP scheme and proof.
func withDPoP(ctx context.Context, token, proof string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "DPoP "+token, "dpop", proof)
}

// callKinds calls one RPC of each kind with the per-call credentials creds
// (or none) and the metadata of ctx, and returns each outcome with the
// response metadata.
func callKinds(ctx context.Context, c testpb.LibraryServiceClient, opts ...grpc.CallOption) map[string]callOutcome {
	out := map[string]callOutcome{}
	var hdr, trl metadata.MD
	o := append([]grpc.CallOption{grpc.Header(&hdr), grpc.Trailer(&trl)}, opts...)
	_, err := c.GetBook(ctx, &testpb.GetBookRequest{Name: "x"}, o...)
	out["Unary"] = callOutcome{err: err, md: metadata.Join(hdr, trl)}

	if s, err := c.ListBooks(ctx, &testpb.ListBooksRequest{Count: 1}, opts...); err != nil {
		out["ServerStream"] = callOutcome{err: err}
	} else {
		_, err = s.Recv()
		out["ServerStream"] = callOutcome{err: ignoreEOF(err), md: streamMD(s)}
	}
	if s, err := c.AddBooks(ctx, opts...); err != nil {
		out["ClientStream"] = callOutcome{err: err}
	} else {
		_ = s.Send(&testpb.AddBooksRequest{})
		_, err = s.CloseAndRecv()
		out["ClientStream"] = callOutcome{err: err, md: streamMD(s)}
	}
	if s, err := c.Chat(ctx, opts...); err != nil {
		out["BidiStream"] = callOutcome{err: err}
	} else {
		_ = s.Send(&testpb.ChatRequest{Text: "hi"})
		_, err = s.Recv()
		_ = s.CloseSend()
		out["BidiStream"] = callOutcome{err: ignoreEOF(err), md: streamMD(s)}
	}
	return out
}

// streamMD returns the header of a finished stream, or its trailer when
// the server could only put the answer there.
func streamMD(s grpc.ClientStream) metadata.MD {
	if h, err := s.Header(); err == nil && len(h.Get("www-authenticate")) > 0 {
		return h
	}
	return s.Trailer()
}

type callOutcome struct {
	err error
	md  metadata.MD
}

func ignoreEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

// TestDPoP_EndToEnd: DPoP-bound tokens over TCP for every kind of RPC, with
// dpopgrpc credentials signing a fresh proof per call, and the failures of
// RFC 9449 §7 with their reasons and challenges.
func TestDPoP_EndToEnd(t *testing.T) {
	f := newDPoPFixture(t, dpop.Config{}, nil)
	other := oauthtest.NewDPoPKey(t, jose.ES256, nil)
	bound := f.iss.Token(t, oauthtest.Token{Scopes: allScopes, DPoPKey: f.key})
	boundOpaque := f.iss.OpaqueToken(t, oauthtest.Token{Scopes: allScopes, DPoPKey: f.key})
	dpopTyped := f.iss.OpaqueToken(t, oauthtest.Token{Scopes: allScopes, Claims: map[string]any{"token_type": "DPoP"}})
	bearer := f.iss.Token(t, oauthtest.Token{Scopes: allScopes})
	ctx := testContext(t)

	tests := map[string]struct {
		creds      grpc.CallOption
		ctx        func() context.Context // for hand-made proofs: one call only
		wantCode   codes.Code
		wantReason string
		wantDPoP   string // expected in the DPoP challenge
	}{
		"BoundJWT":             {creds: grpc.PerRPCCredentials(f.key.Credentials(t, bound))},
		"BoundOpaque":          {creds: grpc.PerRPCCredentials(f.key.Credentials(t, boundOpaque))},
		"BoundAsBearer":        {creds: oauthtest.Bearer(bound), wantCode: codes.Unauthenticated, wantReason: interceptor.ReasonDPoPProofRequired},
		"BoundOpaqueAsBearer":  {creds: oauthtest.Bearer(boundOpaque), wantCode: codes.Unauthenticated, wantReason: interceptor.ReasonDPoPProofRequired},
		"DPoPTypedAsBearer":    {creds: oauthtest.Bearer(dpopTyped), wantCode: codes.Unauthenticated, wantReason: interceptor.ReasonDPoPProofRequired},
		"ProofByOtherKey":      {creds: grpc.PerRPCCredentials(other.Credentials(t, bound)), wantCode: codes.Unauthenticated, wantReason: interceptor.ReasonDPoPKeyMismatch},
		"BearerTokenWithProof": {creds: grpc.PerRPCCredentials(f.key.Credentials(t, bearer)), wantCode: codes.Unauthenticated, wantReason: interceptor.ReasonDPoPKeyMismatch},
		"BearerStillWorks":     {creds: oauthtest.Bearer(bearer)},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			for kind, got := range callKinds(ctx, f.client, tc.creds) {
				if status.Code(got.err) != tc.wantCode {
					t.Fatalf("%s: code = %v (%v), want %v", kind, status.Code(got.err), got.err, tc.wantCode)
				}
				if tc.wantCode == codes.OK {
					continue
				}
				if r := errorInfo(t, got.err).GetReason(); r != tc.wantReason {
					t.Errorf("%s: reason = %s, want %s", kind, r, tc.wantReason)
				}
				www := got.md.Get("www-authenticate")
				if len(www) != 2 || !strings.HasPrefix(www[0], "Bearer ") || !strings.HasPrefix(www[1], `DPoP realm="library", algs="`) {
					t.Errorf("%s: www-authenticate = %q, want a Bearer and a DPoP challenge", kind, www)
				}
			}
		})
	}
}

// TestDPoP_ProofChecks: hand-made proofs for one unary call each, one row
// per check of RFC 9449 §4.3 as the interceptor maps it onto gRPC.
func TestDPoP_ProofChecks(t *testing.T) {
	f := newDPoPFixture(t, dpop.Config{}, nil)
	tok := f.iss.Token(t, oauthtest.Token{Scopes: allScopes, DPoPKey: f.key})
	ctx := testContext(t)
	get := f.uri("GetBook")
	replayed := f.key.Proof(t, "POST", get, tok)
	if _, err := f.client.GetBook(withDPoP(ctx, tok, replayed), &testpb.GetBookRequest{}); err != nil {
		t.Fatalf("GetBook(first use of a proof) = %v", err)
	}
	tests := map[string]struct {
		md         context.Context
		wantReason string
		wantError  string // the DPoP challenge's error
	}{
		"Replayed":        {md: withDPoP(ctx, tok, replayed), wantReason: "DPOP_PROOF_REPLAYED", wantError: "invalid_dpop_proof"},
		"WrongMethodPath": {md: withDPoP(ctx, tok, f.key.Proof(t, "POST", f.uri("ListBooks"), tok)), wantReason: "DPOP_PROOF_URI", wantError: "invalid_dpop_proof"},
		"HTTPS":           {md: withDPoP(ctx, tok, f.key.Proof(t, "POST", strings.Replace(get, "http:", "https:", 1), tok)), wantReason: "DPOP_PROOF_URI", wantError: "invalid_dpop_proof"},
		"GET":             {md: withDPoP(ctx, tok, f.key.Proof(t, "GET", get, tok)), wantReason: "DPOP_PROOF_METHOD", wantError: "invalid_dpop_proof"},
		"OldIat":          {md: withDPoP(ctx, tok, f.key.Proof(t, "POST", get, tok, oauthtest.Proof{Claims: map[string]any{"iat": time.Now().Add(-time.Hour).Unix()}})), wantReason: "DPOP_PROOF_STALE", wantError: "invalid_dpop_proof"},
		"MissingATH":      {md: withDPoP(ctx, tok, f.key.Proof(t, "POST", get, "")), wantReason: "DPOP_PROOF_MISSING_CLAIM", wantError: "invalid_dpop_proof"},
		"PrivateKey":      {md: withDPoP(ctx, tok, f.key.Proof(t, "POST", get, tok, oauthtest.Proof{PrivateKey: true})), wantReason: "DPOP_PROOF_PRIVATE_KEY", wantError: "invalid_dpop_proof"},
		"Garbage":         {md: withDPoP(ctx, tok, "garbage"), wantReason: "DPOP_PROOF_MALFORMED", wantError: "invalid_dpop_proof"},
		"NoProof":         {md: metadata.AppendToOutgoingContext(ctx, "authorization", "DPoP "+tok), wantReason: interceptor.ReasonInvalidRequest, wantError: "invalid_request"},
		"TwoProofs":       {md: metadata.AppendToOutgoingContext(withDPoP(ctx, tok, replayed), "dpop", replayed), wantReason: interceptor.ReasonInvalidRequest, wantError: "invalid_request"},
		"BearerAndProof":  {md: metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok, "dpop", replayed), wantReason: interceptor.ReasonInvalidRequest},
		"ProofOfOtherTok": {md: withDPoP(ctx, tok, f.key.Proof(t, "POST", get, "another token")), wantReason: "DPOP_PROOF_TOKEN_HASH", wantError: "invalid_dpop_proof"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var hdr metadata.MD
			_, err := f.client.GetBook(tc.md, &testpb.GetBookRequest{}, grpc.Header(&hdr))
			if status.Code(err) != codes.Unauthenticated || errorInfo(t, err).GetReason() != tc.wantReason {
				t.Fatalf("GetBook() = %v (%s), want Unauthenticated %s", err, errorInfo(t, err).GetReason(), tc.wantReason)
			}
			www := hdr.Get("www-authenticate")
			if tc.wantError != "" && (len(www) != 2 || !strings.Contains(www[1], `error="`+tc.wantError+`"`)) {
				t.Errorf("www-authenticate = %q, want the DPoP challenge to carry error %q", www, tc.wantError)
			}
			if msg := status.Convert(err).Message(); strings.Contains(msg, tok) || strings.Contains(strings.Join(www, ""), tok) {
				t.Error("the token was echoed to the client")
			}
		})
	}
}

// TestDPoP_Nonce: with nonces required, a proof without one gets
// use_dpop_nonce and the nonce in dpop-nonce; the dpopgrpc credentials
// retry with it.
func TestDPoP_Nonce(t *testing.T) {
	f := newDPoPFixture(t, dpop.Config{NoncePeriod: time.Minute}, nil)
	tok := f.iss.Token(t, oauthtest.Token{Scopes: []string{"library.read"}, DPoPKey: f.key})
	creds := dpopCredentials(t, f.key, tok)
	var hdr metadata.MD
	_, err := f.client.GetBook(testContext(t), &testpb.GetBookRequest{}, grpc.PerRPCCredentials(creds), grpc.Header(&hdr))
	if status.Code(err) != codes.Unauthenticated || errorInfo(t, err).GetReason() != "DPOP_NONCE_REQUIRED" {
		t.Fatalf("GetBook(no nonce) = %v, want Unauthenticated DPOP_NONCE_REQUIRED", err)
	}
	www, nonce := hdr.Get("www-authenticate"), hdr.Get("dpop-nonce")
	if len(www) != 2 || !strings.Contains(www[1], `error="use_dpop_nonce"`) || len(nonce) != 1 || nonce[0] != f.dpop.Nonce() {
		t.Fatalf("www-authenticate = %q, dpop-nonce = %q; want use_dpop_nonce and the current nonce", www, nonce)
	}
	creds.SetNonce(nonce[0])
	if _, err := f.client.GetBook(testContext(t), &testpb.GetBookRequest{}, grpc.PerRPCCredentials(creds)); err != nil {
		t.Fatalf("GetBook(with the nonce) = %v", err)
	}
	// Any other denial, challenged too, sends no nonce: only
	// use_dpop_nonce asks the client for one.
	weak := dpopCredentials(t, f.key, f.iss.Token(t, oauthtest.Token{Scopes: []string{"other"}, DPoPKey: f.key}))
	weak.SetNonce(nonce[0])
	hdr = nil
	_, err = f.client.GetBook(testContext(t), &testpb.GetBookRequest{}, grpc.PerRPCCredentials(weak), grpc.Header(&hdr))
	if status.Code(err) != codes.PermissionDenied || len(hdr.Get("www-authenticate")) == 0 || len(hdr.Get("dpop-nonce")) != 0 {
		t.Fatalf("GetBook(scope missing) = %v with www-authenticate %q, dpop-nonce %q; want PermissionDenied, a challenge and no nonce",
			err, hdr.Get("www-authenticate"), hdr.Get("dpop-nonce"))
	}
}

// TestDPoP_PublicOrigin: behind a proxy, htu names the public origin, not
// the connection's authority.
func TestDPoP_PublicOrigin(t *testing.T) {
	f := newDPoPFixture(t, dpop.Config{}, nil, "https://library.example.com")
	tok := f.iss.Token(t, oauthtest.Token{Scopes: []string{"library.read"}, DPoPKey: f.key})
	ctx := testContext(t)
	public := "https://LIBRARY.example.com:443/oauthgatetest.v1.LibraryService/GetBook"
	if _, err := f.client.GetBook(withDPoP(ctx, tok, f.key.Proof(t, "POST", public, tok)), &testpb.GetBookRequest{}); err != nil {
		t.Fatalf("GetBook(htu of the public origin) = %v", err)
	}
	_, err := f.client.GetBook(withDPoP(ctx, tok, f.key.Proof(t, "POST", f.uri("GetBook"), tok)), &testpb.GetBookRequest{})
	if errorInfo(t, err).GetReason() != "DPOP_PROOF_URI" {
		t.Fatalf("GetBook(htu of the internal address) = %v, want DPOP_PROOF_URI", err)
	}
	for _, bad := range []string{"https://x.example/path", "ftp://x.example", "x.example"} {
		if _, err := interceptor.New(newFakeVerifier(t), newPolicy(t), interceptor.WithDPoP(f.dpop, bad)); err == nil {
			t.Errorf("New(WithDPoP(origin %q)) succeeded", bad)
		}
	}
	if _, err := interceptor.New(newFakeVerifier(t), newPolicy(t), interceptor.WithDPoP(nil)); err == nil {
		t.Error("New(WithDPoP(nil)) succeeded")
	}
}

// TestDPoP_SenderConstrainedRule: a method that requires sender-constrained
// tokens accepts a DPoP-bound token and refuses a bearer token.
func TestDPoP_SenderConstrainedRule(t *testing.T) {
	policy, err := scopes.NewPolicy(scopes.FromFiles(testpb.File_oauthgatetest_v1_library_proto),
		scopes.ForMethod("/oauthgatetest.v1.ShelfService/Move", scopes.AllOf("library.read").SenderConstrained()))
	if err != nil {
		t.Fatal(err)
	}
	f := newDPoPFixture(t, dpop.Config{}, policy)
	ctx := testContext(t)
	shelf := testpb.NewShelfServiceClient(f.conn)
	bound := f.iss.Token(t, oauthtest.Token{Scopes: []string{"library.read"}, DPoPKey: f.key})
	// The gate lets it through; the test shelf does not implement Move.
	if _, err := shelf.Move(ctx, &testpb.MoveRequest{}, grpc.PerRPCCredentials(f.key.Credentials(t, bound))); status.Code(err) != codes.Unimplemented {
		t.Fatalf("Move(DPoP-bound) = %v, want it past the gate (Unimplemented)", err)
	}
	_, err = shelf.Move(ctx, &testpb.MoveRequest{}, oauthtest.Bearer(f.iss.Token(t, oauthtest.Token{Scopes: []string{"library.read"}})))
	if status.Code(err) != codes.Unauthenticated || errorInfo(t, err).GetReason() != interceptor.ReasonSenderConstraintRequired {
		t.Fatalf("Move(bearer) = %v, want Unauthenticated %s", err, interceptor.ReasonSenderConstraintRequired)
	}
}

// TestDPoP_ReplayUnderConcurrency: many goroutines present one proof;
// exactly one call is accepted.
func TestDPoP_ReplayUnderConcurrency(t *testing.T) {
	f := newDPoPFixture(t, dpop.Config{}, nil)
	tok := f.iss.Token(t, oauthtest.Token{Scopes: []string{"library.read"}, DPoPKey: f.key})
	ctx := withDPoP(testContext(t), tok, f.key.Proof(t, "POST", f.uri("GetBook"), tok))
	var ok, replayed atomic.Int32
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			_, err := f.client.GetBook(ctx, &testpb.GetBookRequest{})
			switch {
			case err == nil:
				ok.Add(1)
			case status.Code(err) == codes.Unauthenticated && errorInfo(t, err).GetReason() == "DPOP_PROOF_REPLAYED":
				replayed.Add(1)
			default:
				t.Errorf("GetBook() = %v", err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 1 || replayed.Load() != 31 {
		t.Errorf("accepted %d, replayed %d; want 1 and 31", ok.Load(), replayed.Load())
	}
}

// dpopCredentials returns dpopgrpc credentials for k's signer, over any
// transport, keeping the concrete type for SetNonce.
func dpopCredentials(t *testing.T, k *oauthtest.DPoPKey, token string) *dpopgrpc.Credentials {
	t.Helper()
	return dpopgrpc.NewCredentials(k.Signer(t), func(context.Context) (string, error) { return token, nil }, dpopgrpc.AllowInsecure())
}

// failingStore is a dpop.ReplayStore that cannot answer.
type failingStore struct{ err error }

func (s failingStore) Record(context.Context, [32]byte, time.Duration) (bool, error) {
	return false, s.err
}

// TestDPoP_ReplayStoreUnavailable: when the shared replay store cannot
// answer, a DPoP call that is otherwise good fails closed with Unavailable
// and DPOP_REPLAY_STORE_UNAVAILABLE, for every kind of call, and with no
// invalid_dpop_proof challenge: the proof is not at fault. Bearer calls do
// not use the store.
func TestDPoP_ReplayStoreUnavailable(t *testing.T) {
	f := newDPoPFixture(t, dpop.Config{ReplayStore: failingStore{errors.New("store down")}}, nil)
	tok := f.iss.Token(t, oauthtest.Token{Scopes: allScopes, DPoPKey: f.key})
	ctx := testContext(t)
	for kind, got := range callKinds(ctx, f.client, grpc.PerRPCCredentials(f.key.Credentials(t, tok))) {
		if status.Code(got.err) != codes.Unavailable {
			t.Fatalf("%s: code = %v (%v), want Unavailable", kind, status.Code(got.err), got.err)
		}
		if r := errorInfo(t, got.err).GetReason(); r != interceptor.ReasonDPoPReplayStoreUnavailable {
			t.Errorf("%s: reason = %s, want %s", kind, r, interceptor.ReasonDPoPReplayStoreUnavailable)
		}
		if www := got.md.Get("www-authenticate"); len(www) != 0 {
			t.Errorf("%s: www-authenticate = %q, want none", kind, www)
		}
	}
	bearer := f.iss.Token(t, oauthtest.Token{Scopes: allScopes})
	if _, err := f.client.GetBook(ctx, &testpb.GetBookRequest{Name: "x"}, oauthtest.Bearer(bearer)); err != nil {
		t.Errorf("GetBook(bearer) = %v, want OK", err)
	}
}

// blockingStore is a dpop.ReplayStore that answers only when the call's
// context ends, as a store behind a network partition would.
type blockingStore struct{ started chan struct{} }

func (s blockingStore) Record(ctx context.Context, _ [32]byte, _ time.Duration) (bool, error) {
	s.started <- struct{}{}
	<-ctx.Done()
	return false, ctx.Err()
}

// records is a slog.Handler that hands every record to the test.
type records chan slog.Record

func (r records) Enabled(context.Context, slog.Level) bool        { return true }
func (r records) Handle(_ context.Context, rec slog.Record) error { r <- rec.Clone(); return nil }
func (r records) WithAttrs([]slog.Attr) slog.Handler              { return r }
func (r records) WithGroup(string) slog.Handler                   { return r }

// TestDPoP_CallEndsWhileRecording: a call whose context ends while its
// proof is being recorded (the client gave up on a slow replay store) is
// denied as "cannot check now", Unavailable, never as an invalid proof: the
// proof was good, and the server's log and metrics must not say otherwise.
func TestDPoP_CallEndsWhileRecording(t *testing.T) {
	store := blockingStore{started: make(chan struct{}, 1)}
	logs := make(records, 8)
	f := newDPoPFixtureOpts(t, dpop.Config{ReplayStore: store}, nil, nil, interceptor.WithLogger(slog.New(logs)))
	tok := f.iss.Token(t, oauthtest.Token{Scopes: allScopes, DPoPKey: f.key})
	ctx, cancel := context.WithCancel(testContext(t))
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		_, err := f.client.GetBook(ctx, &testpb.GetBookRequest{Name: "x"}, grpc.PerRPCCredentials(f.key.Credentials(t, tok)))
		errc <- err
	}()
	<-store.started // the token is verified and bound; the proof is being recorded
	cancel()
	if err := <-errc; status.Code(err) != codes.Canceled {
		t.Fatalf("GetBook error = %v, want the client's own Canceled", err)
	}
	rec := <-logs
	attrs := map[string]string{}
	rec.Attrs(func(a slog.Attr) bool { attrs[a.Key] = a.Value.String(); return true })
	if attrs["code"] != codes.Unavailable.String() || attrs["reason"] != interceptor.ReasonDPoPReplayCacheFull {
		t.Fatalf("denial logged with code %q, reason %q; want %s, %s", attrs["code"], attrs["reason"], codes.Unavailable, interceptor.ReasonDPoPReplayCacheFull)
	}
}
