package dpop

import (
	"cmp"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	josejson "github.com/go-jose/go-jose/v4/json"

	"github.com/oauthgate/oauthgate/internal/b64url"
	"github.com/oauthgate/oauthgate/internal/josekeys"
	"github.com/oauthgate/oauthgate/internal/jwsmemo"
)

// Defaults and limits of [Config].
const (
	defaultWindow     = 60 * time.Second
	maxWindow         = 10 * time.Minute
	defaultReplaySize = 100_000
	// maxProofSize caps a proof: a jwk of a 4096-bit RSA key and the claims
	// fit in well under 4 KiB.
	maxProofSize = 8 << 10
	// maxJTI bounds the jti, which the replay cache hashes.
	maxJTI = 128
	// maxRSABits bounds an RSA proof key (cheapToVerify).
	maxRSABits = 4096
)

// Config configures a [Verifier]. Every field has a secure default. A Config
// must not be modified after it is passed to [New].
type Config struct {
	// Algorithms is the allowlist of proof signature algorithms. If empty,
	// ES256, ES384, ES512, EdDSA, RS256, RS384, RS512, PS256, PS384 and
	// PS512 are accepted. Symmetric algorithms and "none" are rejected by
	// New.
	Algorithms []jose.SignatureAlgorithm
	// Window is how far a proof's iat may lie from now, either way, and so
	// how long a jti is remembered (twice the window). If zero, 60 s is
	// used; at most 10 minutes.
	Window time.Duration
	// ReplayCacheSize bounds the number of proofs remembered per window;
	// memory is about three times that many 32-byte keys in maps. When it
	// is reached, new proofs are refused with [ErrReplayCacheFull] until
	// old ones expire: a replay is never let through. Only proofs of
	// authenticated calls are remembered ([Verifier.Record]). If zero,
	// 100 000 is used.
	ReplayCacheSize int
	// ReplayKeyLimit bounds the proofs of one key remembered per window,
	// so that one client cannot fill the cache for all: past it, that
	// key's new proofs are refused with [ErrReplayCacheFull] until its old
	// ones expire. It is split evenly over the cache's 16 shards, so a key
	// may be refused a little before it reaches it. If zero, a quarter of
	// ReplayCacheSize is used; at most ReplayCacheSize. A client that makes
	// more calls per window than this with one key needs a larger value.
	ReplayKeyLimit int
	// ReplayStore, if set, remembers proofs instead of the in-process
	// cache, for replicas that must refuse a proof any of them accepted.
	// Each proof is stored until no replica can accept it any more: its
	// iat plus Window, plus 5 s for differences between the replicas'
	// clocks (which must agree within that; NTP keeps them within
	// milliseconds), so at most 2×Window + 5 s. ReplayCacheSize and
	// ReplayKeyLimit then bound only the in-process cache that a store's
	// [ErrInProcessFallback] falls back to; the store's own bound is its
	// memory (see package redisstore for Redis: a memory limit with the
	// noeviction policy refuses writes, so proofs are refused with
	// [ErrReplayStoreUnavailable] rather than forgotten). If a store
	// cannot answer, Record fails closed. If nil, the in-process cache is
	// used.
	ReplayStore ReplayStore
	// NoncePeriod, if not zero, makes server nonces mandatory (RFC 9449
	// §8): a proof must carry a nonce issued by [Verifier.Nonce] in the
	// current or the previous period, else it is refused with [ErrNonce]
	// and the client retries with the nonce of the DPoP-Nonce header. At
	// least 10 s.
	NoncePeriod time.Duration
	// NonceKey is the secret nonces are derived from. Replicas behind one
	// load balancer must share it; if empty, a random key is used.
	NonceKey []byte
	// Now returns the current time. If nil, time.Now is used.
	Now func() time.Time
}

// A Verifier checks DPoP proofs. It is safe for concurrent use.
type Verifier struct {
	headers    jwsmemo.Memo[proofKey]
	algorithms []jose.SignatureAlgorithm
	algNames   string // for challenges: "ES256 EdDSA ..."
	window     time.Duration
	// replay returns the in-process cache; with a store, it is made at the
	// first fallback to it.
	replay func() *replayCache
	store  ReplayStore // nil: the in-process cache
	nonces *nonces     // nil: no nonce required
	now    func() time.Time
}

