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
	name string
	// creds returns the call's headers and client certificate; a DPoP
	// proof names the target's URL for the procedure.
	creds func(t *testing.T, e *env, tg target, procedure string) (http.Header, *tls.Certificate)
	// replay sends the same credentials twice: the first call must pass,
	// the second gets want.
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

// bearer presents a token minted with changes.
func bearer(changes ...oauthtest.Token) func(*testing.T, *env, target, string) (http.Header, *tls.Certificate) {
	return func(t *testing.T, e *env, _ target, _ string) (http.Header, *tls.Certificate) {
		return http.Header{"Authorization": {"Bearer " + e.token(t, changes...)}}, nil
	}
}

// dpopBound presents a token bound to the env's DPoP key with a proof for
// htu, or for the call's own URL when htu is "".
func dpopBound(htu string) func(*testing.T, *env, target, string) (http.Header, *tls.Certificate) {
	return func(t *testing.T, e *env, tg target, procedure string) (http.Header, *tls.Certificate) {
		tok := e.token(t, oauthtest.Token{DPoPKey: e.key})
		uri := htu
		if uri == "" {
			uri = tg.base + procedure
		}
		return http.Header{"Authorization": {"DPoP " + tok}, "Dpop": {e.key.Proof(t, http.MethodPost, uri, tok)}}, nil
	}
}

// certBound presents a token bound to the env's client certificate over a
// connection with cert.
func certBound(cert func(*env) *tls.Certificate) func(*testing.T, *env, target, string) (http.Header, *tls.Certificate) {
	return func(t *testing.T, e *env, _ target, _ string) (http.Header, *tls.Certificate) {
		tok := e.token(t, oauthtest.Token{Certificate: e.certs.Client.Leaf})
		return http.Header{"Authorization": {"Bearer " + tok}}, cert(e)
	}
}

var scenarios = []scenario{
	{name: "Valid", creds: bearer()},
	{name: "Missing", creds: func(*testing.T, *env, target, string) (http.Header, *tls.Certificate) { return nil, nil },
		code: 16, reason: interceptor.ReasonMissingToken, challenge: true},
	{name: "Malformed", creds: func(*testing.T, *env, target, string) (http.Header, *tls.Certificate) {
		return http.Header{"Authorization": {"Token abc"}}, nil
	}, code: 16, reason: interceptor.ReasonInvalidRequest, challenge: true, oauthError: "invalid_request"},
	{name: "Invalid", creds: func(t *testing.T, e *env, _ target, _ string) (http.Header, *tls.Certificate) {
		tok := e.token(t)
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
	{name: "DPoPBound/WithoutProof", creds: func(t *testing.T, e *env, _ target, _ string) (http.Header, *tls.Certificate) {
		return http.Header{"Authorization": {"Bearer " + e.token(t, oauthtest.Token{DPoPKey: e.key})}}, nil
	}, code: 16, reason: interceptor.ReasonDPoPProofRequired, challenge: true, oauthError: "invalid_token"},
	{name: "DPoPBound/ProofForAnotherURL", creds: dpopBound("https://elsewhere.example.com/oauthgatetest.v1.LibraryService/GetBook"),
		code: 16, reason: "DPOP_PROOF_URI", challenge: true, oauthError: "invalid_dpop_proof"},
	{name: "DPoPBound/ReplayedProof", creds: dpopBound(""), replay: true,
		code: 16, reason: "DPOP_PROOF_REPLAYED", challenge: true, oauthError: "invalid_dpop_proof"},
	{name: "AuthorizationServerOutage", creds: func(*testing.T, *env, target, string) (http.Header, *tls.Certificate) {
		// An opaque token goes to the introspection endpoint, which is down.
		return http.Header{"Authorization": {"Bearer opaque-token-of-a-client"}}, nil
	}, code: 14, reason: interceptor.ReasonUnavailable},
}

// TestScenarios runs the table against every adapter and protocol, unary
// and server-streaming, and checks that every transport sent the same
// challenges for the same scenario.
func TestScenarios(t *testing.T) {
	e := newEnv(t)
	targets := append([]target{e.grpcTarget(t, interceptor.WithRealm(realm), interceptor.WithDPoP(e.dpop))},
		e.connectTargets(t, connectgate.WithRealm(realm), connectgate.WithDPoP(e.dpop))...)
	seen := map[string][]string{} // scenario → challenges of the first transport
	seenBy := map[string]string{}
	for _, sc := range scenarios {
		for _, tg := range targets {
			for _, stream := range []bool{false, true} {
				if stream && !tg.stream {
					continue
				}
				procedure, kind := getBook, "Unary"
				if stream {
					procedure, kind = listBooks, "ServerStream"
				}
				t.Run(sc.name+"/"+tg.name+"/"+kind, func(t *testing.T) {
					h, cert := sc.creds(t, e, tg, procedure)
					if sc.replay {
						if got := tg.call(t, stream, h, cert); got.code != 0 {
							t.Fatalf("first call = %+v, want it to pass", got)
						}
					}
					got := tg.call(t, stream, h, cert)
					check(t, sc, got)
					if sc.code == 0 {
						return
					}
					if first, ok := seen[sc.name]; !ok {
						seen[sc.name], seenBy[sc.name] = got.challenges, tg.name+"/"+kind
					} else if !slices.Equal(got.challenges, first) {
						t.Errorf("challenges = %q, want those %s sent: %q", got.challenges, seenBy[sc.name], first)
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
