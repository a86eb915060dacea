package oauthtest

import (
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"maps"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"google.golang.org/grpc/credentials"

	"github.com/oauthgate/oauthgate/dpop"
	"github.com/oauthgate/oauthgate/dpop/dpopgrpc"
)

// A DPoPKey is a client's DPoP key pair (RFC 9449) for tests: it binds
// tokens ([Token].DPoPKey) and signs proofs, well-formed or broken on
// purpose ([DPoPKey.Proof] with a [Proof]). Real clients use
// dpop.NewSigner and package dpopgrpc.
type DPoPKey struct {
	alg  jose.SignatureAlgorithm
	priv crypto.Signer
	jkt  string
	now  func() time.Time
}

// NewDPoPKey generates a DPoP key for alg (jose.ES256, jose.RS256 or
// jose.EdDSA; ES256 if alg is ""), whose proofs carry iat from now (nil
// for time.Now). A setup problem fails the test.
func NewDPoPKey(tb testing.TB, alg jose.SignatureAlgorithm, now func() time.Time) *DPoPKey {
	tb.Helper()
	if alg == "" {
		alg = jose.ES256
	}
	if !publishable(alg) {
		tb.Fatalf("oauthtest.NewDPoPKey: unsupported algorithm %q; use ES256, RS256 or EdDSA", alg)
		return nil
	}
	k, err := newSigningKey(alg)
	if err != nil {
		tb.Fatalf("oauthtest.NewDPoPKey: %v", err)
		return nil
	}
	pub := jose.JSONWebKey{Key: k.priv.Public()}
	thumb, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		tb.Fatalf("oauthtest.NewDPoPKey: %v", err)
		return nil
	}
	if now == nil {
		now = time.Now
	}
	return &DPoPKey{alg: alg, priv: k.priv, jkt: base64.RawURLEncoding.EncodeToString(thumb), now: now}
}

// Thumbprint returns the key's JWK SHA-256 thumbprint (RFC 7638), the
// cnf.jkt of tokens bound to it.
func (k *DPoPKey) Thumbprint() string { return k.jkt }

// Signer returns a dpop.Signer for the key, as a real client holds.
func (k *DPoPKey) Signer(tb testing.TB) *dpop.Signer {
	tb.Helper()
	s, err := dpop.NewSigner(k.priv, k.alg, k.now)
	if err != nil {
		tb.Fatalf("oauthtest: DPoPKey.Signer: %v", err)
	}
	return s
}

// Credentials returns grpc-go per-RPC credentials that present token with
// the DPoP scheme and a fresh proof by k for every call, over any
// transport: dpopgrpc.NewCredentials with AllowInsecure, for tests only.
func (k *DPoPKey) Credentials(tb testing.TB, token string) credentials.PerRPCCredentials {
	tb.Helper()
	return dpopgrpc.NewCredentials(k.Signer(tb), func(context.Context) (string, error) { return token, nil }, dpopgrpc.AllowInsecure())
}

// A Proof changes a proof made by [DPoPKey.Proof], usually to break it on
// purpose:
//
//	stale := key.Proof(t, "POST", htu, tok, oauthtest.Proof{Claims: map[string]any{"iat": 0}})
//
// Several Proofs are merged in order: Claims and Header by name, and
// PrivateKey if any sets it.
type Proof struct {
	// Claims sets claims of the proof, replacing its own; a nil value
	// removes the claim (a missing ath, say).
	Claims map[string]any
	// Header sets header parameters of the proof, replacing its own (typ,
	// jwk); a nil value removes the parameter. alg cannot be set.
	Header map[string]any
	// PrivateKey embeds the private key, not just the public one, in the
	// proof's jwk header: a proof a verifier must refuse.
	PrivateKey bool
}

// Proof returns a DPoP proof by k for a request with method and uri (the
// htu, used as given) presenting accessToken ("" for no ath), with a fresh
// jti and iat now, changed by changes. A setup problem fails the test.
func (k *DPoPKey) Proof(tb testing.TB, method, uri, accessToken string, changes ...Proof) string {
	tb.Helper()
	var o Proof
	for _, c := range changes {
		o.Claims = mergeMaps(o.Claims, c.Claims)
		o.Header = mergeMaps(o.Header, c.Header)
		o.PrivateKey = o.PrivateKey || c.PrivateKey
	}
	claims := map[string]any{"jti": randomString(16), "htm": method, "htu": uri, "iat": k.now().Unix()}
	if accessToken != "" {
		sum := sha256.Sum256([]byte(accessToken))
		claims["ath"] = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	for name, v := range o.Claims {
		if v == nil {
			delete(claims, name)
			continue
		}
		claims[name] = v
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		tb.Fatalf("oauthtest: DPoPKey.Proof: %v", err)
		return ""
	}
	jwk := jose.JSONWebKey{Key: k.priv.Public()}
	if o.PrivateKey {
		jwk = jose.JSONWebKey{Key: k.priv}
	}
	header := map[string]any{"typ": "dpop+jwt", "jwk": jwk} // RFC 9449 §4.2
	maps.Copy(header, o.Header)
	so := &jose.SignerOptions{}
	for name, v := range header {
		if v != nil {
			so.WithHeader(jose.HeaderKey(name), v)
		}
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: k.priv}, so)
	if err != nil {
		tb.Fatalf("oauthtest: DPoPKey.Proof: %v", err)
		return ""
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		tb.Fatalf("oauthtest: DPoPKey.Proof: %v", err)
		return ""
	}
	proof, err := jws.CompactSerialize()
	if err != nil {
		tb.Fatalf("oauthtest: DPoPKey.Proof: %v", err)
	}
	return proof
}
