package dpopgrpc_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
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

// nonceServer is an oauthgate-protected LibraryService that requires DPoP
// nonces, counting the calls that reach the server; its handlers answer
// Unimplemented, so a call that got past oauthgate ends with that code.
type nonceServer struct {
	iss   *oauthtest.Issuer
	key   *oauthtest.DPoPKey
	clock *oauthtest.Clock
	dpop  *dpop.Verifier
	conn  *grpc.ClientConn
	calls atomic.Int64
}

func newNonceServer(t *testing.T) *nonceServer {
	t.Helper()
	s := &nonceServer{iss: oauthtest.NewIssuer(t), clock: oauthtest.NewClock(time.Now())}
	s.key = oauthtest.NewDPoPKey(t, jose.ES256, s.clock.Now)
	keys, err := verify.NewStaticKeySet(s.iss.JWKS().Keys...)
	if err != nil {
		t.Fatal(err)
	}
	jwt, err := verify.NewJWT(keys, verify.JWTConfig{Issuer: s.iss.URL, Audiences: []string{oauthtest.DefaultAudience}})
	if err != nil {
		t.Fatal(err)
	}
	policy, err := scopes.NewPolicy(scopes.FromFiles(testpb.File_oauthgatetest_v1_library_proto))
	if err != nil {
		t.Fatal(err)
	}
	// The proofs' iat and the nonces' periods follow the fake clock, which
	// the test moves ahead; the token's lifetime is the issuer's real one.
	if s.dpop, err = dpop.New(dpop.Config{NoncePeriod: time.Minute, Now: s.clock.Now}); err != nil {
		t.Fatal(err)
	}
	gate, err := interceptor.New(jwt, policy, interceptor.WithDPoP(s.dpop))
	if err != nil {
		t.Fatal(err)
	}
	count := grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		s.calls.Add(1)
		return h(ctx, req)
	})
	countStreams := grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		s.calls.Add(1)
		return h(srv, ss)
	})
	srv := grpc.NewServer(append([]grpc.ServerOption{count, countStreams}, gate.ServerOptions()...)...)
	register(srv)
	s.conn = oauthtest.ServeGRPCTCP(t, srv)
	return s
}

