package outbound_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/go-jose/go-jose/v4"

	"github.com/oauthgate/oauthgate/connectgate"
	"github.com/oauthgate/oauthgate/dpop"
	testpb "github.com/oauthgate/oauthgate/internal/testproto/oauthgatetest/v1"
	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/outbound"
	"github.com/oauthgate/oauthgate/verify"
)

const getBookProc = testpb.LibraryService_GetBook_FullMethodName

// connectService serves GetBook (side-effect free: Connect GET works)
// behind connectgate for tokens of iss with audience aud, over TLS; name
// answers it. It returns the base URL and an HTTP transport that trusts
// the server.
func connectService(t *testing.T, iss *oauthtest.Issuer, aud string, name func(context.Context) (string, error), opts ...connectgate.Option) (string, http.RoundTripper) {
	t.Helper()
	jwt, policy := verifierAndPolicy(t, iss, aud)
	gate, err := connectgate.New(jwt, policy, opts...)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(getBookProc, connect.NewUnaryHandler(getBookProc, func(ctx context.Context, _ *connect.Request[testpb.GetBookRequest]) (*connect.Response[testpb.GetBookResponse], error) {
		n, err := name(ctx)
		if err != nil {
			return nil, err
		}
		return connect.NewResponse(&testpb.GetBookResponse{Name: n}), nil
	}, connect.WithInterceptors(gate), connect.WithIdempotency(connect.IdempotencyNoSideEffects)))
	srv := oauthtest.ServeConnectTLS(t, gate.Handler(mux), oauthtest.NewCertificates(t))
	return srv.URL, srv.Client(t, nil).Transport
}

// ordersClient returns an issuer that knows the orders client, and the
// configuration of orders' client credentials for payments.
func ordersClient(t *testing.T) (*oauthtest.Issuer, outbound.Config) {
	t.Helper()
	iss := oauthtest.NewIssuer(t, oauthtest.IssuerConfig{Clients: []oauthtest.Client{{ID: ordersID, Secret: ordersSecret}}})
	return iss, outbound.Config{
		Issuer: iss.URL, InsecureAllowHTTP: true, HTTPClient: iss.Client(),
		Client:   outbound.ClientSecretBasic(ordersID, ordersSecret),
		Resource: []string{paymentsURI}, Scopes: []string{"library.read"},
	}
}

// subjectAndActor answers with the caller's sub and act.sub. It serves
// grpc-go and connect-go servers alike: connectgate.FromContext reads what
// either adapter verified.
func subjectAndActor(ctx context.Context) (string, error) {
	c, ok := connectgate.FromContext(ctx)
	if !ok {
		return "", connect.NewError(connect.CodeInternal, errors.New("no claims"))
	}
	var act struct {
		Act struct {
			Sub string `json:"sub"`
		} `json:"act"`
	}
	_ = c.Decode(&act)
	return c.Subject() + " via " + act.Act.Sub, nil
}

// getBook calls GetBook at base through rt.
func getBook(ctx context.Context, rt http.RoundTripper, base string, opts ...connect.ClientOption) (string, error) {
	c := connect.NewClient[testpb.GetBookRequest, testpb.GetBookResponse](&http.Client{Transport: rt}, base+getBookProc, opts...)
	resp, err := c.CallUnary(ctx, connect.NewRequest(&testpb.GetBookRequest{}))
	if err != nil {
		return "", err
	}
	return resp.Msg.GetName(), nil
}

// protocols are the ways a connect-go client calls GetBook.
var protocols = map[string][]connect.ClientOption{
	"Connect":    nil,
	"ConnectGET": {connect.WithHTTPGet(), connect.WithIdempotency(connect.IdempotencyNoSideEffects)},
	"GRPC":       {connect.WithGRPC()},
	"GRPCWeb":    {connect.WithGRPCWeb()},
}

