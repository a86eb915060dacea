package conformance_test

import (
	"crypto/tls"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/oauthgate/oauthgate/connectgate"
	"github.com/oauthgate/oauthgate/interceptor"
	"github.com/oauthgate/oauthgate/oauthtest"
)

// A scenario is one situation of the table, the same for every adapter and
// protocol.
type scenario struct {
	name  string
	creds callCreds
	// replay sends the same credentials twice: the first call (a whole
	// stream, for a streaming kind) must pass, the second gets want.
	replay bool
	// want is the outcome: code 0 means the handler ran with the claims
	// of oauthtest.DefaultSubject.
	code   uint32
	reason string
	// challenge reports whether www-authenticate challenges come with the
	// answer; oauthError is the RFC 6750 / RFC 9449 error one of them
	// carries ("" for none).
	challenge  bool
	oauthError string
}

// callCreds returns the headers and client certificate of a call of
// kind k to tg: a token minted for k's procedure, a DPoP proof naming
// tg's URL for it.
type callCreds func(t *testing.T, e *env, tg target, k kind) (http.Header, *tls.Certificate)

// bearer presents a token minted with changes.
func bearer(changes ...oauthtest.Token) callCreds {
	return func(t *testing.T, e *env, _ target, k kind) (http.Header, *tls.Certificate) {
		return http.Header{"Authorization": {"Bearer " + e.token(t, k, changes...)}}, nil
	}
}

// dpopBound presents a token bound to the env's DPoP key with a proof for
// the procedure's URL on origin, or on the target's own origin when origin
// is "" (every kind of call is a POST).
func dpopBound(origin string) callCreds {
	return func(t *testing.T, e *env, tg target, k kind) (http.Header, *tls.Certificate) {
		tok := e.token(t, k, oauthtest.Token{DPoPKey: e.key})
		o := origin
		if o == "" {
			o = tg.base
		}
		return http.Header{"Authorization": {"DPoP " + tok}, "Dpop": {e.key.Proof(t, http.MethodPost, o+k.procedure(), tok)}}, nil
	}
}

// certBound presents a token bound to the env's client certificate over a
// connection with cert.
func certBound(cert func(*env) *tls.Certificate) callCreds {
	return func(t *testing.T, e *env, _ target, k kind) (http.Header, *tls.Certificate) {
		tok := e.token(t, k, oauthtest.Token{Certificate: e.certs.Client.Leaf})
		return http.Header{"Authorization": {"Bearer " + tok}}, cert(e)
	}
}

var scenarios = []scenario{
	{name: "Valid", creds: bearer()},
	{name: "Missing", creds: func(*testing.T, *env, target, kind) (http.Header, *tls.Certificate) { return nil, nil },
		code: 16, reason: interceptor.ReasonMissingToken, challenge: true},
	{name: "Malformed", creds: func(*testing.T, *env, target, kind) (http.Header, *tls.Certificate) {
		return http.Header{"Authorization": {"Token abc"}}, nil
	}, code: 16, reason: interceptor.ReasonInvalidRequest, challenge: true, oauthError: "invalid_request"},
	{name: "Invalid", creds: func(t *testing.T, e *env, _ target, k kind) (http.Header, *tls.Certificate) {
		tok := e.token(t, k)
		sig := tok[strings.LastIndexByte(tok, '.')+1:]
		forged := tok[:len(tok)-len(sig)] + strings.Repeat("A", len(sig)) // a signature of the right size, all zero bits
		return http.Header{"Authorization": {"Bearer " + forged}}, nil
	}, code: 16, reason: interceptor.ReasonInvalidToken, challenge: true, oauthError: "invalid_token"},
	{name: "Expired", creds: bearer(oauthtest.Token{Lifetime: -oauthtest.DefaultLifetime}),
		code: 16, reason: interceptor.ReasonInvalidToken, challenge: true, oauthError: "invalid_token"},
	{name: "WrongAudience", creds: bearer(oauthtest.Token{Audience: []string{"https://other.example.com"}}),
		code: 16, reason: interceptor.ReasonInvalidToken, challenge: true, oauthError: "invalid_token"},
	{name: "InsufficientScope", creds: bearer(oauthtest.Token{Scopes: []string{"shelf.read"}}),
		code: 7, reason: interceptor.ReasonInsufficientScope, challenge: true, oauthError: "insufficient_scope"},
	{name: "StepUp", creds: bearer(oauthtest.Token{Claims: map[string]any{"acr": nil}}),
		code: 16, reason: interceptor.ReasonInsufficientUserAuthentication, challenge: true, oauthError: "insufficient_user_authentication"},
	{name: "CertificateBound/WithCertificate", creds: certBound(func(e *env) *tls.Certificate { return &e.certs.Client })},
	{name: "CertificateBound/WithoutCertificate", creds: certBound(func(*env) *tls.Certificate { return nil }),
		code: 16, reason: interceptor.ReasonCertificateRequired, challenge: true, oauthError: "invalid_token"},
	{name: "CertificateBound/OtherCertificate", creds: certBound(func(e *env) *tls.Certificate { return &e.other }),
		code: 16, reason: interceptor.ReasonCertificateMismatch, challenge: true, oauthError: "invalid_token"},
	{name: "DPoPBound/WithProof", creds: dpopBound("")},
	{name: "DPoPBound/WithoutProof", creds: func(t *testing.T, e *env, _ target, k kind) (http.Header, *tls.Certificate) {
		return http.Header{"Authorization": {"Bearer " + e.token(t, k, oauthtest.Token{DPoPKey: e.key})}}, nil
	}, code: 16, reason: interceptor.ReasonDPoPProofRequired, challenge: true, oauthError: "invalid_token"},
	{name: "DPoPBound/ProofForAnotherURL", creds: dpopBound("https://elsewhere.example.com"),
		code: 16, reason: "DPOP_PROOF_URI", challenge: true, oauthError: "invalid_dpop_proof"},
	{name: "DPoPBound/ReplayedProof", creds: dpopBound(""), replay: true,
		code: 16, reason: "DPOP_PROOF_REPLAYED", challenge: true, oauthError: "invalid_dpop_proof"},
	{name: "AuthorizationServerOutage", creds: func(*testing.T, *env, target, kind) (http.Header, *tls.Certificate) {
		// An opaque token goes to the introspection endpoint, which is down.
		return http.Header{"Authorization": {"Bearer opaque-token-of-a-client"}}, nil
	}, code: 14, reason: interceptor.ReasonUnavailable},
}