// New returns a Verifier for cfg, or an error naming the field at fault.
func New(cfg Config) (*Verifier, error) {
	algs, err := josekeys.Allowlist(cfg.Algorithms)
	if err != nil {
		return nil, fmt.Errorf("dpop: Config.Algorithms %w", err)
	}
	switch {
	case cfg.Window < 0 || cfg.Window > maxWindow:
		return nil, fmt.Errorf("dpop: Config.Window %v is outside 0 (for 60s) to %v", cfg.Window, maxWindow)
	case cfg.ReplayCacheSize < 0:
		return nil, errors.New("dpop: Config.ReplayCacheSize is negative; use 0 for the default of 100000")
	case cfg.ReplayKeyLimit < 0 || cfg.ReplayKeyLimit > cmp.Or(cfg.ReplayCacheSize, defaultReplaySize):
		return nil, errors.New("dpop: Config.ReplayKeyLimit is outside 0 (for a quarter of the cache) to ReplayCacheSize")
	case cfg.NoncePeriod < 0 || cfg.NoncePeriod > 0 && cfg.NoncePeriod < 10*time.Second:
		return nil, errors.New("dpop: Config.NoncePeriod must be 0 (no nonces) or at least 10s")
	case len(cfg.NonceKey) > 0 && len(cfg.NonceKey) < 16:
		return nil, errors.New("dpop: Config.NonceKey is shorter than 16 bytes")
	}
	v := &Verifier{
		algorithms: algs,
		window:     cmp.Or(cfg.Window, defaultWindow),
		now:        cfg.Now,
	}
	if v.now == nil {
		v.now = time.Now
	}
	names := make([]string, len(algs))
	for i, a := range algs {
		names[i] = string(a)
	}
	v.algNames = strings.Join(names, " ")
	size := cmp.Or(cfg.ReplayCacheSize, defaultReplaySize)
	keyLimit := cmp.Or(cfg.ReplayKeyLimit, max(size/4, 1))
	v.replay = sync.OnceValue(func() *replayCache { return newReplayCache(size, keyLimit, v.window) })
	if v.store = cfg.ReplayStore; v.store == nil {
		v.replay() // allocated now rather than by the first call
	}
	if cfg.NoncePeriod > 0 {
		v.nonces = newNonces(cfg.NonceKey, cfg.NoncePeriod)
	}
	return v, nil
}

// Algorithms returns the accepted algorithms, space-separated, for the
// algs parameter of a DPoP challenge (RFC 9449 §7.1).
func (v *Verifier) Algorithms() string { return v.algNames }

// Nonce returns the nonce a client must put in its next proof, for the
// DPoP-Nonce response header, or "" when nonces are not required.
func (v *Verifier) Nonce() string {
	if v.nonces == nil {
		return ""
	}
	return v.nonces.current(v.now())
}

// A Request is what a proof must match.
type Request struct {
	// Method is the HTTP method: htm must equal it exactly.
	Method string
	// URIs are the request's URI as the client may have addressed it,
	// each normalized with [NormalizeURI] (one, or one per public origin
	// behind a proxy): htu must equal one of them after the same
	// normalization.
	URIs []string
	// AccessToken is the token presented with the proof: ath must be its
	// SHA-256 hash. Empty when no token accompanies the proof, in which
	// case ath is not required.
	AccessToken string
}

// proofClaims are the claims of RFC 9449 §4.2. Pointers tell absent
// members from empty ones; go-jose's JSON matches names exactly and
// refuses duplicates.
type proofClaims struct {
	JTI   *string  `json:"jti"`
	HTM   *string  `json:"htm"`
	HTU   *string  `json:"htu"`
	IAT   *float64 `json:"iat"`
	ATH   *string  `json:"ath"`
	Nonce *string  `json:"nonce"`
}

// A Proof is a proof that [Verifier.Check] found valid for a request. It
// is not accepted until [Verifier.Record] records it, which a caller does
// once it has verified the access token the proof came with and that the
// token is bound to the proof's key: state that anonymous callers could
// otherwise fill is written only for authenticated ones.
type Proof struct {
	jkt    string
	replay [32]byte
	iat    int64 // Unix seconds, as the window check reads it
}

