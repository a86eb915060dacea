package outbound

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/oauthgate/oauthgate/dpop"
	"github.com/oauthgate/oauthgate/dpop/dpopgrpc"
	"github.com/oauthgate/oauthgate/interceptor"
	"github.com/oauthgate/oauthgate/internal/oauthhttp"
	"github.com/oauthgate/oauthgate/internal/tokencache"
)

// Registered names of RFC 8693 §3.
const (
	grantTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
	tokenTypeAccess    = "urn:ietf:params:oauth:token-type:access_token"
)

// Credentials are gRPC per-RPC credentials that send an access token from
// the authorization server: the service's own ([ClientCredentials]) or one
// exchanged for the caller's ([Exchange]). Use them with
// grpc.WithPerRPCCredentials for the connection to one target service.
//
// Tokens are renewed ahead of expiry in the background, one request at a
// time per token; a call waits only when no usable token is held. A token
// is not sent in the last tenth of its lifetime (at most its last 5 s),
// and a token whose response has no expires_in is used for one minute. A
// call
// fails with codes.Unavailable when the authorization server cannot be
// reached and no usable token is held ([ErrUnavailable]), and with
// codes.PermissionDenied when the server refuses the request
// ([ErrRefused]).
//
// [Credentials.Transport] sends the same tokens from HTTP clients
// (connect-go, net/http). Credentials are safe for concurrent use.
// [Credentials.Close] stops the background renewals.
type Credentials struct {
	ep         *endpoint
	o          *owner
	ahead      time.Duration
	get        func(ctx context.Context) (*grant, error)
	dpop       *dpopgrpc.Credentials // nil without DPoP
	dpopSigner *dpop.Signer          // Config.DPoP
	loopback   bool                  // Config.Target is a loopback host
}

// ClientCredentials returns credentials that send tokens the service gets
// as itself, with the client credentials grant (RFC 6749 §4.4): the
// configured resource indicators, audience and scopes, the client
// authentication, and DPoP if set. It checks cfg and makes no request:
// the token endpoint is discovered and the first token fetched by the
// first call (or [Credentials.Token]).
func ClientCredentials(cfg Config) (*Credentials, error) {
	if cfg.ActorToken != nil || cfg.SubjectToken != nil || cfg.RequestedTokenType != "" || cfg.CacheSize != 0 {
		return nil, errors.New("outbound: Config.ActorToken, SubjectToken, RequestedTokenType and CacheSize are for Exchange, not ClientCredentials")
	}
	c, base, err := newCredentials(&cfg)
	if err != nil {
		return nil, err
	}
	base.Set("grant_type", "client_credentials")
	self := &slot{fetch: func(ctx context.Context, _ string) (*grant, error) {
		resp, err := c.ep.request(ctx, base)
		if err != nil {
			return nil, err
		}
		return newGrant(resp, c.o.now(), time.Time{}, c.ahead), nil
	}}
	c.get = func(ctx context.Context) (*grant, error) { return self.get(ctx, c.o, "") }
	return c, nil
}