// TestTransport_clientCredentials: a client credentials token reaches a
// connectgate service through a connect-go client in every protocol,
// Bearer and DPoP-bound (the service demanding nonces); one token serves
// every call.
func TestTransport_clientCredentials(t *testing.T) {
	t.Parallel()
	for name, useDPoP := range map[string]bool{"Bearer": false, "DPoP": true} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			iss, cfg := ordersClient(t)
			var opts []connectgate.Option
			if useDPoP {
				v, err := dpop.New(dpop.Config{NoncePeriod: time.Minute})
				if err != nil {
					t.Fatal(err)
				}
				opts = append(opts, connectgate.WithDPoP(v))
				cfg.DPoP = oauthtest.NewDPoPKey(t, jose.ES256, nil).Signer(t)
			}
			url, base := connectService(t, iss, paymentsURI, subjectAndActor, opts...)
			creds := mustClientCredentials(t, cfg)
			rt := creds.Transport(base)
			for proto, copts := range protocols {
				got, err := getBook(ctxWithTimeout(t), rt, url, copts...)
				if err != nil || got != ordersID+" via " {
					t.Fatalf("GetBook() over %s = %q, %v; want %q", proto, got, err, ordersID+" via ")
				}
			}
			if n := iss.Requests(oauthtest.EndpointToken); n != 1 {
				t.Fatalf("the token endpoint got %d requests, want 1", n)
			}
		})
	}
}

// TestTransport_exchange: a connect-go handler exchanges its caller's
// token (connectgate.TokenFromContext) for one to the next connect-go
// service, which sees the user and the acting service.
func TestTransport_exchange(t *testing.T) {
	t.Parallel()
	iss, cfg := ordersClient(t)
	paymentsURL, paymentsBase := connectService(t, iss, paymentsURI, subjectAndActor)
	cfg.SubjectToken = connectgate.TokenFromContext
	exchange, err := outbound.Exchange(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(exchange.Close)
	toPayments := exchange.Transport(paymentsBase)
	ordersURL, ordersBase := connectService(t, iss, ordersURI, func(ctx context.Context) (string, error) {
		return getBook(ctx, toPayments, paymentsURL)
	})
	user := iss.Token(t, oauthtest.Token{Subject: "alice", Audience: []string{ordersURI}, Scopes: []string{"library.read"}})
	c := connect.NewClient[testpb.GetBookRequest, testpb.GetBookResponse](&http.Client{Transport: ordersBase}, ordersURL+getBookProc)
	req := connect.NewRequest(&testpb.GetBookRequest{})
	req.Header().Set("Authorization", "Bearer "+user)
	resp, err := c.CallUnary(ctxWithTimeout(t), req)
	if err != nil || resp.Msg.GetName() != "alice via "+ordersID {
		t.Fatalf("orders.GetBook() = %v, %v; want %q", resp, err, "alice via "+ordersID)
	}
	// Outside a call there is no subject token: a bug of the caller.
	_, err = getBook(ctxWithTimeout(t), toPayments, paymentsURL)
	if connect.CodeOf(err) != connect.CodeInternal || !errors.Is(err, outbound.ErrNoSubject) {
		t.Fatalf("GetBook() outside a call = %v, want Internal wrapping ErrNoSubject", err)
	}
}

// TestTransport_failures: what a connect-go client reports when no token
// can be had, or may not be sent; nothing reaches the service then.
func TestTransport_failures(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		fault    oauthtest.Fault
		secret   string
		url      string // instead of the service's
		useDPoP  bool
		wantCode connect.Code
		wantErr  error
	}{
		"ServerDown":         {fault: oauthtest.Fault{Down: true}, wantCode: connect.CodeUnavailable, wantErr: outbound.ErrUnavailable},
		"ServerError":        {fault: oauthtest.Fault{Status: http.StatusServiceUnavailable}, wantCode: connect.CodeUnavailable, wantErr: outbound.ErrUnavailable},
		"ServerDownDPoP":     {fault: oauthtest.Fault{Down: true}, useDPoP: true, wantCode: connect.CodeUnavailable, wantErr: outbound.ErrUnavailable},
		"Refused":            {secret: "wrong-secret", wantCode: connect.CodePermissionDenied, wantErr: outbound.ErrRefused},
		"RefusedDPoP":        {secret: "wrong-secret", useDPoP: true, wantCode: connect.CodePermissionDenied, wantErr: outbound.ErrRefused},
		"Cleartext":          {url: "http://payments.example.com", wantCode: connect.CodeInternal, wantErr: outbound.ErrInsecure},
		"CleartextDPoP":      {url: "http://payments.example.com", useDPoP: true, wantCode: connect.CodeInternal, wantErr: outbound.ErrInsecure},
		"CleartextLookalike": {url: "http://127.0.0.1.example.com", wantCode: connect.CodeInternal, wantErr: outbound.ErrInsecure},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			iss, cfg := ordersClient(t)
			iss.SetFault(oauthtest.EndpointToken, tc.fault)
			secret := ordersSecret
			if tc.secret != "" {
				secret = tc.secret
				cfg.Client = outbound.ClientSecretBasic(ordersID, verify.Secret(secret))
			}
			if tc.useDPoP {
				cfg.DPoP = oauthtest.NewDPoPKey(t, jose.ES256, nil).Signer(t)
			}
			var reached atomic.Bool
			url, base := connectService(t, iss, paymentsURI, func(context.Context) (string, error) { reached.Store(true); return "", nil })
			if tc.url != "" {
				url = tc.url
			}
			_, err := getBook(ctxWithTimeout(t), mustClientCredentials(t, cfg).Transport(base), url)
			if connect.CodeOf(err) != tc.wantCode || !errors.Is(err, tc.wantErr) {
				t.Fatalf("GetBook() = %v (code %v), want %v wrapping %v", err, connect.CodeOf(err), tc.wantCode, tc.wantErr)
			}
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("GetBook() error %q holds the client secret", err)
			}
			if reached.Load() {
				t.Fatal("the service was reached without a token")
			}
			if tc.url != "" && iss.Requests(oauthtest.EndpointToken) != 0 {
				t.Fatal("a token was requested for a request that cannot carry it")
			}
		})
	}
}

