package dpopgrpc

import (
	"context"
	"errors"
	"net/url"
	"sync"

	"google.golang.org/grpc/credentials"

	"github.com/oauthgate/oauthgate/dpop"
)

// A TokenFunc returns the access token for a call: a DPoP-bound token
// issued for the signer's key (its cnf.jkt is the signer's Thumbprint).
type TokenFunc func(ctx context.Context) (string, error)

// Credentials send a DPoP-bound access token and a proof per call. They
// are safe for concurrent use.
type Credentials struct {
	signer   *dpop.Signer
	token    TokenFunc
	insecure bool

	mu    sync.Mutex
	nonce string // the server's latest DPoP-Nonce, see SetNonce
}

// An Option configures [Credentials].
type Option interface{ apply(*Credentials) }

type optionFunc func(*Credentials)

func (f optionFunc) apply(c *Credentials) { f(c) }

// AllowInsecure lets the credentials be used on connections without
// transport security, with htu scheme "http": for tests and local
// development only, since anyone on the path can then read the token. The
// default requires TLS.
func AllowInsecure() Option { return optionFunc(func(c *Credentials) { c.insecure = true }) }

// NewCredentials returns credentials that sign proofs with signer for the
// tokens token returns.
func NewCredentials(signer *dpop.Signer, token TokenFunc, opts ...Option) *Credentials {
	c := &Credentials{signer: signer, token: token}
	for _, o := range opts {
		o.apply(c)
	}
	return c
}

// SetNonce sets the server nonce (RFC 9449 §8) that the next proofs carry:
// the value of the dpop-nonce response metadata of a call the server
// refused with use_dpop_nonce. "" stops sending one.
func (c *Credentials) SetNonce(nonce string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nonce = nonce
}

// GetRequestMetadata returns the authorization and dpop metadata of one
// call: htm POST and htu scheme://authority/Service/Method, with scheme
// https on a secure connection and http otherwise.
func (c *Credentials) GetRequestMetadata(ctx context.Context, uri ...string) (map[string]string, error) {
	ri, ok := credentials.RequestInfoFromContext(ctx)
	if !ok || len(uri) == 0 {
		return nil, errors.New("dpopgrpc: no request information in the context")
	}
	// grpc-go passes https://authority/Service as the audience URI; the
	// authority is taken from it.
	aud, err := url.Parse(uri[0])
	if err != nil || aud.Host == "" {
		return nil, errors.New("dpopgrpc: cannot read the call's authority")
	}
	scheme := "http"
	if credentials.CheckSecurityLevel(ri.AuthInfo, credentials.PrivacyAndIntegrity) == nil && ri.AuthInfo != nil {
		scheme = "https"
	}
	token, err := c.token(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	nonce := c.nonce
	c.mu.Unlock()
	htu, err := dpop.RequestURI(scheme, aud.Host, ri.Method)
	if err != nil {
		return nil, errors.New("dpopgrpc: the call's authority or method cannot make a DPoP URI")
	}
	proof, err := c.signer.Proof("POST", htu, token, nonce)
	if err != nil {
		return nil, err
	}
	return map[string]string{"authorization": "DPoP " + token, "dpop": proof}, nil
}

// RequireTransportSecurity reports whether the credentials refuse
// connections without TLS: true unless [AllowInsecure].
func (c *Credentials) RequireTransportSecurity() bool { return !c.insecure }