// Thumbprint returns the JWK SHA-256 thumbprint (RFC 7638) of the proof's
// key, to be compared with the access token's cnf.jkt.
func (p Proof) Thumbprint() string { return p.jkt }

// Check checks proof against req (RFC 9449 §4.3) and returns it as a
// [Proof], not yet recorded: every check but the replay check. A rejection
// is a [*ProofError].
func (v *Verifier) Check(proof string, req Request) (Proof, error) {
	if len(proof) > maxProofSize || !b64url.CanonicalCompact(proof) {
		return Proof{}, proofError(ErrMalformed)
	}
	head, err := v.header(proof)
	if err != nil {
		return Proof{}, err
	}
	// RFC 9449 §4.3 item 7: the signature verifies with the key in the
	// header, checked by go-jose over this proof's own payload and
	// signature.
	payload, err := jwsmemo.Verify(head, proof, head.Value.key.Key)
	switch {
	case errors.Is(err, jwsmemo.ErrMalformed):
		return Proof{}, proofError(ErrMalformed)
	case err != nil:
		return Proof{}, proofError(ErrSignature)
	}
	var c proofClaims
	if err := josejson.Unmarshal(payload, &c); err != nil {
		return Proof{}, proofError(ErrMalformed)
	}
	if err := v.checkClaims(&c, req, v.now()); err != nil {
		return Proof{}, err
	}
	jkt := head.Value.jkt
	return Proof{jkt: jkt, replay: replayKey(jkt, *c.JTI), iat: int64(*c.IAT)}, nil
}

// Record accepts p, a proof that [Verifier.Check] returned, unless a proof
// with its key and jti was recorded within the window: then it returns a
// [*ProofError] with [ErrReplayed]. Of many concurrent calls for one proof
// exactly one succeeds, also across the replicas that share a
// [Config].ReplayStore. It fails with [ErrReplayCacheFull] when the
// in-process replay cache, or the share of it that one key may hold, is
// full; with an error matching [ErrReplayStoreUnavailable] when the
// ReplayStore cannot answer (it never lets a proof through unchecked); and
// with [ErrMalformed] for a Proof that Check did not return. If ctx ends
// before the proof is recorded, Record returns ctx.Err(). The in-process
// cache never blocks.
func (v *Verifier) Record(ctx context.Context, p Proof) error {
	if p.jkt == "" {
		return proofError(ErrMalformed)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	now := v.now()
	if v.store != nil {
		replayed, err := v.store.Record(ctx, p.replay, v.storeTTL(p.iat, now))
		switch {
		case err == nil && replayed:
			return proofError(ErrReplayed)
		case err == nil:
			return nil
		case errors.Is(err, ErrInProcessFallback):
			// The operator chose this: record below, in this process only.
		case ctx.Err() != nil:
			return ctx.Err()
		default:
			return fmt.Errorf("%w: %w", ErrReplayStoreUnavailable, err)
		}
	}
	replayed, full := v.replay().record(p.jkt, p.replay, now)
	switch {
	case replayed:
		return proofError(ErrReplayed)
	case full:
		return proofError(ErrReplayCacheFull)
	}
	return nil
}

// proofKey is what a checked proof header yields: the key that verifies
// the proof and its thumbprint. Clients sign every proof with one key, so
// the header repeats, and parsing it (JSON, the jwk's curve point) costs a
// fifth of a proof's verification: it is remembered (jwsmemo).
type proofKey struct {
	key *jose.JSONWebKey
	jkt string
}

// header returns the parsed and checked protected header of proof, from
// the memo or by parsing the proof with go-jose.
func (v *Verifier) header(proof string) (*jwsmemo.Header[proofKey], error) {
	if h, ok := v.headers.Get(proof); ok {
		return h, nil
	}
	jws, err := jose.ParseSignedCompact(proof, v.algorithms)
	if err != nil {
		if _, ok := errors.AsType[*jose.ErrUnexpectedSignatureAlgorithm](err); ok {
			return nil, proofError(ErrAlgorithm)
		}
		if headerHasPrivateKey(proof) {
			return nil, proofError(ErrPrivateKey)
		}
		return nil, proofError(ErrMalformed)
	}
	h := &jws.Signatures[0].Protected
	if err := checkHeader(h); err != nil {
		return nil, err
	}
	key := h.JSONWebKey
	if !keyFits(key, jose.SignatureAlgorithm(h.Algorithm)) {
		return nil, proofError(ErrAlgorithm)
	}
	if !cheapToVerify(key) {
		return nil, proofError(ErrKey)
	}
	thumb, err := key.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, proofError(ErrKey)
	}
	return v.headers.Put(proof, jws, proofKey{key: key, jkt: base64.RawURLEncoding.EncodeToString(thumb)}), nil
}

