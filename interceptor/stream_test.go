package interceptor_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/oauthgate/oauthgate/interceptor"
	testpb "github.com/oauthgate/oauthgate/internal/testproto/oauthgatetest/v1"
	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/verify"
)

// streamOutcome is how a ListBooks stream ended, in the bubble's time.
type streamOutcome struct {
	messages int
	err      error
	after    time.Duration // from the start of the stream
}

// listUntilEnd reads a ListBooks stream of one message a second until it
// ends.
func listUntilEnd(t *testing.T, client testpb.LibraryServiceClient, token string) streamOutcome {
	t.Helper()
	start := time.Now()
	s, err := client.ListBooks(withToken(t.Context(), token), &testpb.ListBooksRequest{Count: 1000, IntervalMs: 1000})
	if err != nil {
		t.Fatalf("ListBooks() error = %v", err)
	}
	var out streamOutcome
	for {
		if _, out.err = s.Recv(); out.err != nil {
			break
		}
		out.messages++
	}
	out.after = time.Since(start)
	return out
}

// TestStream_EndsWhenUnaryCallsWould is finding 5: a stream ends at the
// instant a unary call with its token starts to fail, exp plus the
// verifier's leeway, not at bare exp by another clock.
func TestStream_EndsWhenUnaryCallsWould(t *testing.T) {
	iss := oauthtest.NewIssuer(t, oauthtest.IssuerConfig{Now: func() time.Time { return time.Now() }})
	keys, err := verify.NewStaticKeySet(iss.JWKS().Keys...)
	if err != nil {
		t.Fatal(err)
	}
	synctest.Test(t, func(t *testing.T) {
		jwt, err := verify.NewJWT(keys, verify.JWTConfig{Issuer: iss.URL, Audiences: []string{oauthtest.DefaultAudience}, Leeway: 30 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		gate, err := interceptor.New(jwt, newPolicy(t))
		if err != nil {
			t.Fatal(err)
		}
		srv := grpc.NewServer(grpc.ChainUnaryInterceptor(gate.Unary), grpc.ChainStreamInterceptor(gate.Stream))
		testpb.RegisterLibraryServiceServer(srv, &library{})
		client := testpb.NewLibraryServiceClient(oauthtest.ServeGRPC(t, srv))
		tok := iss.Token(t, oauthtest.Token{Scopes: []string{"library.read"}, Lifetime: 10 * time.Second})

		done := make(chan streamOutcome)
		go func() { done <- listUntilEnd(t, client, tok) }()

		time.Sleep(20 * time.Second) // past exp, inside the leeway
		if _, err := client.GetBook(withToken(t.Context(), tok), &testpb.GetBookRequest{Name: "x"}); err != nil {
			t.Errorf("GetBook() 10s after exp, inside the leeway: %v, want OK", err)
		}
		got := <-done
		if status.Code(got.err) != codes.Unauthenticated || status.Convert(got.err).Message() != "the access token expired" {
			t.Fatalf("stream ended with %v, want Unauthenticated: the access token expired", got.err)
		}
		// The handler sleeps a second between messages and notices the end
		// at its next Send.
		if got.after < 40*time.Second || got.after > 41*time.Second {
			t.Errorf("stream ended after %v, want 40s (exp 10s + leeway 30s) to 41s", got.after)
		}
		if _, err := client.GetBook(withToken(t.Context(), tok), &testpb.GetBookRequest{Name: "x"}); status.Code(err) != codes.Unauthenticated {
			t.Errorf("GetBook() after the stream's end = %v, want Unauthenticated", err)
		}
	})
}

// switchVerifier answers every token with claims without exp, as some
// introspection responses are, until it is told to answer err instead.
type switchVerifier struct {
	claims *verify.Claims
	err    atomic.Pointer[error]
	calls  atomic.Int32
}

func (v *switchVerifier) Verify(context.Context, string) (*verify.Claims, error) {
	v.calls.Add(1)
	if err := v.err.Load(); err != nil {
		return nil, *err
	}
	return v.claims, nil
}

// TestStream_RecheckedWithoutExp is finding 5's second half: a token
// without exp must not authorize a stream forever. The stream is verified
// again every WithStreamRecheck interval and ends as a new call would.
func TestStream_RecheckedWithoutExp(t *testing.T) {
	claims, err := verify.ParseClaims([]byte(`{"sub":"svc","scope":"library.read","aud":"https://library.example.com"}`))
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		err      error
		wantCode codes.Code
		wantMsg  string
	}{
		"Revoked":     {err: &verify.TokenError{Reason: verify.ErrInactive}, wantCode: codes.Unauthenticated, wantMsg: "the access token is not active"},
		"Unavailable": {err: &verify.UnavailableError{Op: "introspect", Err: io.ErrUnexpectedEOF}, wantCode: codes.Unavailable},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				v := &switchVerifier{claims: claims}
				gate, err := interceptor.New(v, newPolicy(t), interceptor.WithStreamRecheck(time.Minute))
				if err != nil {
					t.Fatal(err)
				}
				srv := grpc.NewServer(grpc.ChainUnaryInterceptor(gate.Unary), grpc.ChainStreamInterceptor(gate.Stream))
				testpb.RegisterLibraryServiceServer(srv, &library{})
				client := testpb.NewLibraryServiceClient(oauthtest.ServeGRPC(t, srv))

				done := make(chan streamOutcome)
				go func() { done <- listUntilEnd(t, client, "opaque") }()
				time.Sleep(150 * time.Second) // two rechecks pass
				if n := v.calls.Load(); n != 3 {
					t.Errorf("verifier called %d times in 150s, want 3 (start, 60s, 120s)", n)
				}
				v.err.Store(&tc.err)
				got := <-done
				if status.Code(got.err) != tc.wantCode || tc.wantMsg != "" && status.Convert(got.err).Message() != tc.wantMsg {
					t.Fatalf("stream ended with %v, want %v %q", got.err, tc.wantCode, tc.wantMsg)
				}
				if got.after < 180*time.Second || got.after > 181*time.Second {
					t.Errorf("stream ended after %v, want at the third recheck, 180s", got.after)
				}
			})
		})
	}
}

