package connectgate_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/go-jose/go-jose/v4"
	"google.golang.org/genproto/googleapis/rpc/errdetails"

	"github.com/oauthgate/oauthgate/connectgate"
	"github.com/oauthgate/oauthgate/dpop"
	testpb "github.com/oauthgate/oauthgate/internal/testproto/oauthgatetest/v1"
	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/scopes"
	"github.com/oauthgate/oauthgate/verify"
)

const (
	defaultTestTimeout = 10 * time.Second

	getBookProc   = testpb.LibraryService_GetBook_FullMethodName
	listBooksProc = testpb.LibraryService_ListBooks_FullMethodName
	pingProc      = testpb.LibraryService_Ping_FullMethodName
	moveProc      = testpb.ShelfService_Move_FullMethodName // no rule
)

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), defaultTestTimeout)
	t.Cleanup(cancel)
	return ctx
}

// fixture is an issuer, a verifier of its tokens, a DPoP key and the policy
// of library.proto.
type fixture struct {
	clock  *oauthtest.Clock
	iss    *oauthtest.Issuer
	key    *oauthtest.DPoPKey
	jwt    *verify.JWT
	policy *scopes.Policy
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{clock: oauthtest.NewClock(time.Now())}
	f.iss = oauthtest.NewIssuer(t, oauthtest.IssuerConfig{Now: f.clock.Now})
	f.key = oauthtest.NewDPoPKey(t, jose.ES256, f.clock.Now)
	keys, err := verify.NewStaticKeySet(f.iss.JWKS().Keys...)
	if err != nil {
		t.Fatal(err)
	}
	if f.jwt, err = verify.NewJWT(keys, verify.JWTConfig{Issuer: f.iss.URL, Audiences: []string{oauthtest.DefaultAudience}, Now: f.clock.Now}); err != nil {
		t.Fatal(err)
	}
	if f.policy, err = scopes.NewPolicy(scopes.FromFiles(testpb.File_oauthgatetest_v1_library_proto)); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) token(t *testing.T, changes ...oauthtest.Token) string {
	t.Helper()
	return f.iss.Token(t, append([]oauthtest.Token{{Scopes: []string{"library.read"}}}, changes...)...)
}

func (f *fixture) gate(t *testing.T, opts ...connectgate.Option) *connectgate.Gate {
	t.Helper()
	gate, err := connectgate.New(f.jwt, f.policy, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return gate
}

// mux serves GetBook (side-effect free, so Connect GET works), Ping
// (public) and ShelfService.Move (no rule), all behind gate.
func mux(gate *connectgate.Gate) *http.ServeMux {
	m := http.NewServeMux()
	ic := connect.WithInterceptors(gate)
	m.Handle(getBookProc, connect.NewUnaryHandler(getBookProc, getBook, ic, connect.WithIdempotency(connect.IdempotencyNoSideEffects)))
	m.Handle(pingProc, connect.NewUnaryHandler(pingProc, func(ctx context.Context, _ *connect.Request[testpb.PingRequest]) (*connect.Response[testpb.PingResponse], error) {
		if _, ok := connectgate.FromContext(ctx); ok {
			return nil, connect.NewError(connect.CodeInternal, errors.New("claims on a public procedure"))
		}
		return connect.NewResponse(&testpb.PingResponse{}), nil
	}, ic))
	m.Handle(moveProc, connect.NewUnaryHandler(moveProc, func(context.Context, *connect.Request[testpb.MoveRequest]) (*connect.Response[testpb.MoveResponse], error) {
		return connect.NewResponse(&testpb.MoveResponse{}), nil
	}, ic))
	return m
}

// getBookClient returns a client of GetBook at srv, with opts.
func getBookClient(t *testing.T, srv *oauthtest.ConnectServer, cert *tls.Certificate, opts ...connect.ClientOption) *connect.Client[testpb.GetBookRequest, testpb.GetBookResponse] {
	t.Helper()
	return connect.NewClient[testpb.GetBookRequest, testpb.GetBookResponse](srv.Client(t, cert), srv.URL+getBookProc, opts...)
}

// callGetBook calls GetBook with headers h and returns the error.
func callGetBook(t *testing.T, c *connect.Client[testpb.GetBookRequest, testpb.GetBookResponse], h http.Header) error {
	t.Helper()
	req := connect.NewRequest(&testpb.GetBookRequest{Name: "dune"})
	for k, vs := range h {
		req.Header()[k] = vs
	}
	_, err := c.CallUnary(testContext(t), req)
	return err
}

// reason returns the code and ErrorInfo reason of err (OK and "" for nil).
func reason(err error) (connect.Code, string) {
	if err == nil {
		return 0, ""
	}
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return connect.CodeUnknown, err.Error()
	}
	for _, d := range ce.Details() {
		if v, derr := d.Value(); derr == nil {
			if info, ok := v.(*errdetails.ErrorInfo); ok {
				return ce.Code(), info.GetReason()
			}
		}
	}
	return ce.Code(), ""
}

