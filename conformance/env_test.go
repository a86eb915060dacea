package conformance_test

import (
	"context"
	"crypto/tls"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/oauthgate/oauthgate/dpop"
	testpb "github.com/oauthgate/oauthgate/internal/testproto/oauthgatetest/v1"
	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/scopes"
	"github.com/oauthgate/oauthgate/verify"
)

// defaultTestTimeout bounds every call of the scenarios.
const defaultTestTimeout = 10 * time.Second

const (
	mfa   = "urn:example:mfa"
	realm = "library"
)

// A kind is a kind of RPC. The scenarios call one procedure of
// LibraryService per kind, each held to its proto rule plus a step-up.
type kind uint8

const (
	unary kind = iota
	serverStream
	clientStream
	bidiStream
)

// kinds describes each kind: its name in test names, the procedure called,
// its rule, and the scopes the scenarios' default token carries for it
// (those the rule needs, so that a scenario changes one thing only).
var kinds = [...]struct {
	name      string
	procedure string
	rule      scopes.Rule
	scopes    []string
}{
	unary:        {"Unary", testpb.LibraryService_GetBook_FullMethodName, scopes.AllOf("library.read"), []string{"library.read"}},
	serverStream: {"ServerStream", testpb.LibraryService_ListBooks_FullMethodName, scopes.AllOf("library.read"), []string{"library.read"}},
	clientStream: {"ClientStream", testpb.LibraryService_AddBooks_FullMethodName, scopes.AllOf("library.write", "library.admin"), []string{"library.write", "library.admin"}},
	bidiStream: {"BidiStream", testpb.LibraryService_Chat_FullMethodName,
		scopes.AnyOf(scopes.AllOf("library.read"), scopes.AllOf("library.admin")), []string{"library.read"}},
}

func (k kind) String() string    { return kinds[k].name }
func (k kind) procedure() string { return kinds[k].procedure }

// env is what every adapter is built over: one issuer, one PKI, one DPoP
// verifier, one verifier and one policy.
type env struct {
	clock *oauthtest.Clock
	iss   *oauthtest.Issuer
	certs *oauthtest.Certificates
	other tls.Certificate // a client certificate tokens are not bound to
	key   *oauthtest.DPoPKey
	dpop  *dpop.Verifier
	v     verify.Verifier
	p     *scopes.Policy
}

// newEnv builds the environment. Opaque tokens go to the issuer's
// introspection endpoint, which is down: the authorization-server outage.
func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{clock: oauthtest.NewClock(time.Now())}
	e.iss = oauthtest.NewIssuer(t, oauthtest.IssuerConfig{Now: e.clock.Now})
	e.iss.SetFault(oauthtest.EndpointIntrospection, oauthtest.Fault{Down: true})
	e.certs = oauthtest.NewCertificates(t)
	e.other = e.certs.NewClientCertificate(t, "client-2")
	e.key = oauthtest.NewDPoPKey(t, jose.ES256, e.clock.Now)
	keys, err := verify.NewStaticKeySet(e.iss.JWKS().Keys...)
	if err != nil {
		t.Fatal(err)
	}
	jwt, err := verify.NewJWT(keys, verify.JWTConfig{Issuer: e.iss.URL, Audiences: []string{oauthtest.DefaultAudience}, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	intro, err := verify.NewIntrospection(verify.IntrospectionConfig{
		Endpoint: e.iss.EndpointURL(oauthtest.EndpointIntrospection), ClientID: e.iss.ClientID, ClientSecret: verify.Secret(e.iss.ClientSecret),
		Issuer: e.iss.URL, Audiences: []string{oauthtest.DefaultAudience}, InsecureAllowHTTP: true, Timeout: 2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if e.v, err = verify.ByShape(jwt, intro); err != nil {
		t.Fatal(err)
	}
	if e.dpop, err = dpop.New(dpop.Config{Now: e.clock.Now}); err != nil {
		t.Fatal(err)
	}
	// Rules in Go, not from library.proto: the procedures ask for a
	// step-up that the proto's rules do not, so the policy reads a copy of
	// the file without its options.
	fdp := protodesc.ToFileDescriptorProto(testpb.File_oauthgatetest_v1_library_proto)
	for _, s := range fdp.GetService() {
		s.Options = nil
		for _, m := range s.GetMethod() {
			m.Options = nil
		}
	}
	fd, err := protodesc.NewFile(fdp, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatal(err)
	}
	reg := new(protoregistry.Files)
	if err := reg.RegisterFile(fd); err != nil {
		t.Fatal(err)
	}
	opts := []scopes.Option{scopes.FromRegistry(reg)}
	for _, k := range kinds {
		opts = append(opts, scopes.ForMethod(k.procedure, k.rule.WithACR(mfa)))
	}
	if e.p, err = scopes.NewPolicy(opts...); err != nil {
		t.Fatal(err)
	}
	return e
}

// token mints a JWT that passes every check of the policy for a call of
// kind k, changed by changes.
func (e *env) token(t *testing.T, k kind, changes ...oauthtest.Token) string {
	t.Helper()
	base := oauthtest.Token{Scopes: kinds[k].scopes, Claims: map[string]any{"acr": mfa}}
	return e.iss.Token(t, append([]oauthtest.Token{base}, changes...)...)
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), defaultTestTimeout)
	t.Cleanup(cancel)
	return ctx
}
