package outbound

import (
	"context"
	"crypto"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/oauthgate/oauthgate/dpop"
	"github.com/oauthgate/oauthgate/verify"
)

// Defaults and limits of [Config].
const (
	defaultTimeout   = 10 * time.Second
	maxResponseSize  = 1 << 20
	defaultCacheSize = 10_000
	// defaultLifetime is how long a token whose response has no
	// expires_in is used: RFC 6749 §5.1 only recommends the member, and a
	// short guess fails less than a long one.
	defaultLifetime = time.Minute
	// assertionLifetime is the exp of a private_key_jwt assertion: long
	// enough for clock skew, short enough that a stolen one is useless.
	assertionLifetime = time.Minute
)

// Config configures [ClientCredentials] and [Exchange]. Security settings
// (who the service is, what it asks for, how the token is bound) are
// visible in one literal and validated as a whole. A Config must not be
// modified after it is passed to a constructor. Printing it with any verb
// shows no secret and no private key.
type Config struct {
	// Issuer is the authorization server's issuer identifier, an https
	// URL: its token endpoint is read from its metadata (RFC 8414,
	// OpenID Connect Discovery), with the module's fetch policy, on first
	// use. Required unless TokenEndpoint is set; with both, Issuer is also
	// the audience of private_key_jwt assertions.
	Issuer string
	// TokenEndpoint, if set, is the token endpoint, used without
	// discovery.
	TokenEndpoint string

	// Client is how this service authenticates to the token endpoint:
	// [ClientSecretBasic], [PrivateKeyJWT] or [TLSClientAuth]. Required.
	Client ClientAuth

	// Resource lists the resource indicators (RFC 8707) of the service
	// the tokens are for: absolute URIs without a fragment, sent as
	// resource parameters, so that the token's audience is that service
	// and no other.
	Resource []string
	// Audience lists logical names of the target service, sent as
	// audience parameters (RFC 8693 §2.1; many servers accept it with
	// client credentials as well). [Exchange] requires Resource or
	// Audience: a token exchanged without one would be good for any
	// service the server chooses.
	Audience []string
	// Scopes are the scopes requested, sent space-separated. If empty,
	// no scope parameter is sent and the server decides (for [Exchange],
	// typically the scopes of the subject token).
	Scopes []string

	// Target is the gRPC target the credentials are used with, as given
	// to grpc.NewClient ("dns:///payments:443", "127.0.0.1:8443"). When
	// its host is a loopback address or "localhost", RequireTransportSecurity
	// is false, so that a local test or sidecar connection without TLS
	// works; for every other target, and when Target is empty, it is true
	// and grpc-go refuses to send the token without TLS.
	Target string

	// DPoP, if set, makes the tokens DPoP-bound (RFC 9449): every token
	// request carries a proof of this key (§5; a use_dpop_nonce answer is
	// retried once with the server's nonce, §8) and every call a proof
	// through package dpopgrpc. The server must answer with token_type
	// DPoP, or the token is refused.
	DPoP *dpop.Signer

	// HTTPClient sends the requests to the authorization server. For
	// [TLSClientAuth] and certificate-bound tokens (RFC 8705) its
	// transport's TLS configuration holds the client certificate. It is
	// copied, not modified, and redirects are never followed to the token
	// endpoint. If nil, a client of its own with the default transport.
	HTTPClient *http.Client
	// InsecureAllowHTTP accepts http (not https) for the issuer and the
	// token endpoint on a loopback host only, for a local development
	// server. Never set it in production: the client credentials travel
	// in clear.
	InsecureAllowHTTP bool
	// Timeout bounds each request to the authorization server, body
	// included. If zero, 10 s.
	Timeout time.Duration

	// RequestedTokenType is the requested_token_type of [Exchange]
	// (RFC 8693 §3). If empty, none is sent and the server issues an
	// access token.
	RequestedTokenType string
	// ActorToken, if set, returns the actor_token of [Exchange] with its
	// type (RFC 8693 §2.1): a token that says who acts. If nil, the
	// calling client is the actor, as the server records it.
	ActorToken func(ctx context.Context) (token, tokenType string, err error)
	// SubjectToken, if set, returns the subject_token of [Exchange]: the
	// verified access token of the call whose handler makes the outgoing
	// one, found in the handler's context. If nil,
	// interceptor.TokenFromContext (grpc-go servers); handlers served by
	// connect-go set connectgate.TokenFromContext.
	SubjectToken func(ctx context.Context) (token string, ok bool)
	// CacheSize bounds the exchanged tokens [Exchange] holds, one per
	// incoming token. If zero, 10 000.
	CacheSize int

	// RefreshAhead is how long before its expiry a token is renewed, plus
	// a random part of up to half as much again, so that a fleet started
	// together does not renew in step. The renewal runs in the
	// background while the current token is still sent. If zero, a
	// quarter of the token's lifetime; at most half of it, and at least
	// the send margin (a tenth of the lifetime, at most 5 s), before
	// which the token is no longer sent.
	RefreshAhead time.Duration

	// Now is the clock. If nil, time.Now.
	Now func() time.Time
}