// credentials returns DPoP credentials for a token of scopes, and a client
// that uses them with their interceptors.
func (s *nonceServer) client(t *testing.T, scopes ...string) (*dpopgrpc.Credentials, testpb.LibraryServiceClient) {
	t.Helper()
	tok := s.iss.Token(t, oauthtest.Token{Scopes: scopes, DPoPKey: s.key})
	creds := dpopgrpc.NewCredentials(s.key.Signer(t), func(context.Context) (string, error) { return tok, nil }, dpopgrpc.AllowInsecure())
	conn, err := grpc.NewClient(s.conn.Target(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(creds),
		grpc.WithChainUnaryInterceptor(creds.UnaryClientInterceptor()),
		grpc.WithChainStreamInterceptor(creds.StreamClientInterceptor()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return creds, testpb.NewLibraryServiceClient(conn)
}

// TestUnaryClientInterceptor_Nonce: against a server that requires nonces,
// the first call is refused for its missing nonce and made again with the
// one the server gave, invisibly to the caller; the next calls carry it from
// the start; when the server's nonce moves on, one call is made twice again.
func TestUnaryClientInterceptor_Nonce(t *testing.T) {
	t.Parallel()
	s := newNonceServer(t)
	_, client := s.client(t, "library.read")
	ctx := context.Background()
	call := func(wantCalls int64) {
		t.Helper()
		before := s.calls.Load()
		_, err := client.GetBook(ctx, &testpb.GetBookRequest{})
		if status.Code(err) != codes.Unimplemented {
			t.Fatalf("GetBook() = %v, want Unimplemented: past oauthgate", err)
		}
		if got := s.calls.Load() - before; got != wantCalls {
			t.Fatalf("the server saw %d calls, want %d", got, wantCalls)
		}
	}
	call(2) // refused with use_dpop_nonce, then made with the nonce
	call(1)
	call(1)
	s.clock.Advance(2 * time.Minute) // the nonce of two periods ago is refused
	call(2)
	call(1)
}

// TestUnaryClientInterceptor_OtherDenials: a call refused for anything but
// a nonce is not made again, and its caller gets the server's answer.
func TestUnaryClientInterceptor_OtherDenials(t *testing.T) {
	t.Parallel()
	s := newNonceServer(t)
	_, client := s.client(t, "other.scope")
	ctx := context.Background()
	_, err := client.GetBook(ctx, &testpb.GetBookRequest{}) // learns the nonce
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("GetBook() = %v, want PermissionDenied", err)
	}
	before := s.calls.Load()
	var hdr metadata.MD
	_, err = client.GetBook(ctx, &testpb.GetBookRequest{}, grpc.Header(&hdr))
	if status.Code(err) != codes.PermissionDenied || !strings.Contains(strings.Join(hdr.Get("www-authenticate"), " "), "insufficient_scope") {
		t.Fatalf("GetBook() = %v, www-authenticate %q; want PermissionDenied, insufficient_scope", err, hdr.Get("www-authenticate"))
	}
	if got := s.calls.Load() - before; got != 1 {
		t.Fatalf("the server saw %d calls, want 1", got)
	}
}

// TestStreamClientInterceptor_Nonce: a stream refused for its nonce ends
// with that refusal (its messages may be gone), and the next stream
// carries the nonce.
func TestStreamClientInterceptor_Nonce(t *testing.T) {
	t.Parallel()
	s := newNonceServer(t)
	_, client := s.client(t, "library.read")
	ctx := context.Background()
	list := func() error {
		st, err := client.ListBooks(ctx, &testpb.ListBooksRequest{})
		if err != nil {
			return err
		}
		_, err = st.Recv()
		return err
	}
	if err := list(); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("first ListBooks() = %v, want Unauthenticated (use_dpop_nonce)", err)
	}
	if err := list(); status.Code(err) != codes.Unimplemented {
		t.Fatalf("second ListBooks() = %v, want Unimplemented: past oauthgate", err)
	}
}

// demandServer answers every call with Unauthenticated and the challenges
// and dpop-nonce values next returns, and keeps the nonce of each proof.
type demandServer struct {
	mu     sync.Mutex
	nonces []string // of the proofs received, "" for none
	next   func(call int) (www, nonce []string)
}

func (d *demandServer) options(t *testing.T) []grpc.ServerOption {
	v, err := dpop.New(dpop.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return []grpc.ServerOption{grpc.UnaryInterceptor(func(ctx context.Context, _ any, info *grpc.UnaryServerInfo, _ grpc.UnaryHandler) (any, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		authority := md.Get(":authority")
		_, err := v.Check(md.Get("dpop")[0], dpop.Request{Method: "POST", URIs: []string{"http://" + authority[0] + info.FullMethod}, AccessToken: token})
		if err != nil {
			t.Errorf("proof: %v", err)
			return nil, err
		}
		d.mu.Lock()
		d.nonces = append(d.nonces, proofNonce(t, md.Get("dpop")[0]))
		n := len(d.nonces)
		d.mu.Unlock()
		www, nonce := d.next(n)
		out := metadata.MD{"www-authenticate": www}
		if nonce != nil {
			out["dpop-nonce"] = nonce
		}
		if err := grpc.SetHeader(ctx, out); err != nil {
			return nil, err
		}
		return nil, status.Error(codes.Unauthenticated, "refused")
	})}
}

// TestUnaryClientInterceptor_Demands: what counts as a demand for a nonce,
// and that a call is made again at most once.
func TestUnaryClientInterceptor_Demands(t *testing.T) {
	t.Parallel()
	const demand = `DPoP algs="ES256", error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"`
	fixed := func(www string, nonce ...string) func(int) ([]string, []string) {
		return func(int) ([]string, []string) { return []string{`Bearer realm="x"`, www}, nonce }
	}
	tests := map[string]struct {
		next       func(call int) (www, nonce []string)
		wantNonces []string // of the proofs the server received
		wantKept   bool     // the next call carries the last nonce
	}{
		"Quoted":           {next: fixed(demand, "n-1"), wantNonces: []string{"", "n-1"}, wantKept: true},
		"Token":            {next: fixed(`dpop error=use_dpop_nonce`, "n-1"), wantNonces: []string{"", "n-1"}, wantKept: true},
		"QuotedComma":      {next: fixed(`DPoP realm="a, error=x", error="use_dpop_nonce"`, "n-1"), wantNonces: []string{"", "n-1"}, wantKept: true},
		"NewEveryTime":     {next: func(n int) ([]string, []string) { return []string{demand}, []string{"n-" + string(rune('0'+n))} }, wantNonces: []string{"", "n-1"}, wantKept: true},
		"BearerChallenge":  {next: fixed(`Bearer error="use_dpop_nonce"`, "n-1"), wantNonces: []string{""}},
		"OtherError":       {next: fixed(`DPoP error="invalid_dpop_proof"`, "n-1"), wantNonces: []string{""}},
		"InDescription":    {next: fixed(`DPoP error_description="use_dpop_nonce"`, "n-1"), wantNonces: []string{""}},
		"InQuotedRealm":    {next: fixed(`DPoP realm="error=use_dpop_nonce"`, "n-1"), wantNonces: []string{""}},
		"NoNonce":          {next: fixed(demand), wantNonces: []string{""}},
		"TwoNonces":        {next: fixed(demand, "n-1", "n-2"), wantNonces: []string{""}},
		"EmptyNonce":       {next: fixed(demand, ""), wantNonces: []string{""}},
		"NonceWithSpace":   {next: fixed(demand, "n 1"), wantNonces: []string{""}},
		"NonceWithQuote":   {next: fixed(demand, `n"1`), wantNonces: []string{""}},
		"UnclosedQuote":    {next: fixed(`DPoP error="use_dpop_nonce`, "n-1"), wantNonces: []string{""}},
		"UnclosedRealm":    {next: fixed(`DPoP realm="xerror=use_dpop_nonce`, "n-1"), wantNonces: []string{""}},
		"EscapedInQuotes":  {next: fixed(`DPoP realm="a\"b", error="use\_dpop\_nonce"`, "n-1"), wantNonces: []string{"", "n-1"}, wantKept: true},
		"EscapedQuoteEnd":  {next: fixed(`DPoP realm="a\", error=use_dpop_nonce`, "n-1"), wantNonces: []string{""}},
		"LongestNonce":     {next: fixed(demand, strings.Repeat("n", 1024)), wantNonces: []string{"", strings.Repeat("n", 1024)}, wantKept: true},
		"NonceTooLong":     {next: fixed(demand, strings.Repeat("n", 1025)), wantNonces: []string{""}},
		"NonceEdgeChars":   {next: fixed(demand, "!n~"), wantNonces: []string{"", "!n~"}, wantKept: true},
		"NoParameterValue": {next: fixed(`DPoP error`, "n-1"), wantNonces: []string{""}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := &demandServer{next: tc.next}
			srv := grpc.NewServer(d.options(t)...)
			register(srv)
			target := oauthtest.ServeGRPCTCP(t, srv).Target()
			key := oauthtest.NewDPoPKey(t, jose.ES256, nil)
			creds := dpopgrpc.NewCredentials(key.Signer(t), func(context.Context) (string, error) { return token, nil }, dpopgrpc.AllowInsecure())
			conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()),
				grpc.WithPerRPCCredentials(creds), grpc.WithUnaryInterceptor(creds.UnaryClientInterceptor()))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			client := testpb.NewLibraryServiceClient(conn)
			if _, err := client.GetBook(context.Background(), &testpb.GetBookRequest{}); status.Code(err) != codes.Unauthenticated {
				t.Fatalf("GetBook() = %v, want the server's Unauthenticated", err)
			}
			d.mu.Lock()
			got := strings.Join(d.nonces, "|")
			d.mu.Unlock()
			if want := strings.Join(tc.wantNonces, "|"); got != want {
				t.Fatalf("the server received proofs with nonces %q, want %q", got, want)
			}
			// The next call starts with the kept nonce, or with none.
			_, _ = client.GetBook(context.Background(), &testpb.GetBookRequest{})
			d.mu.Lock()
			first := d.nonces[len(tc.wantNonces)]
			d.mu.Unlock()
			if want := tc.wantNonces[len(tc.wantNonces)-1]; tc.wantKept != (first != "") || tc.wantKept && first != want {
				t.Fatalf("the next call's first proof has nonce %q; want it to carry the kept nonce: %v (%q)", first, tc.wantKept, want)
			}
		})
	}
}

// proofNonce returns the nonce claim of a proof that was checked already.
func proofNonce(t *testing.T, proof string) string {
	t.Helper()
	jws, err := jose.ParseSignedCompact(proof, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Nonce string `json:"nonce"`
	}
	if err := json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &c); err != nil {
		t.Fatal(err)
	}
	return c.Nonce
}