func TestNew(t *testing.T) {
	f := newFixture(t)
	tests := map[string]struct {
		v    verify.Verifier
		p    *scopes.Policy
		opts []connectgate.Option
	}{
		"NilVerifier": {p: f.policy},
		"NilPolicy":   {v: f.jwt},
		"BadRealm":    {v: f.jwt, p: f.policy, opts: []connectgate.Option{connectgate.WithRealm(`a"b`)}},
		"NilDPoP":     {v: f.jwt, p: f.policy, opts: []connectgate.Option{connectgate.WithDPoP(nil)}},
		"BadOrigin":   {v: f.jwt, p: f.policy, opts: []connectgate.Option{connectgate.WithDPoP(newDPoP(t, f, 0), "https://api.example.com/path")}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := connectgate.New(tc.v, tc.p, tc.opts...); err == nil || !strings.HasPrefix(err.Error(), "connectgate: ") {
				t.Fatalf("New() error = %v, want a connectgate error", err)
			}
		})
	}
}

func newDPoP(t *testing.T, f *fixture, noncePeriod time.Duration) *dpop.Verifier {
	t.Helper()
	cfg := dpop.Config{Now: f.clock.Now, NoncePeriod: noncePeriod}
	if noncePeriod > 0 {
		cfg.NonceKey = []byte("0123456789abcdef0123456789abcdef")
	}
	v, err := dpop.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestCheck is the start-up coverage check.
func TestCheck(t *testing.T) {
	gate := newFixture(t).gate(t)
	var cov *scopes.CoverageError
	tests := map[string]struct {
		services []string
		ok       bool
		coverage []string
	}{
		"CoveredPath":    {services: []string{"/oauthgatetest.v1.LibraryService/"}, ok: true},
		"CoveredName":    {services: []string{"oauthgatetest.v1.LibraryService"}, ok: true},
		"PartlyCovered":  {services: []string{"oauthgatetest.v1.ShelfService"}, coverage: []string{"/oauthgatetest.v1.ShelfService/Burn", moveProc}},
		"UnknownService": {services: []string{"/nope.v1.Nothing/"}},
		"NotAService":    {services: []string{"oauthgatetest.v1.GetBookRequest"}},
		"None":           {},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := gate.Check(tc.services...)
			switch {
			case tc.ok:
				if err != nil {
					t.Fatalf("Check(%q) = %v, want nil", tc.services, err)
				}
			case tc.coverage != nil:
				if !errors.As(err, &cov) || strings.Join(cov.Methods, " ") != strings.Join(tc.coverage, " ") {
					t.Fatalf("Check(%q) = %v, want a CoverageError naming %q", tc.services, err, tc.coverage)
				}
			case err == nil || !strings.HasPrefix(err.Error(), "connectgate: Check: "):
				t.Fatalf("Check(%q) = %v, want a connectgate error", tc.services, err)
			}
		})
	}
}

// TestPublicAndUndeclared: a public procedure needs no token and carries
// no claims; a procedure without a rule is denied, token or not.
func TestPublicAndUndeclared(t *testing.T) {
	f := newFixture(t)
	gate := f.gate(t)
	srv := oauthtest.ServeConnect(t, gate.Handler(mux(gate)))
	ping := connect.NewClient[testpb.PingRequest, testpb.PingResponse](srv.Client(t, nil), srv.URL+pingProc)
	if _, err := ping.CallUnary(testContext(t), connect.NewRequest(&testpb.PingRequest{})); err != nil {
		t.Errorf("Ping without a token: %v", err)
	}
	move := connect.NewClient[testpb.MoveRequest, testpb.MoveResponse](srv.Client(t, nil), srv.URL+moveProc)
	req := connect.NewRequest(&testpb.MoveRequest{})
	req.Header().Set("Authorization", "Bearer "+f.token(t, oauthtest.Token{Scopes: []string{"library.read", "shelf.read"}}))
	_, err := move.CallUnary(testContext(t), req)
	if code, r := reason(err); code != connect.CodePermissionDenied || r != connectgate.ReasonUndeclaredMethod {
		t.Errorf("Move = %v, %q; want PermissionDenied, UNDECLARED_METHOD", code, r)
	}
}
