package connectgate_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"connectrpc.com/connect"

	"github.com/oauthgate/oauthgate/connectgate"
	testpb "github.com/oauthgate/oauthgate/internal/testproto/oauthgatetest/v1"
	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/scopes"
	"github.com/oauthgate/oauthgate/ssf"
	"github.com/oauthgate/oauthgate/verify"
)

// TestStream_EndsOnRevocation: with WithRevocations, a session-revoked
// event ends the open stream of its subject at once, with the denial a new
// call would get (the grpc-go adapter's test is in package interceptor).
func TestStream_EndsOnRevocation(t *testing.T) {
	policy, err := scopes.NewPolicy(scopes.FromFiles(testpb.File_oauthgatetest_v1_library_proto))
	if err != nil {
		t.Fatal(err)
	}
	tr := oauthtest.NewTransmitter(t, oauthtest.TransmitterConfig{Now: func() time.Time { return time.Now() }})
	ssfKeys, err := verify.NewStaticKeySet(tr.JWKS().Keys...)
	if err != nil {
		t.Fatal(err)
	}
	const audience = "https://library.example.com/ssf"
	synctest.Test(t, func(t *testing.T) {
		rev, err := ssf.NewRevocations(ssf.RevocationsConfig{Retention: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		recv, err := ssf.NewReceiver(rev, ssf.Config{Issuer: tr.URL, Audience: audience, Keys: ssfKeys})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		v := verify.Func(func(context.Context, string) (*verify.Claims, error) {
			return verify.ParseClaims([]byte(`{"iss":"https://idp.example.com","sub":"alice","scope":"library.read","iat":` +
				strconv.FormatInt(start.Unix(), 10) + `,"exp":` + strconv.FormatInt(start.Add(time.Hour).Unix(), 10) + `}`))
		})
		gate, err := connectgate.New(v, policy, connectgate.WithRevocations(rev))
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			time.Sleep(10 * time.Second)
			set := tr.SET(t, oauthtest.Event{Audience: audience, Type: ssf.SessionRevoked, Subject: oauthtest.Opaque("alice")})
			if status, body := oauthtest.PushTo(recv, set); status != http.StatusAccepted {
				t.Errorf("push = %d %s, want 202", status, body)
			}
		}()
		c := &conn{header: http.Header{"Authorization": {"Bearer token"}}, resHeader: http.Header{}, trailer: http.Header{}}
		handler := gate.WrapStreamingHandler(func(ctx context.Context, sc connect.StreamingHandlerConn) error {
			if err := sc.Receive(&testpb.ListBooksRequest{}); err != nil {
				return err
			}
			<-ctx.Done()
			return nil
		})
		err = handler(t.Context(), c)
		if got := time.Since(start); got != 10*time.Second {
			t.Errorf("stream ended after %v, want 10s, when the event came", got)
		}
		if code, r := reason(err); code != connect.CodeUnauthenticated || r != connectgate.ReasonTokenRevoked {
			t.Errorf("stream = %v (%v, %q), want Unauthenticated, %q", err, code, r, connectgate.ReasonTokenRevoked)
		}
	})
}
