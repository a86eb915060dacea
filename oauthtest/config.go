package oauthtest

import (
	"crypto/x509"
	"errors"
	"maps"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Defaults used when no option says otherwise. They are constants so that a
// test can compare against them.
const (
	// DefaultAudience is the aud of every token unless [WithDefaultAudience]
	// or [WithAudience] says otherwise.
	DefaultAudience = "https://api.example.com"
	// DefaultSubject is the sub of every token unless [WithSubject] says
	// otherwise.
	DefaultSubject = "user-1"
	// DefaultClientID is the client_id claim of every token unless
	// [WithClientID] says otherwise.
	DefaultClientID = "client-1"
	// DefaultLifetime is how long a token is valid unless [WithLifetime] or
	// [WithExpiry] says otherwise.
	DefaultLifetime = 5 * time.Minute
	// DefaultIntrospectionClientID is the client_id the introspection
	// endpoint accepts unless [WithIntrospectionClient] says otherwise.
	DefaultIntrospectionClientID = "resource-server"
	// DefaultIntrospectionClientSecret is the client secret the
	// introspection endpoint accepts unless [WithIntrospectionClient] says
	// otherwise. It is a well-known test value, never a real secret.
	DefaultIntrospectionClientSecret = "resource-server-secret"
)

// An Option configures an [Issuer]. Options are passed to [NewIssuer] or
// [Start].
type Option interface{ applyIssuer(*issuerOptions) }

// A TokenOption configures one token minted by [Issuer.Token],
// [Issuer.MintToken], [Issuer.OpaqueToken] or [Issuer.MintOpaque].
type TokenOption interface{ applyToken(*tokenOptions) }

// A SharedOption is both an [Option] and a [TokenOption]: passed to
// [NewIssuer] it sets a default for every token, passed to [Issuer.Token] it
// applies to that token only.
type SharedOption interface {
	Option
	TokenOption
}

type issuerOptions struct {
	alg          jose.SignatureAlgorithm
	audience     []string
	now          func() time.Time
	clientID     string
	clientSecret string
	tls          bool
	inMemory     bool
	path         string
	metadata     map[string]any
}

func defaultIssuerOptions() issuerOptions {
	return issuerOptions{
		alg:          jose.ES256,
		audience:     []string{DefaultAudience},
		now:          time.Now,
		clientID:     DefaultIntrospectionClientID,
		clientSecret: DefaultIntrospectionClientSecret,
	}
}

type issuerOptionFunc func(*issuerOptions)

func (f issuerOptionFunc) applyIssuer(o *issuerOptions) { f(o) }

type tokenOptionFunc func(*tokenOptions)

func (f tokenOptionFunc) applyToken(o *tokenOptions) { f(o) }

type algorithmOption jose.SignatureAlgorithm

func (a algorithmOption) applyIssuer(o *issuerOptions) { o.alg = jose.SignatureAlgorithm(a) }
func (a algorithmOption) applyToken(o *tokenOptions)   { o.alg = jose.SignatureAlgorithm(a) }

// WithAlgorithm selects the signing algorithm: jose.ES256 (P-256), jose.RS256
// (RSA-2048) or jose.EdDSA (Ed25519). Passed to [NewIssuer] it sets the
// default for every token (the default default is ES256); passed to
// [Issuer.Token] it signs that token with the issuer's key for alg, creating
// the key on first use. Later calls replace earlier ones.
//
// As a [TokenOption] only, jose.HS256 is also accepted: the token is signed
// with an HMAC secret that is never published, for tests that a verifier
// rejects symmetric algorithms. Any other algorithm is an error.
func WithAlgorithm(alg jose.SignatureAlgorithm) SharedOption { return algorithmOption(alg) }

// WithDefaultAudience sets the aud of every token that has no [WithAudience]
// option. The default is [DefaultAudience]. With no arguments, tokens carry
// no aud claim. Later calls replace earlier ones.
func WithDefaultAudience(aud ...string) Option {
	aud = append([]string(nil), aud...)
	return issuerOptionFunc(func(o *issuerOptions) { o.audience = aud })
}

// WithClock sets the issuer's clock, used for iat and exp of minted tokens
// and to decide whether an introspected token has expired. The default is
// time.Now. A nil now restores the default. Later calls replace earlier ones.
func WithClock(now func() time.Time) Option {
	return issuerOptionFunc(func(o *issuerOptions) {
		if now == nil {
			now = time.Now
		}
		o.now = now
	})
}

// WithIntrospectionClient sets the client credentials the introspection
// endpoint requires (RFC 7662 §2.1), by client_secret_basic or
// client_secret_post. The defaults are [DefaultIntrospectionClientID] and
// [DefaultIntrospectionClientSecret]. Later calls replace earlier ones.
func WithIntrospectionClient(id, secret string) Option {
	return issuerOptionFunc(func(o *issuerOptions) { o.clientID, o.clientSecret = id, secret })
}

// WithTLS serves over HTTPS with a self-signed certificate, so Issuer.URL
// starts with "https://". Use [Issuer.Client] to talk to it. The default is
// plain HTTP.
func WithTLS() Option {
	return issuerOptionFunc(func(o *issuerOptions) { o.tls = true })
}

// WithInMemory makes the issuer listen nowhere: it is reachable only
// through [Issuer.Client] or [Issuer.Transport], which serve its endpoints
// in memory. Its URL is https://<random>.oauthtest.invalid, a name that
// never resolves, so a verifier accepts it without an http opt-in and a
// request sent any other way fails. Use it to run code under test inside a
// testing/synctest bubble, where network I/O would stop fake time; create
// the issuer inside the bubble. [WithTLS] has no effect on such an issuer.
// The default is to listen on 127.0.0.1.
func WithInMemory() Option {
	return issuerOptionFunc(func(o *issuerOptions) { o.inMemory = true })
}

// WithIssuerPath appends path, such as "/tenant1" or "/realms/a/", to the
// issuer identifier, as multi-tenant servers do, and serves every endpoint
// under it; metadata is served at both locations derived from such an
// issuer (see [Issuer.EndpointURL]). path must be a clean absolute path; a
// trailing slash is kept in the issuer identifier. The default is no path.
// Later calls replace earlier ones.
func WithIssuerPath(path string) Option {
	return issuerOptionFunc(func(o *issuerOptions) { o.path = path })
}

// WithMetadata sets member name of both metadata documents (RFC 8414 and
// OpenID discovery) to value, replacing the issuer's own value; a nil value
// removes the member. Use it to serve a wrong issuer or jwks_uri. Repeated
// calls for different names accumulate; for the same name the last wins.
func WithMetadata(name string, value any) Option {
	return issuerOptionFunc(func(o *issuerOptions) {
		if o.metadata == nil {
			o.metadata = map[string]any{}
		}
		o.metadata[name] = value
	})
}

// tokenOptions holds the settings of one token. Nil slices and pointers mean
// "use the issuer's default".
type tokenOptions struct {
	alg      jose.SignatureAlgorithm
	subject  *string
	clientID *string
	issuer   *string
	audience []string
	audSet   bool
	scopes   []string
	scp      bool
	lifetime *time.Duration
	expiry   *time.Time
	kid      *string
	typ      *string
	claims   map[string]any
	headers  map[string]any
	// err is a setup error of an option, returned when the token is minted.
	err error
}

// WithScopes sets the scope claim to the space-delimited scopes (RFC 9068
// §2.2.3). The default is no scope claim. With no arguments the claim is
// omitted. Later calls, and [WithSCP], replace earlier ones.
func WithScopes(scopes ...string) TokenOption {
	scopes = append([]string(nil), scopes...)
	return tokenOptionFunc(func(o *tokenOptions) { o.scopes, o.scp = scopes, false })
}

// WithSCP sets an scp claim holding the scopes as a JSON array, the way Ory
// Hydra and Microsoft Entra ID do, instead of a scope string. With no
// arguments the claim is omitted. Later calls, and [WithScopes], replace
// earlier ones.
func WithSCP(scopes ...string) TokenOption {
	scopes = append([]string(nil), scopes...)
	return tokenOptionFunc(func(o *tokenOptions) { o.scopes, o.scp = scopes, true })
}

// WithAudience sets the aud claim: a string for one audience, an array for
// several (RFC 7519 §4.1.3 allows both). The default is the issuer's default
// audience ([WithDefaultAudience]). With no arguments the claim is omitted.
// Later calls replace earlier ones.
func WithAudience(aud ...string) TokenOption {
	aud = append([]string(nil), aud...)
	return tokenOptionFunc(func(o *tokenOptions) { o.audience, o.audSet = aud, true })
}

// WithIssuer overrides the iss claim. The default is Issuer.URL. An empty iss
// omits the claim. Later calls replace earlier ones.
func WithIssuer(iss string) TokenOption {
	return tokenOptionFunc(func(o *tokenOptions) { o.issuer = &iss })
}

// WithSubject sets the sub claim. The default is [DefaultSubject]. An empty
// sub omits the claim. Later calls replace earlier ones.
func WithSubject(sub string) TokenOption {
	return tokenOptionFunc(func(o *tokenOptions) { o.subject = &sub })
}

// WithClientID sets the client_id claim (RFC 9068 §2.2). The default is
// [DefaultClientID]. An empty id omits the claim. Later calls replace earlier
// ones.
func WithClientID(id string) TokenOption {
	return tokenOptionFunc(func(o *tokenOptions) { o.clientID = &id })
}

// WithLifetime sets exp to the issuer's clock plus d; a negative d mints a
// token that has already expired. The default is [DefaultLifetime]. Later
// calls, and [WithExpiry], replace earlier ones.
func WithLifetime(d time.Duration) TokenOption {
	return tokenOptionFunc(func(o *tokenOptions) { o.lifetime, o.expiry = &d, nil })
}

// WithExpiry sets exp to t (truncated to whole seconds, as NumericDate is).
// Later calls, and [WithLifetime], replace earlier ones.
func WithExpiry(t time.Time) TokenOption {
	return tokenOptionFunc(func(o *tokenOptions) { o.expiry, o.lifetime = &t, nil })
}

// WithClaim sets claim name to value after every other claim option, so it
// can add a claim or override any standard one, including with a value of
// the wrong type (WithClaim("exp", "tomorrow")) or JSON null (nil value).
// Repeated calls for different names accumulate; for the same name the last
// WithClaim or [WithoutClaim] wins.
func WithClaim(name string, value any) TokenOption {
	return tokenOptionFunc(func(o *tokenOptions) {
		if o.claims == nil {
			o.claims = map[string]any{}
		}
		o.claims[name] = value
	})
}

// WithoutClaim removes claim name, for example "exp" or "iss", from the
// token. For the same name the last WithoutClaim or [WithClaim] wins.
func WithoutClaim(name string) TokenOption {
	return tokenOptionFunc(func(o *tokenOptions) {
		if o.claims == nil {
			o.claims = map[string]any{}
		}
		o.claims[name] = deleteClaim{}
	})
}

// deleteClaim marks a claim for removal in tokenOptions.claims.
type deleteClaim struct{}

// WithKeyID sets the kid header, which otherwise names the signing key. An
// empty kid omits the header. The token is still signed with the issuer's
// key, so a kid the JWKS does not list tests unknown-key handling. Later
// calls replace earlier ones.
func WithKeyID(kid string) TokenOption {
	return tokenOptionFunc(func(o *tokenOptions) { o.kid = &kid })
}

// WithType sets the typ header. The default is "at+jwt" (RFC 9068 §2.1). An
// empty typ omits the header. Later calls replace earlier ones.
func WithType(typ string) TokenOption {
	return tokenOptionFunc(func(o *tokenOptions) { o.typ = &typ })
}

// WithHeader sets protected header name to value after every other header
// option, for attack tests: WithHeader("crit", []string{"exp"}),
// WithHeader("jku", "https://evil.example"), even WithHeader("alg", "none")
// (the token is still signed with the real algorithm, so the header lies).
// Repeated calls for different names accumulate; for the same name the last
// wins. It has no effect on opaque tokens.
func WithHeader(name string, value any) TokenOption {
	return tokenOptionFunc(func(o *tokenOptions) {
		if o.headers == nil {
			o.headers = map[string]any{}
		}
		o.headers[name] = value
	})
}

// WithCertificateBinding binds the token to the client certificate cert
// (RFC 8705 §3.1): its cnf claim is {"x5t#S256": <thumbprint of cert>},
// which a verifier compares with the certificate of the client's mutual-TLS
// connection. Use [Certificates] for cert. A nil cert makes minting fail.
// It is [WithConfirmation] with that object; the last of the two, or of a
// [WithClaim] or [WithoutClaim] for "cnf", wins. Introspection reports the
// same cnf for the token.
func WithCertificateBinding(cert *x509.Certificate) TokenOption {
	if cert == nil {
		return tokenOptionFunc(func(o *tokenOptions) {
			o.err = errors.New("oauthtest: WithCertificateBinding: nil certificate")
		})
	}
	return WithConfirmation(map[string]any{"x5t#S256": certificateThumbprint(cert)})
}

// WithConfirmation sets the cnf claim (RFC 7800) to a copy of cnf, for
// bindings other than a certificate and for broken ones: a DPoP key
// ({"jkt": …}, RFC 9449 §6.1), a member a verifier cannot check
// ({"jwk": …}), an empty object. An introspected DPoP token also needs
// WithClaim("token_type", "DPoP") (RFC 9449 §6.2), which the introspection
// endpoint returns in place of "Bearer". A nil cnf removes the claim. It is
// WithClaim("cnf", cnf): for "cnf" the last such option wins.
func WithConfirmation(cnf map[string]any) TokenOption {
	if cnf == nil {
		return WithoutClaim("cnf")
	}
	return WithClaim("cnf", maps.Clone(cnf))
}

// WithDPoPBinding binds the token to k: its cnf claim (RFC 7800) is
// {"jkt": k.Thumbprint()}, in a JWT and in the introspection answer of an
// opaque token. Later calls, and [WithClaim]("cnf", …), replace earlier
// ones. A nil k makes minting fail.
func WithDPoPBinding(k *DPoPKey) TokenOption {
	if k == nil {
		return tokenOptionFunc(func(o *tokenOptions) {
			o.err = errors.New("oauthtest: WithDPoPBinding: nil DPoPKey")
		})
	}
	return WithConfirmation(map[string]any{"jkt": k.jkt})
}
