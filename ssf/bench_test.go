package ssf_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/ssf"
	"github.com/oauthgate/oauthgate/verify"
)

// benchEvents fills rev with n events about other subjects than the
// benchmark's token, through a receiver, in every subject kind.
func benchEvents(tb testing.TB, n int) (*ssf.Revocations, *oauthtest.Issuer) {
	tb.Helper()
	iss := oauthtest.NewIssuer(tb)
	tr := oauthtest.NewTransmitter(tb)
	rev, err := ssf.NewRevocations(ssf.RevocationsConfig{Retention: time.Hour})
	if err != nil {
		tb.Fatal(err)
	}
	keys, _ := verify.NewStaticKeySet(tr.JWKS().Keys...)
	recv, err := ssf.NewReceiver(rev, ssf.Config{Issuer: tr.URL, Audience: receiverAudience, Keys: keys, MaxSubjects: n})
	if err != nil {
		tb.Fatal(err)
	}
	for i := range n {
		var subject map[string]any
		switch who := fmt.Sprintf("user-%d", i); i % 5 {
		case 0:
			subject = oauthtest.IssSub(iss.URL, who)
		case 1:
			subject = oauthtest.Email(who + "@example.com")
		case 2:
			subject = oauthtest.Opaque(who)
		case 3:
			subject = oauthtest.JWTID(iss.URL, who)
		case 4:
			subject = oauthtest.Complex(nil, who, "")
		}
		pushDirect(tb, recv, tr.SET(tb, oauthtest.Event{Audience: receiverAudience, Type: ssf.SessionRevoked, Subject: subject}))
	}
	return rev, iss
}

// BenchmarkJWT_Verify_Revocations measures a cached JWT verification
// without Revocations, with empty Revocations, and with Revocations
// holding 1 000 events of other subjects (the check on every call when no event matches), interleaved
// over five rounds so that a change of machine load hits both alike; the
// difference is the cost of the check.
func BenchmarkJWT_Verify_Revocations(b *testing.B) {
	rev, iss := benchEvents(b, 1000)
	keys, _ := verify.NewStaticKeySet(iss.JWKS().Keys...)
	tok := iss.Token(b, oauthtest.Token{Subject: "alice", Claims: map[string]any{"sid": "s1", "email": "alice@example.com"}})
	ctx := context.Background()
	verifiers := map[string]*verify.JWT{}
	empty, err := ssf.NewRevocations(ssf.RevocationsConfig{Retention: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	for name, r := range map[string]verify.Revocations{"without": nil, "withEmpty": empty, "with1000": rev} {
		jwt, err := verify.NewJWT(keys, verify.JWTConfig{Issuer: iss.URL, Audiences: []string{oauthtest.DefaultAudience}, Revocations: r})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := jwt.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
		verifiers[name] = jwt
	}
	for range 5 {
		for _, name := range []string{"without", "withEmpty", "with1000"} {
			jwt := verifiers[name]
			b.Run(name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := jwt.Verify(ctx, tok); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkRevocations_Lookup measures the check alone.
func BenchmarkRevocations_Lookup(b *testing.B) {
	rev, iss := benchEvents(b, 1000)
	c, err := verify.ParseClaims([]byte(`{"iss":"` + iss.URL + `","sub":"alice","jti":"j","iat":1}`))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if !rev.Lookup(c).IsZero() {
			b.Fatal("Lookup() matched")
		}
	}
}

// TestLookup_NoAllocation: the check allocates nothing when no event
// matches.
func TestLookup_NoAllocation(t *testing.T) {
	rev, iss := benchEvents(t, 50)
	c, err := verify.ParseClaims([]byte(`{"iss":"` + iss.URL + `","sub":"alice","jti":"j","iat":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(1000, func() { rev.Lookup(c) }); n != 0 {
		t.Errorf("Lookup() allocates %v times, want 0", n)
	}
}