func TestNew_StreamRecheckBounds(t *testing.T) {
	for _, d := range []time.Duration{0, -time.Second, time.Millisecond} {
		if _, err := interceptor.New(newFakeVerifier(t), newPolicy(t), interceptor.WithStreamRecheck(d)); err == nil ||
			!strings.Contains(err.Error(), "WithStreamRecheck") {
			t.Errorf("New(WithStreamRecheck(%v)) error = %v, want one naming WithStreamRecheck", d, err)
		}
	}
	if _, err := interceptor.New(newFakeVerifier(t), newPolicy(t), interceptor.WithStreamRecheck(time.Second)); err != nil {
		t.Errorf("New(WithStreamRecheck(1s)) error = %v", err)
	}
}

// TestVerifierContractBroken: a verifier that answers neither claims nor a
// classified error gets Internal / VERIFIER_FAILED, for every kind of call,
// never an allow.
func TestVerifierContractBroken(t *testing.T) {
	t.Parallel()
	v := newFakeVerifier(t)
	v.add("nothing", func() (*verify.Claims, error) { return nil, nil })
	v.add("plain-error", func() (*verify.Claims, error) { return nil, errors.New("db: bad row") })
	gate, err := interceptor.New(v, newPolicy(t))
	if err != nil {
		t.Fatal(err)
	}
	client := testpb.NewLibraryServiceClient(startServer(t, serverConfig{gate: gate}))
	ctx := testContext(t)
	for _, tok := range []string{"nothing", "plain-error"} {
		_, uerr := client.GetBook(withToken(ctx, tok), &testpb.GetBookRequest{Name: "x"})
		s, err := client.ListBooks(withToken(ctx, tok), &testpb.ListBooksRequest{Count: 1})
		if err == nil {
			_, err = s.Recv()
		}
		for kind, err := range map[string]error{"unary": uerr, "stream": err} {
			if status.Code(err) != codes.Internal || errorInfo(t, err).GetReason() != interceptor.ReasonVerifierFailed {
				t.Errorf("%s call with %s verifier = %v, want Internal %s", kind, tok, err, interceptor.ReasonVerifierFailed)
			}
			if strings.Contains(status.Convert(err).Message(), "bad row") {
				t.Errorf("%s: the verifier's error reached the client", kind)
			}
		}
	}
}
