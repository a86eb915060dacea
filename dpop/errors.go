package dpop

import (
	"errors"

	"github.com/oauthgate/oauthgate/internal/reason"
)

// ErrInvalidProof matches every error that says a DPoP proof is
// unacceptable (RFC 9449 §7.1, invalid_dpop_proof). It comes with one of
// the reasons below.
var ErrInvalidProof = errors.New("dpop: invalid proof")

// Reasons a proof is invalid. Each error that matches one of them also
// matches [ErrInvalidProof].
var (
	// ErrMalformed reports a proof that is not a compact JWS with a JSON
	// header and claims of the right types, or repeats a member.
	ErrMalformed = reason.New("dpop: malformed proof", "the DPoP proof is invalid: malformed proof")
	// ErrType reports a typ header other than dpop+jwt.
	ErrType = reason.New("dpop: wrong proof type", "the DPoP proof is invalid: wrong proof type")
	// ErrAlgorithm reports an algorithm outside the allowlist, or one that
	// does not fit the key.
	ErrAlgorithm = reason.New("dpop: algorithm not allowed", "the DPoP proof is invalid: algorithm not allowed")
	// ErrKey reports a missing jwk header, or one that is not a usable
	// public key.
	ErrKey = reason.New("dpop: unusable proof key", "the DPoP proof is invalid: unusable proof key")
	// ErrPrivateKey reports a jwk header that holds a private key.
	ErrPrivateKey = reason.New("dpop: proof key is a private key", "the DPoP proof is invalid: proof key is a private key")
	// ErrSignature reports a signature that does not verify with the jwk.
	ErrSignature = reason.New("dpop: invalid proof signature", "the DPoP proof is invalid: invalid proof signature")
	// ErrMethod reports an htm other than the request's method.
	ErrMethod = reason.New("dpop: proof is for another method", "the DPoP proof is invalid: proof is for another method")
	// ErrURI reports an htu other than the request's URI.
	ErrURI = reason.New("dpop: proof is for another URI", "the DPoP proof is invalid: proof is for another URI")
	// ErrStale reports an iat outside the acceptance window.
	ErrStale = reason.New("dpop: proof is too old or from the future", "the DPoP proof is invalid: proof is too old or from the future")
	// ErrMissingClaim reports a proof without jti, htm, htu or iat, or
	// without ath when an access token is presented.
	ErrMissingClaim = reason.New("dpop: proof lacks a required claim", "the DPoP proof is invalid: proof lacks a required claim")
	// ErrTokenHash reports an ath that is not the hash of the access token.
	ErrTokenHash = reason.New("dpop: proof is for another access token", "the DPoP proof is invalid: proof is for another access token")
	// ErrReplayed reports a jti already seen within the window.
	ErrReplayed = reason.New("dpop: proof replayed", "the DPoP proof is invalid: proof replayed")
	// ErrReplayCacheFull reports that the replay cache holds as many live
	// proofs as it may: new proofs are refused until entries expire, rather
	// than forgetting proofs that could still be replayed.
	ErrReplayCacheFull = reason.New("dpop: replay cache full", "the DPoP proof is invalid: replay cache full")
	// ErrNonce reports a nonce that the server did not issue or that has
	// expired, or its absence when nonces are required (RFC 9449 §8). The
	// client must retry with the nonce of the DPoP-Nonce response header;
	// errors.Is(err, ErrUseNonce) is true as well.
	ErrNonce = reason.New("dpop: proof nonce missing or stale", "the DPoP proof is invalid: proof nonce missing or stale")
)

// ErrUseNonce matches a rejection whose cure is to retry with the nonce
// the server provides (the use_dpop_nonce error of RFC 9449 §8).
var ErrUseNonce = errors.New("dpop: use the server's nonce")

// ErrReplayStoreUnavailable reports that the [ReplayStore] could not say
// whether a proof was replayed (unreachable, too slow, out of memory): the
// proof is refused, since it cannot be checked now, but it is not invalid,
// and the client may retry with a new proof. It is no [*ProofError]; the
// error that matches it wraps the store's error as well.
var ErrReplayStoreUnavailable = errors.New("dpop: replay store unavailable")

// ErrInProcessFallback is what a [ReplayStore] returns, wrapping its own
// error, when it cannot answer and its operator chose to fall back rather
// than refuse DPoP calls: [Verifier.Record] then records the proof in the
// Verifier's in-process cache. That checks replays to this process only: a
// proof replayed to another replica meanwhile is accepted. Stores offer it
// only as an explicit, documented opt-in.
var ErrInProcessFallback = errors.New("dpop: replay store unavailable; recording in this process only")

// A ProofError says why a proof was rejected. It matches [ErrInvalidProof]
// and its Reason with errors.Is, and [ErrUseNonce] for [ErrNonce]. Its
// message names the reason only.
type ProofError struct {
	// Reason is one of the Err* reasons above.
	Reason error
}

// Error implements the error interface.
func (e *ProofError) Error() string { return reason.Message(ErrInvalidProof, e.Reason, "") }

// Unwrap returns [ErrInvalidProof], the reason and, for [ErrNonce],
// [ErrUseNonce].
func (e *ProofError) Unwrap() []error {
	if e.Reason == ErrNonce {
		return []error{ErrInvalidProof, e.Reason, ErrUseNonce}
	}
	return []error{ErrInvalidProof, e.Reason}
}

// Description returns a short, fixed English sentence fit for an OAuth
// error_description.
func (e *ProofError) Description() string {
	return reason.Describe(e.Reason, "the DPoP proof is invalid")
}

func proofError(reason error) error { return &ProofError{Reason: reason} }
