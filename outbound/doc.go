// Package outbound is the client side of a chain of services: gRPC per-RPC
// credentials that get access tokens for the next service from the
// authorization server, either as the calling service itself or on
// behalf of the user whose call it is serving.
//
// The guide to it is https://github.com/oauthgate/oauthgate/blob/main/docs/calling-services.md.
//
//	// As itself: the client credentials grant (RFC 6749 §4.4).
//	creds, err := outbound.ClientCredentials(outbound.Config{
//		Issuer:   "https://auth.example.com/",
//		Client:   outbound.ClientSecretBasic("orders", verify.Secret(os.Getenv("ORDERS_SECRET"))),
//		Resource: []string{"https://payments.example.com"},
//		Scopes:   []string{"payments.charge"},
//	})
//	defer creds.Close()
//	conn, err := grpc.NewClient("payments.example.com:443",
//		grpc.WithTransportCredentials(credentials.NewTLS(nil)),
//		grpc.WithPerRPCCredentials(creds))
//
//	// On behalf of the caller: token exchange (RFC 8693). The handler's
//	// context carries the verified incoming token.
//	creds, err := outbound.Exchange(outbound.Config{ /* same fields */ })
//	func (s *orders) Pay(ctx context.Context, req *ordersv1.PayRequest) (*ordersv1.PayResponse, error) {
//		_, err := s.payments.Charge(ctx, &paymentsv1.ChargeRequest{...})
//		return ..., err // codes.Unavailable if the authorization server is down
//	}
//
// See [Example] and docs/calling-services.md.
//
// # HTTP clients
//
// [Credentials.Transport] sends the same tokens from an http.RoundTripper,
// for connect-go clients (Connect, gRPC, gRPC-Web) and net/http clients:
// Bearer, or DPoP-bound with a proof per request through package
// dpop/dpophttp. When no token can be had, the request fails with a
// *connect.Error carrying the code a gRPC call would get (connect-go
// reports every other transport error as Unavailable, which would turn a
// refusal into "try again"); the error wraps this package's, so
// errors.Is(err, ErrRefused) holds for net/http callers too.
//
//	client := paymentsv1connect.NewPaymentServiceClient(
//		&http.Client{Transport: creds.Transport(nil)}, "https://payments.example.com")
//
// # Client authentication
//
// [ClientSecretBasic], [PrivateKeyJWT] (RFC 7523, the assertion signed
// with go-jose) and [TLSClientAuth] (RFC 8705 §2). The token endpoint is
// read from the issuer's metadata with the same fetch policy as package
// verify's discovery (https only, redirects checked, bounded time and
// size), or configured directly.
//
// # Sender-constrained tokens
//
// With [Config].DPoP, token requests carry a DPoP proof (RFC 9449 §5; a
// use_dpop_nonce answer is retried once with the server's nonce) and every
// call a proof through package dpopgrpc. With a client certificate in
// [Config].HTTPClient, the server binds the token to it (RFC 8705 §3); the
// gRPC connection must present the same certificate.
//
// # Renewal, failures, secrets
//
// Tokens are renewed in the background ahead of expiry, with a random
// spread so that a fleet started together does not renew in step, and
// with one request in flight per token (single-flight). When no usable
// token is held and the authorization server cannot be reached, a call
// fails with codes.Unavailable ([ErrUnavailable]), never Unauthenticated;
// a refusal by the server is codes.PermissionDenied ([ErrRefused]); the
// call's own deadline passing while it waits is codes.DeadlineExceeded.
// RequireTransportSecurity is true unless [Config].Target is a loopback
// host. No error, span or printed value holds a secret, a private key or
// a token: secrets are [verify.Secret], [ClientAuth] prints its method and
// client ID only, and errors name the request and a registered OAuth error
// code, never the server's free text.
//
// # golang.org/x/oauth2
//
// [Credentials.Token] returns an [oauth2.Token]. The clientcredentials
// package is not used for the grant itself: it renews a token only once it
// has expired (less a fixed 10 s, no jitter, so a fleet renews in step and
// every call waits during a renewal), has no private_key_jwt,
// tls_client_auth or DPoP, cannot exchange tokens, and its RetrieveError
// prints the server's whole response body. Neither is
// google.golang.org/grpc/credentials/oauth, whose TokenSource credentials
// turn every token error into codes.Unauthenticated.
package outbound
