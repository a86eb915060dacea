package redisstore_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/redisstore"
	"github.com/oauthgate/oauthgate/redisstore/internal/redistest"
	"github.com/oauthgate/oauthgate/verify"
)

// introspectionReplicas returns n Introspections of iss with CacheTTL ttl
// whose shared caches are stores on srv (the shared server if nil) with
// one prefix, configured by edit, and that prefix.
func introspectionReplicas(t *testing.T, iss *oauthtest.Issuer, n int, srv *redistest.Server, ttl time.Duration, edit func(*redisstore.Config)) ([]*verify.Introspection, string) {
	t.Helper()
	var prefix string
	var intros []*verify.Introspection
	for r := range n {
		store, p := newStore(t, srv, func(c *redisstore.Config) {
			if edit != nil {
				edit(c)
			}
			if r > 0 {
				c.Prefix = prefix
			}
		})
		prefix = p
		intro, err := verify.NewIntrospection(verify.IntrospectionConfig{
			Endpoint: iss.EndpointURL(oauthtest.EndpointIntrospection), ClientID: iss.ClientID, ClientSecret: verify.Secret(iss.ClientSecret),
			Audiences: []string{oauthtest.DefaultAudience}, HTTPClient: iss.Client(), InsecureAllowHTTP: true,
			CacheTTL: ttl, SharedCache: store,
		})
		if err != nil {
			t.Fatal(err)
		}
		intros = append(intros, intro)
	}
	return intros, prefix
}

func introspections(iss *oauthtest.Issuer) int { return iss.Requests(oauthtest.EndpointIntrospection) }

// TestReplicas_Introspection: five replicas sharing one Redis ask the
// authorization server once per token per CacheTTL between them, however
// many calls they get; a revocation the first replica learns of when its
// result expires is what every replica answers from then on.
func TestReplicas_Introspection(t *testing.T) {
	t.Parallel()
	iss := oauthtest.NewIssuer(t)
	replicas, _ := introspectionReplicas(t, iss, 5, nil, time.Second, nil)
	tok := iss.OpaqueToken(t, oauthtest.Token{Scopes: []string{"library.read"}})
	ctx := testContext(t)

	// Replica 1 asks first, so that its result is the one that expires
	// last: when it asks again, every other replica's copy has expired.
	if _, err := replicas[0].Verify(ctx, tok); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for _, v := range replicas {
		for range 4 {
			wg.Go(func() {
				if c, err := v.Verify(ctx, tok); err != nil || c.Subject() != oauthtest.DefaultSubject {
					t.Errorf("Verify() = %v, %v", c, err)
				}
			})
		}
	}
	wg.Wait()
	if got := introspections(iss); got != 1 {
		t.Errorf("5 replicas × 4 calls: %d introspection requests, want 1", got)
	}

	iss.Revoke(tok)
	eventually(t, "replica 1 sees the revocation", func() bool {
		_, err := replicas[0].Verify(ctx, tok)
		return errors.Is(err, verify.ErrInactive)
	})
	for r, v := range replicas[1:] {
		if _, err := v.Verify(ctx, tok); !errors.Is(err, verify.ErrInactive) {
			t.Errorf("replica %d after replica 1 saw the revocation: Verify() = %v, want ErrInactive", r+2, err)
		}
	}
	if got := introspections(iss); got != 2 {
		t.Errorf("after the revocation: %d introspection requests, want 2", got)
	}
}

// TestIntrospection_ForgedValue: a value written to Redis by someone
// without the Secret is not used: the replica asks the authorization
// server, and its answer replaces the forgery.
func TestIntrospection_ForgedValue(t *testing.T) {
	t.Parallel()
	iss := oauthtest.NewIssuer(t)
	replicas, prefix := introspectionReplicas(t, iss, 2, nil, time.Minute, nil)
	tok := iss.OpaqueToken(t, oauthtest.Token{Scopes: []string{"library.read"}})
	ctx := testContext(t)
	if _, err := replicas[0].Verify(ctx, tok); err != nil {
		t.Fatal(err)
	}
	// Replace the stored response with one for another subject, in the
	// format verify writes, with a tag made without the Secret.
	c := newClient(t, shared)
	names, err := c.Do(ctx, c.B().Keys().Pattern(prefix+"i:*").Build()).AsStrSlice()
	if err != nil || len(names) != 1 {
		t.Fatalf("stored values: %q, %v; want one", names, err)
	}
	forged := append([]byte{1, 0x7f, 0, 0, 0, 0, 0, 0, 0}, `{"active":true,"sub":"mallory","aud":"`+oauthtest.DefaultAudience+`"}`...)
	forged = append(forged, make([]byte, 32)...)
	shared.MustCommand(t, "SET", names[0], string(forged))

	claims, err := replicas[1].Verify(ctx, tok)
	if err != nil || claims.Subject() != oauthtest.DefaultSubject {
		t.Fatalf("Verify() over a forged value = %v, %v; want the authorization server's answer", claims, err)
	}
	if got := introspections(iss); got != 2 {
		t.Errorf("introspection requests = %d, want 2: the forgery must send the replica to the server", got)
	}
}
