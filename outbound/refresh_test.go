package outbound_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/oauthgate/oauthgate/interceptor"
	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/outbound"
	"github.com/oauthgate/oauthgate/verify"
)

// newTimedSource returns client credentials against a fresh in-memory
// issuer, in the synctest bubble of the caller.
func newTimedSource(t *testing.T) (*oauthtest.Issuer, *outbound.Credentials) {
	t.Helper()
	iss := oauthtest.NewIssuer(t, oauthtest.IssuerConfig{InMemory: true,
		Clients: []oauthtest.Client{{ID: ordersID, Secret: ordersSecret}}})
	c := mustClientCredentials(t, outbound.Config{Issuer: iss.URL, HTTPClient: iss.Client(),
		Client: outbound.ClientSecretBasic(ordersID, ordersSecret), Resource: []string{paymentsURI}})
	return iss, c
}

// newExchange returns token exchange credentials for payments against
// iss, closed when the test ends.
func newExchange(t *testing.T, iss *oauthtest.Issuer) *outbound.Credentials {
	t.Helper()
	c, err := outbound.Exchange(outbound.Config{Issuer: iss.URL, HTTPClient: iss.Client(),
		Client: outbound.ClientSecretBasic(ordersID, ordersSecret), Resource: []string{paymentsURI}})
	if err != nil {
		t.Fatalf("Exchange() error = %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// TestRefresh: a token is renewed in the background once its refresh
// time, between 75 and 112.5 s before its expiry (a quarter of its five
// minutes, plus up to half as much again), has come, while calls keep
// the current token; a failed renewal keeps it until it is no longer
// usable, then calls fail with ErrUnavailable; no renewal runs after
// Close.
func TestRefresh(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		iss, c := newTimedSource(t)
		ctx := t.Context()
		first, err := c.Token(ctx)
		if err != nil {
			t.Fatalf("Token() error = %v", err)
		}
		if want := time.Now().Add(oauthtest.DefaultLifetime); !first.Expiry.Equal(want) {
			t.Errorf("Token().Expiry = %v, want %v", first.Expiry, want)
		}
		time.Sleep(oauthtest.DefaultLifetime - 113*time.Second) // before the earliest refresh time
		if tok, _ := c.Token(ctx); tok.AccessToken != first.AccessToken {
			t.Error("Token() renewed the token before its refresh time")
		}
		synctest.Wait()
		if got := iss.Requests(oauthtest.EndpointToken); got != 1 {
			t.Fatalf("token requests before the refresh time = %d, want 1", got)
		}
		time.Sleep(113*time.Second - 74*time.Second) // past the latest refresh time
		if tok, _ := c.Token(ctx); tok.AccessToken != first.AccessToken {
			t.Error("Token() waited for the renewal instead of sending the current token")
		}
		synctest.Wait()
		if got := iss.Requests(oauthtest.EndpointToken); got != 2 {
			t.Fatalf("token requests after the refresh time = %d, want 2", got)
		}
		second, _ := c.Token(ctx)
		if second.AccessToken == first.AccessToken || !second.Expiry.After(first.Expiry) {
			t.Fatalf("Token() after the renewal = the first token (expiry %v), want a new one", second.Expiry)
		}

		// The authorization server goes down: the renewal fails, the
		// current token is kept while usable, renewals are retried at
		// most every few seconds, then calls fail with ErrUnavailable.
		iss.SetFault(oauthtest.EndpointToken, oauthtest.Fault{Down: true})
		time.Sleep(time.Until(second.Expiry) - 74*time.Second)
		for range 10 {
			if tok, err := c.Token(ctx); err != nil || tok.AccessToken != second.AccessToken {
				t.Fatalf("Token() with the server down and a usable token = %v; want that token", err)
			}
			synctest.Wait()
		}
		if got := iss.Requests(oauthtest.EndpointToken); got != 3 {
			t.Errorf("token requests after ten calls with the server down = %d, want 3: one failed renewal, retried later", got)
		}
		time.Sleep(time.Until(second.Expiry))
		if _, err := c.Token(ctx); !errors.Is(err, outbound.ErrUnavailable) {
			t.Errorf("Token() with the server down and the token expired: error = %v, want ErrUnavailable", err)
		}
		c.Close()
		before := iss.Requests(oauthtest.EndpointToken)
		if _, err := c.Token(ctx); !errors.Is(err, outbound.ErrClosed) {
			t.Errorf("Token() after Close: error = %v, want ErrClosed", err)
		}
		synctest.Wait()
		if got := iss.Requests(oauthtest.EndpointToken); got != before {
			t.Errorf("token requests after Close = %d, want %d", got, before)
		}
	})
}

// TestRefresh_fleet: 1 000 sources started together spread their renewals:
// no one-second bucket holds more than three times the mean of the
// buckets from the first renewal to the last, and every source renews
// exactly once before its token expires.
func TestRefresh_fleet(t *testing.T) {
	t.Parallel()
	const fleet = 1000
	synctest.Test(t, func(t *testing.T) {
		iss := oauthtest.NewIssuer(t, oauthtest.IssuerConfig{InMemory: true,
			Clients: []oauthtest.Client{{ID: ordersID, Secret: ordersSecret}}})
		sources := make([]*outbound.Credentials, fleet)
		for i := range sources {
			sources[i] = mustClientCredentials(t, outbound.Config{Issuer: iss.URL, HTTPClient: iss.Client(),
				Client: outbound.ClientSecretBasic(ordersID, ordersSecret), Resource: []string{paymentsURI}})
			if _, err := sources[i].Token(t.Context()); err != nil {
				t.Fatalf("Token() error = %v", err)
			}
		}
		start := iss.Requests(oauthtest.EndpointToken)
		var buckets []int // renewals per second
		for range int(oauthtest.DefaultLifetime/time.Second) - 1 {
			time.Sleep(time.Second)
			before := iss.Requests(oauthtest.EndpointToken)
			for _, s := range sources {
				if _, err := s.Token(t.Context()); err != nil {
					t.Fatalf("Token() error = %v", err)
				}
			}
			synctest.Wait()
			buckets = append(buckets, iss.Requests(oauthtest.EndpointToken)-before)
		}
		if got := iss.Requests(oauthtest.EndpointToken) - start; got != fleet {
			t.Fatalf("renewals = %d, want %d: one per source", got, fleet)
		}
		first, last := -1, 0
		peak := 0
		for i, n := range buckets {
			if n > 0 {
				if first < 0 {
					first = i
				}
				last = i
			}
			peak = max(peak, n)
		}
		mean := float64(fleet) / float64(last-first+1)
		t.Logf("renewals spread over %d s (from %d s to %d s): mean %.1f/s, peak %d/s", last-first+1, first+1, last+1, mean, peak)
		if float64(peak) > 3*mean {
			t.Errorf("peak renewals = %d in one second, more than 3× the mean %.1f", peak, mean)
		}
	})
}

// TestSingleFlight: concurrent first calls, of one source or for one
// incoming token, make one token request between them.
func TestSingleFlight(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		iss, c := newTimedSource(t)
		exchange := newExchange(t, iss)
		user := iss.Token(t, oauthtest.Token{Subject: "alice"})
		claims, err := verify.ParseClaims([]byte(fmt.Sprintf(`{"sub":"alice","exp":%d}`, time.Now().Add(time.Hour).Unix())))
		if err != nil {
			t.Fatal(err)
		}
		ctx := interceptor.NewContext(metadata.NewIncomingContext(t.Context(),
			metadata.Pairs("authorization", "Bearer "+user)), claims)
		for _, src := range []*outbound.Credentials{c, exchange} {
			before := iss.Requests(oauthtest.EndpointToken)
			var wg sync.WaitGroup
			for range 50 {
				wg.Go(func() {
					if _, err := src.Token(ctx); err != nil {
						t.Errorf("Token() error = %v", err)
					}
				})
			}
			wg.Wait()
			if got := iss.Requests(oauthtest.EndpointToken) - before; got != 1 {
				t.Errorf("%v: token requests for 50 concurrent first calls = %d, want 1", src, got)
			}
		}
	})
}