// Exchange returns credentials that send, on each call, a token exchanged
// (RFC 8693) for the caller's: the subject_token is the access token that
// the interceptor verified for the call whose handler makes this one
// ([interceptor.TokenFromContext], or Config.SubjectToken), so the outgoing call must use the
// handler's context or one derived from it. The new token is for the
// configured Resource or Audience (one of them is required) and Scopes,
// keeps the user as its subject and, as the server records it, names this
// service in its act claim.
//
// Exchanged tokens are cached per (keyed hash of the subject token,
// resource, audience, scopes), at most Config.CacheSize of them, each until
// the earlier of its own and the subject token's expiry, and renewed ahead
// of it as with [ClientCredentials]. The key is an HMAC-SHA-256 under a
// random key of the process, and the cache holds no subject token: a
// renewal uses the one of the call that triggers it. A call outside an
// authenticated call fails with [ErrNoSubject] (codes.Internal: the
// handler passed the wrong context).
func Exchange(cfg Config) (*Credentials, error) {
	switch {
	case len(cfg.Resource) == 0 && len(cfg.Audience) == 0:
		return nil, errors.New("outbound: Exchange needs Config.Resource or Config.Audience: the token for the next service must name it")
	case cfg.CacheSize < 0:
		return nil, errors.New("outbound: Config.CacheSize is negative; use 0 for the default of 10000")
	}
	c, base, err := newCredentials(&cfg)
	if err != nil {
		return nil, err
	}
	size := cfg.CacheSize
	if size == 0 {
		size = defaultCacheSize
	}
	cache := tokencache.New[*slot](tokencache.Config{Size: size, Now: c.o.now})
	hmacKey := make([]byte, 32)
	_, _ = rand.Read(hmacKey) // crypto/rand.Read never fails (Go 1.24+)
	base.Set("grant_type", grantTokenExchange)
	base.Set("subject_token_type", tokenTypeAccess)
	if cfg.RequestedTokenType != "" {
		base.Set("requested_token_type", cfg.RequestedTokenType)
	}
	// The target is fixed per Credentials, but it is in the key as well,
	// so that the key alone says what the token is for.
	target := strings.Join(cfg.Resource, "\x00") + "\x01" + strings.Join(cfg.Audience, "\x00") + "\x01" + joinScopes(cfg.Scopes)
	actor := cfg.ActorToken
	subjectToken := cfg.SubjectToken
	if subjectToken == nil {
		subjectToken = interceptor.TokenFromContext
	}
	fetch := func(ctx context.Context, subject string, notAfter time.Time) (*grant, error) {
		form := cloneForm(base)
		form.Set("subject_token", subject)
		if actor != nil {
			tok, typ, err := actor(ctx)
			if err != nil {
				return nil, &UnavailableError{Op: "actor token", Err: err}
			}
			form.Set("actor_token", tok)
			form.Set("actor_token_type", typ)
		}
		resp, err := c.ep.request(ctx, form)
		if err != nil {
			return nil, err
		}
		return newGrant(resp, c.o.now(), notAfter, c.ahead), nil
	}
	c.get = func(ctx context.Context) (*grant, error) {
		subject, ok := subjectToken(ctx)
		if !ok {
			return nil, subjectError{}
		}
		claims, _ := interceptor.FromContext(ctx)
		notAfter := claims.Expiry()
		mac := hmac.New(sha256.New, hmacKey)
		mac.Write([]byte(subject))
		mac.Write([]byte{0})
		mac.Write([]byte(target))
		var key tokencache.Key
		mac.Sum(key[:0])
		ttl := defaultLifetime
		if !notAfter.IsZero() {
			ttl = notAfter.Sub(c.o.now())
		}
		s, err := cache.Do(ctx, key, func(context.Context) (*slot, time.Duration, error) {
			return &slot{fetch: func(ctx context.Context, subject string) (*grant, error) {
				return fetch(ctx, subject, notAfter)
			}}, ttl, nil
		})
		if err != nil {
			return nil, err
		}
		return s.get(ctx, c.o, subject)
	}
	return c, nil
}