// checkHeader applies the header rules of RFC 9449 §4.2 and §4.3.
func checkHeader(h *jose.Header) error {
	typ, ok := h.ExtraHeaders[jose.HeaderType].(string)
	if !ok || typ != "dpop+jwt" {
		return proofError(ErrType)
	}
	if _, crit := h.ExtraHeaders["crit"]; crit {
		return proofError(ErrMalformed)
	}
	if h.JSONWebKey == nil || !h.JSONWebKey.Valid() {
		return proofError(ErrKey)
	}
	if !h.JSONWebKey.IsPublic() {
		return proofError(ErrPrivateKey)
	}
	return nil
}

// checkClaims checks the proof's claims against the request.
func (v *Verifier) checkClaims(c *proofClaims, req Request, now time.Time) error {
	switch {
	case c.JTI == nil || *c.JTI == "" || c.HTM == nil || c.HTU == nil || c.IAT == nil:
		return proofError(ErrMissingClaim)
	case len(*c.JTI) > maxJTI:
		return proofError(ErrMalformed)
	case *c.HTM != req.Method:
		return proofError(ErrMethod)
	}
	htu, err := NormalizeURI(*c.HTU)
	if err != nil || !slices.Contains(req.URIs, htu) {
		return proofError(ErrURI)
	}
	iat := *c.IAT
	if math.IsNaN(iat) || iat < 0 || iat > 253402300799 {
		return proofError(ErrMalformed)
	}
	if d := now.Sub(time.Unix(int64(iat), 0)).Abs(); d > v.window {
		return proofError(ErrStale)
	}
	if req.AccessToken != "" {
		if c.ATH == nil {
			return proofError(ErrMissingClaim)
		}
		sum := sha256.Sum256([]byte(req.AccessToken))
		var want [43]byte
		base64.RawURLEncoding.Encode(want[:], sum[:])
		if subtle.ConstantTimeCompare([]byte(*c.ATH), want[:]) != 1 {
			return proofError(ErrTokenHash)
		}
	}
	if v.nonces != nil && (c.Nonce == nil || !v.nonces.valid(*c.Nonce, now)) {
		return proofError(ErrNonce)
	}
	return nil
}

// cheapToVerify reports whether verifying with k costs about what a usual
// client's key costs. Anyone may send a proof, with a key of their choice,
// before any token is checked: an RSA key of 16384 bits or with a public
// exponent of 2³¹−1 would cost the server 20 to 40 times an ES256
// verification per request. Proof keys are made per client and need none
// of that: RSA keys must have the exponent 65537 (what every library
// generates) and at most 4096 bits.
func cheapToVerify(k *jose.JSONWebKey) bool {
	rk, ok := k.Key.(*rsa.PublicKey)
	return !ok || rk.E == 65537 && rk.N.BitLen() <= maxRSABits
}

// keyFits reports whether the proof key may verify alg: josekeys.Fits,
// the rule dpop shares with verify.
func keyFits(k *jose.JSONWebKey, alg jose.SignatureAlgorithm) bool { return josekeys.Fits(k, alg) }

// headerHasPrivateKey reports whether the proof's header holds a jwk with
// private key material, which go-jose refuses to parse: to name the reason.
func headerHasPrivateKey(proof string) bool {
	header, _, _ := strings.Cut(proof, ".")
	raw, err := base64.RawURLEncoding.DecodeString(header)
	if err != nil {
		return false
	}
	var h struct {
		JWK map[string]any `json:"jwk"`
	}
	if josejson.Unmarshal(raw, &h) != nil {
		return false
	}
	for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
		if _, ok := h.JWK[private]; ok {
			return true
		}
	}
	return false
}