// TestRefresh_shortAhead: a RefreshAhead shorter than the send margin
// still renews before the token stops being sent, and a call after that
// gets a new token, never the one about to expire.
func TestRefresh_shortAhead(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		iss := oauthtest.NewIssuer(t, oauthtest.IssuerConfig{InMemory: true,
			Clients: []oauthtest.Client{{ID: ordersID, Secret: ordersSecret}}})
		c := mustClientCredentials(t, outbound.Config{Issuer: iss.URL, HTTPClient: iss.Client(), RefreshAhead: time.Second,
			Client: outbound.ClientSecretBasic(ordersID, ordersSecret), Resource: []string{paymentsURI}})
		first, err := c.Token(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Until(first.Expiry) - 4*time.Second) // inside the 5 s margin
		next, err := c.Token(t.Context())
		if err != nil || next.AccessToken == first.AccessToken {
			t.Fatalf("Token() 4 s before expiry = the same token (%v), want a new one", err)
		}
	})
}

// TestGetRequestMetadata_codes: every failure of the credentials reaches
// grpc-go with a code of its own, since grpc-go makes Unauthenticated of
// an error without one: the call's deadline while the authorization
// server is slow is DeadlineExceeded, the server down Unavailable, a call
// after Close or outside an authenticated call Internal.
func TestGetRequestMetadata_codes(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		iss, c := newTimedSource(t)
		exchange := newExchange(t, iss)
		call := func(c *outbound.Credentials, ctx context.Context) codes.Code {
			_, err := c.GetRequestMetadata(ctx, "https://payments.example.com/svc")
			return status.Code(err)
		}
		iss.SetFault(oauthtest.EndpointToken, oauthtest.Fault{Delay: time.Hour})
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		if got := call(c, ctx); got != codes.DeadlineExceeded {
			t.Errorf("slow server, call deadline: code = %v, want DeadlineExceeded", got)
		}
		synctest.Wait()
		iss.SetFault(oauthtest.EndpointToken, oauthtest.Fault{Down: true})
		time.Sleep(time.Minute) // the slow request's own timeout has ended it
		if got := call(c, t.Context()); got != codes.Unavailable {
			t.Errorf("server down: code = %v, want Unavailable", got)
		}
		if got := call(exchange, t.Context()); got != codes.Internal {
			t.Errorf("exchange outside a call: code = %v, want Internal", got)
		}
		c.Close()
		if got := call(c, t.Context()); got != codes.Internal {
			t.Errorf("after Close: code = %v, want Internal", got)
		}
	})
}