// TestScenarios runs the table against every adapter and protocol, for
// every kind of RPC the target can make, and checks that every transport
// sent the same challenges for the same scenario and kind (a challenge
// names the scopes of the kind's procedure).
func TestScenarios(t *testing.T) {
	e := newEnv(t)
	targets := append([]target{e.grpcTarget(t, interceptor.WithRealm(realm), interceptor.WithDPoP(e.dpop))},
		e.connectTargets(t, connectgate.WithRealm(realm), connectgate.WithDPoP(e.dpop))...)
	type key struct {
		scenario string
		kind     kind
	}
	seen := map[key][]string{} // challenges of the first transport
	seenBy := map[key]string{}
	for _, sc := range scenarios {
		for _, tg := range targets {
			for _, k := range tg.kinds {
				t.Run(sc.name+"/"+tg.name+"/"+k.String(), func(t *testing.T) {
					h, cert := sc.creds(t, e, tg, k)
					if sc.replay {
						if got := tg.call(t, k, h, cert); got.code != 0 {
							t.Fatalf("first call = %+v, want it to pass", got)
						}
					}
					got := tg.call(t, k, h, cert)
					check(t, sc, got)
					if sc.code == 0 {
						return
					}
					at := key{sc.name, k}
					if first, ok := seen[at]; !ok {
						seen[at], seenBy[at] = got.challenges, tg.name
					} else if !slices.Equal(got.challenges, first) {
						t.Errorf("challenges = %q, want those %s sent: %q", got.challenges, seenBy[at], first)
					}
				})
			}
		}
	}
}

func check(t *testing.T, sc scenario, got outcome) {
	t.Helper()
	if got.code != sc.code || got.reason != sc.reason {
		t.Fatalf("code, reason = %d, %q; want %d, %q", got.code, got.reason, sc.code, sc.reason)
	}
	if sc.code == 0 {
		if got.subject != oauthtest.DefaultSubject {
			t.Errorf("handler saw subject %q, want %q", got.subject, oauthtest.DefaultSubject)
		}
		return
	}
	if got.subject != "" {
		t.Errorf("a denied call got the handler's answer %q", got.subject)
	}
	if !sc.challenge {
		if len(got.challenges) != 0 {
			t.Errorf("challenges = %q, want none", got.challenges)
		}
		return
	}
	// DPoP is enabled: both schemes are offered, Bearer first, with the
	// realm; the error goes on one of them.
	if len(got.challenges) != 2 || !strings.HasPrefix(got.challenges[0], `Bearer realm="`+realm+`"`) ||
		!strings.HasPrefix(got.challenges[1], `DPoP realm="`+realm+`"`) {
		t.Fatalf("challenges = %q, want a Bearer and a DPoP challenge with the realm", got.challenges)
	}
	errors := 0
	for _, c := range got.challenges {
		if strings.Contains(c, "error=") {
			errors++
			if !strings.Contains(c, `error="`+sc.oauthError+`"`) {
				t.Errorf("challenge %q, want error=%q", c, sc.oauthError)
			}
		}
	}
	if want := min(len(sc.oauthError), 1); errors != want {
		t.Errorf("challenges = %q: %d carry an error, want %d", got.challenges, errors, want)
	}
}
