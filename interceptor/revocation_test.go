package interceptor_test

import (
	"context"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/oauthgate/oauthgate/interceptor"
	testpb "github.com/oauthgate/oauthgate/internal/testproto/oauthgatetest/v1"
	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/ssf"
	"github.com/oauthgate/oauthgate/verify"
)

const ssfAudience = "https://library.example.com/ssf"

// TestStream_EndsOnRevocation: a session-revoked event ends the open
// streams of its subject within a second (the handler's next Send), with
// Unauthenticated / TOKEN_REVOKED; another subject's stream goes on, a
// unary call with the revoked token is refused with the same reason, and
// a token issued after the event works.
func TestStream_EndsOnRevocation(t *testing.T) {
	iss := oauthtest.NewIssuer(t, oauthtest.IssuerConfig{Now: func() time.Time { return time.Now() }})
	tr := oauthtest.NewTransmitter(t, oauthtest.TransmitterConfig{Now: func() time.Time { return time.Now() }})
	keys, err := verify.NewStaticKeySet(iss.JWKS().Keys...)
	if err != nil {
		t.Fatal(err)
	}
	ssfKeys, err := verify.NewStaticKeySet(tr.JWKS().Keys...)
	if err != nil {
		t.Fatal(err)
	}
	synctest.Test(t, func(t *testing.T) {
		rev, err := ssf.NewRevocations(ssf.RevocationsConfig{Retention: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		recv, err := ssf.NewReceiver(rev, ssf.Config{Issuer: tr.URL, Audience: ssfAudience, Keys: ssfKeys})
		if err != nil {
			t.Fatal(err)
		}
		jwt, err := verify.NewJWT(keys, verify.JWTConfig{Issuer: iss.URL, Audiences: []string{oauthtest.DefaultAudience}, Revocations: rev})
		if err != nil {
			t.Fatal(err)
		}
		gate, err := interceptor.New(jwt, newPolicy(t), interceptor.WithRevocations(rev))
		if err != nil {
			t.Fatal(err)
		}
		srv := grpc.NewServer(grpc.ChainUnaryInterceptor(gate.Unary), grpc.ChainStreamInterceptor(gate.Stream))
		testpb.RegisterLibraryServiceServer(srv, &library{})
		client := testpb.NewLibraryServiceClient(oauthtest.ServeGRPC(t, srv))
		token := func(sub string) string {
			return iss.Token(t, oauthtest.Token{Subject: sub, Scopes: []string{"library.read"}, Lifetime: time.Hour})
		}
		alice, bob := token("alice"), token("bob")

		type outcome struct {
			err error
			at  time.Time
		}
		open := func(ctx context.Context, tok string) <-chan outcome {
			s, err := client.ListBooks(withToken(ctx, tok), &testpb.ListBooksRequest{Count: 1000, IntervalMs: 1000})
			if err != nil {
				t.Fatalf("ListBooks() error = %v", err)
			}
			done := make(chan outcome, 1)
			go func() {
				for {
					if _, err := s.Recv(); err != nil {
						done <- outcome{err, time.Now()}
						return
					}
				}
			}()
			return done
		}
		bobCtx, stopBob := context.WithCancel(t.Context())
		aliceDone, bobDone := open(t.Context(), alice), open(bobCtx, bob)

		time.Sleep(3500 * time.Millisecond)
		pushed := time.Now()
		set := tr.SET(t, oauthtest.Event{Audience: ssfAudience, Type: ssf.SessionRevoked, Subject: oauthtest.IssSub(iss.URL, "alice")})
		if status, body := oauthtest.PushTo(recv, set); status != http.StatusAccepted {
			t.Fatalf("push = %d %s, want 202", status, body)
		}

		got := <-aliceDone
		if status.Code(got.err) != codes.Unauthenticated || errorInfo(t, got.err).GetReason() != interceptor.ReasonTokenRevoked {
			t.Errorf("alice's stream ended with %v, want Unauthenticated %s", got.err, interceptor.ReasonTokenRevoked)
		}
		if d := got.at.Sub(pushed); d > time.Second {
			t.Errorf("alice's stream ended %v after the event, want at most 1s", d)
		}
		time.Sleep(10 * time.Second)
		select {
		case got := <-bobDone:
			t.Errorf("bob's stream ended with %v, want it untouched", got.err)
		default:
		}
		if _, err := client.GetBook(withToken(t.Context(), alice), &testpb.GetBookRequest{Name: "x"}); status.Code(err) != codes.Unauthenticated || errorInfo(t, err).GetReason() != interceptor.ReasonTokenRevoked {
			t.Errorf("GetBook(alice's revoked token) = %v, want %s", err, interceptor.ReasonTokenRevoked)
		}
		if _, err := client.GetBook(withToken(t.Context(), token("alice")), &testpb.GetBookRequest{Name: "x"}); err != nil {
			t.Errorf("GetBook(alice's token issued after the event) = %v", err)
		}
		stopBob()
		if got := <-bobDone; status.Code(got.err) != codes.Canceled {
			t.Errorf("bob's stream ended with %v, want Canceled by the client", got.err)
		}
		time.Sleep(2 * time.Second) // bob's handler notices at its next Send
	})
}