// newCredentials checks what both grants share and returns the form
// parameters they share.
func newCredentials(cfg *Config) (*Credentials, url.Values, error) {
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	ep, err := newEndpoint(cfg, now)
	if err != nil {
		return nil, nil, err
	}
	if cfg.RefreshAhead < 0 {
		return nil, nil, errors.New("outbound: Config.RefreshAhead is negative; use 0 for a quarter of the token's lifetime")
	}
	form := url.Values{}
	for _, r := range cfg.Resource {
		// RFC 8707 §2: an absolute URI without a fragment.
		u, err := url.Parse(r)
		if err != nil || !u.IsAbs() || u.Fragment != "" {
			return nil, nil, fmt.Errorf("outbound: Config.Resource %q is not an absolute URI without a fragment (RFC 8707 §2)", r)
		}
		form.Add("resource", r)
	}
	for _, a := range cfg.Audience {
		if a == "" {
			return nil, nil, errors.New("outbound: Config.Audience has an empty value")
		}
		form.Add("audience", a)
	}
	for _, s := range cfg.Scopes {
		if s == "" || strings.ContainsAny(s, " \"\\") {
			return nil, nil, fmt.Errorf("outbound: Config.Scopes %q is not a scope token (RFC 6749 §3.3)", s)
		}
	}
	if len(cfg.Scopes) > 0 {
		form.Set("scope", joinScopes(cfg.Scopes))
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Credentials{
		ep:       ep,
		o:        &owner{now: now, ctx: ctx, cancel: cancel},
		ahead:    cfg.RefreshAhead,
		loopback: loopbackTarget(cfg.Target),
	}
	if cfg.DPoP != nil {
		var opts []dpopgrpc.Option
		if c.loopback {
			opts = append(opts, dpopgrpc.AllowInsecure())
		}
		c.dpop = dpopgrpc.NewCredentials(cfg.DPoP, c.accessToken, opts...)
		c.dpopSigner = cfg.DPoP
	}
	return c, form, nil
}

// loopbackTarget reports whether the gRPC target names a loopback host:
// "host:port", "passthrough:///host:port", "dns:///host:port" and the
// like, with host "localhost" or a loopback IP.
func loopbackTarget(target string) bool {
	if target == "" {
		return false
	}
	if u, err := url.Parse(target); err == nil && u.Scheme != "" && u.Opaque == "" {
		target = strings.TrimPrefix(u.Path, "/")
		if u.Host != "" && target == "" {
			target = u.Host
		}
	}
	host, _, err := net.SplitHostPort(target)
	if err != nil {
		host = target
	}
	return oauthhttp.IsLoopback(strings.Trim(host, "[]"))
}

// accessToken returns the token for a call.
func (c *Credentials) accessToken(ctx context.Context) (string, error) {
	g, err := c.get(ctx)
	if err != nil {
		return "", err
	}
	return g.token, nil
}

// GetRequestMetadata returns the authorization metadata of one call:
// "Bearer <token>", or with DPoP "DPoP <token>" and a proof for the call
// (package dpopgrpc). It implements credentials.PerRPCCredentials.
func (c *Credentials) GetRequestMetadata(ctx context.Context, uri ...string) (map[string]string, error) {
	if c.dpop != nil {
		md, err := c.dpop.GetRequestMetadata(ctx, uri...)
		if err != nil {
			return nil, withCode(err)
		}
		return md, nil
	}
	if !c.loopback {
		// RequireTransportSecurity makes grpc-go check this; a
		// credentials.Bundle or a transport that lies could still get
		// here, and a token must not go out in clear.
		if ri, ok := credentials.RequestInfoFromContext(ctx); ok &&
			credentials.CheckSecurityLevel(ri.AuthInfo, credentials.PrivacyAndIntegrity) != nil {
			return nil, withCode(ErrInsecure)
		}
	}
	g, err := c.get(ctx)
	if err != nil {
		return nil, withCode(err)
	}
	return map[string]string{"authorization": "Bearer " + g.token}, nil
}

// UnaryClientInterceptor returns an interceptor for the connection the
// credentials are installed on. With DPoP, it answers a resource server's
// demand for a nonce (RFC 9449 §8): a call refused with use_dpop_nonce is
// made once more, its proof carrying the server's nonce (see
// [dpopgrpc.Credentials.UnaryClientInterceptor]). Without DPoP it passes
// every call through.
//
//	grpc.NewClient(target, grpc.WithTransportCredentials(tlsCreds),
//		grpc.WithPerRPCCredentials(creds),
//		grpc.WithChainUnaryInterceptor(creds.UnaryClientInterceptor()))
func (c *Credentials) UnaryClientInterceptor() grpc.UnaryClientInterceptor {
	if c.dpop == nil {
		return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			return invoker(ctx, method, req, reply, cc, opts...)
		}
	}
	return c.dpop.UnaryClientInterceptor()
}

// StreamClientInterceptor is [Credentials.UnaryClientInterceptor] for
// streams: with DPoP, a stream refused with use_dpop_nonce ends with that
// refusal, and the next stream's proof carries the server's nonce (see
// [dpopgrpc.Credentials.StreamClientInterceptor]).
func (c *Credentials) StreamClientInterceptor() grpc.StreamClientInterceptor {
	if c.dpop == nil {
		return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			return streamer(ctx, desc, cc, method, opts...)
		}
	}
	return c.dpop.StreamClientInterceptor()
}

// RequireTransportSecurity reports whether the credentials need TLS: true
// unless Config.Target is a loopback host.
func (c *Credentials) RequireTransportSecurity() bool { return !c.loopback }

// Token returns the token the next call would send, as an *oauth2.Token
// (AccessToken, TokenType "Bearer" or "DPoP", Expiry), for clients other
// than grpc-go. For [Exchange] ctx must be the handler's context. A DPoP
// token is useless without a proof of the configured key for each request.
func (c *Credentials) Token(ctx context.Context) (*oauth2.Token, error) {
	g, err := c.get(ctx)
	if err != nil {
		return nil, err
	}
	return &oauth2.Token{AccessToken: g.token, TokenType: g.tokenType, Expiry: g.expiry}, nil
}

// Close stops the background renewals and waits for those in flight;
// later calls fail with [ErrClosed] once no usable token is left. It is
// idempotent.
func (c *Credentials) Close() {
	c.o.cancel()
	c.o.wg.Wait()
	if c.ep.ownClient {
		c.ep.client.CloseIdleConnections()
	}
}

// String describes the credentials without any token.
func (c *Credentials) String() string {
	return "outbound.Credentials{" + c.ep.auth.String() + "}"
}

// cloneForm copies a form.
func cloneForm(f url.Values) url.Values {
	out := make(url.Values, len(f)+4)
	for k, v := range f {
		out[k] = append([]string(nil), v...)
	}
	return out
}