// TestTransport_requestUnmodified: the request given keeps its headers.
func TestTransport_requestUnmodified(t *testing.T) {
	t.Parallel()
	iss, cfg := ordersClient(t)
	url, base := connectService(t, iss, paymentsURI, subjectAndActor)
	creds := mustClientCredentials(t, cfg)
	req, err := http.NewRequestWithContext(ctxWithTimeout(t), http.MethodPost, url+getBookProc, strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := creds.Transport(base).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || req.Header.Get("Authorization") != "" || len(req.Header) != 1 {
		t.Fatalf("RoundTrip() = %s, request header now %v; want 200 and the header untouched", resp.Status, req.Header)
	}
}

// TestTransport_redirect: a redirect to another origin gets no token,
// Bearer or DPoP: the request is not sent.
func TestTransport_redirect(t *testing.T) {
	t.Parallel()
	for name, useDPoP := range map[string]bool{"Bearer": false, "DPoP": true} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			iss, cfg := ordersClient(t)
			if useDPoP {
				cfg.DPoP = oauthtest.NewDPoPKey(t, jose.ES256, nil).Signer(t)
			}
			// The redirecting server is another issuer, on another port.
			away := oauthtest.NewIssuer(t)
			away.SetFault(oauthtest.EndpointJWKS, oauthtest.Fault{Location: iss.EndpointURL(oauthtest.EndpointIntrospection)})
			client := &http.Client{Transport: mustClientCredentials(t, cfg).Transport(away.Client().Transport)}
			resp, err := client.Get(away.EndpointURL(oauthtest.EndpointJWKS))
			if resp != nil {
				resp.Body.Close()
			}
			if !errors.Is(err, outbound.ErrRedirect) || connect.CodeOf(err) != connect.CodeInternal {
				t.Fatalf("GET with a redirect to another origin = %v, want Internal wrapping ErrRedirect", err)
			}
			if n := iss.Requests(oauthtest.EndpointIntrospection); n != 0 {
				t.Fatalf("the other origin received %d requests, want 0", n)
			}
		})
	}
}