type authMethod int

const (
	authNone authMethod = iota
	authSecretBasic
	authPrivateKeyJWT
	authTLSClient
)

// A ClientAuth is how a client authenticates to the token endpoint
// (RFC 6749 §2.3). Make one with [ClientSecretBasic], [PrivateKeyJWT] or
// [TLSClientAuth]; the zero value is none and is refused. Printing it
// shows the method and the client ID only.
type ClientAuth struct {
	method authMethod
	id     string
	secret verify.Secret
	key    crypto.Signer
	alg    jose.SignatureAlgorithm
	kid    string
}

// ClientSecretBasic authenticates with the client ID and secret in an HTTP
// Basic header, each form-encoded first (RFC 6749 §2.3.1).
func ClientSecretBasic(clientID string, secret verify.Secret) ClientAuth {
	return ClientAuth{method: authSecretBasic, id: clientID, secret: secret}
}

// PrivateKeyJWT authenticates with a JWT assertion signed by key with alg
// (RFC 7523 §2.2, OpenID Connect Core §9): iss and sub the client ID, aud
// the issuer identifier (the token endpoint without an Issuer), a random
// jti and an exp one minute ahead, fresh for every request. keyID, if not
// empty, is its kid header. The key must fit alg; the constructors check.
func PrivateKeyJWT(clientID string, key crypto.Signer, alg jose.SignatureAlgorithm, keyID string) ClientAuth {
	return ClientAuth{method: authPrivateKeyJWT, id: clientID, key: key, alg: alg, kid: keyID}
}

// TLSClientAuth authenticates by the client certificate of the mutual TLS
// connection to the token endpoint (RFC 8705 §2), which [Config].HTTPClient
// presents; client_id names the client. The endpoint of the server's
// mtls_endpoint_aliases is used when its metadata has one (§5).
func TLSClientAuth(clientID string) ClientAuth {
	return ClientAuth{method: authTLSClient, id: clientID}
}

// ID returns the client ID.
func (a ClientAuth) ID() string { return a.id }

// String returns the method and the client ID, never the secret or key.
func (a ClientAuth) String() string {
	name := map[authMethod]string{authNone: "none", authSecretBasic: "client_secret_basic",
		authPrivateKeyJWT: "private_key_jwt", authTLSClient: "tls_client_auth"}[a.method]
	return "outbound.ClientAuth{" + name + " client_id=" + fmt.Sprintf("%q", a.id) + "}"
}

// GoString is String, for %#v.
func (a ClientAuth) GoString() string { return a.String() }

// Format writes String whatever the verb, so that %+v of a Config shows no
// key material either.
func (a ClientAuth) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, a.String()) }

// LogValue is String, for log/slog.
func (a ClientAuth) LogValue() slog.Value { return slog.StringValue(a.String()) }
