package conditions

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/interpreter"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/oauthgate/oauthgate/verify"
)

// Input is what the conditions of one call are evaluated on.
type Input struct {
	// Claims are the verified claims of the call's token. Required: a
	// method with conditions is never public.
	Claims *verify.Claims
	// Request is the request message, of the method's input type; on a
	// client-streaming or bidi RPC, the message just received. Required.
	Request proto.Message
	// Certificate is the leaf certificate the client authenticated the
	// connection with (mutual TLS), or nil.
	Certificate *x509.Certificate
}

// A Method holds the compiled conditions of one method. It is safe for
// concurrent use.
type Method struct {
	name       string
	input      protoreflect.FullName
	conditions []*condition
}

// condition is one compiled condition.
type condition struct {
	name, expr string
	program    cel.Program
	ast        *cel.Ast
}

// Eval evaluates the method's conditions on in, in declaration order, and
// returns nil when every one holds. Otherwise it returns a [*DenyError]
// naming the first that does not: false ([ErrConditionFalse]), or failed to
// evaluate ([ErrEvaluation]: a missing map key, an overflow, the cost
// limit, a missing Claims or Request, a Request of another type than the
// method's input, a canceled ctx). Evaluation fails closed: every outcome
// but true denies.
//
// Eval on a nil *Method (what [Evaluator.For] returns for a method without
// conditions) returns nil. Each evaluation is bounded by the cost limit;
// ctx is checked before each condition.
func (m *Method) Eval(ctx context.Context, in Input) error {
	if m == nil {
		return nil
	}
	act := activations.Get().(*activation)
	act.in, act.method = in, m.name
	var err error
	for _, c := range m.conditions {
		if err = c.eval(ctx, m, act); err != nil {
			break
		}
	}
	// CEL keeps no reference to the activation after an evaluation.
	*act = activation{}
	activations.Put(act)
	return err
}

// activations recycles the activations of Eval, which would otherwise
// escape to the heap on every call.
var activations = sync.Pool{New: func() any { return new(activation) }}

func (c *condition) eval(ctx context.Context, m *Method, act *activation) error {
	deny := func(cause error) error {
		return &DenyError{Method: m.name, Condition: c.name, Reason: ErrEvaluation, Cause: cause}
	}
	switch {
	case ctx.Err() != nil:
		return deny(context.Cause(ctx))
	case act.in.Claims == nil:
		return deny(errors.New("conditions: Input.Claims is nil"))
	case act.in.Request == nil || !act.in.Request.ProtoReflect().IsValid():
		return deny(errors.New("conditions: Input.Request is nil"))
	case act.in.Request.ProtoReflect().Descriptor().FullName() != m.input:
		return deny(fmt.Errorf("conditions: Input.Request is a %s, not the method's input %s",
			act.in.Request.ProtoReflect().Descriptor().FullName(), m.input))
	}
	out, _, err := c.program.Eval(act)
	if err != nil {
		return deny(c.locate(err))
	}
	switch out {
	case types.True:
		return nil
	case types.False:
		return &DenyError{Method: m.name, Condition: c.name, Reason: ErrConditionFalse}
	}
	return deny(fmt.Errorf("conditions: expression %q returned %v, not a bool", c.expr, out.Type()))
}

// locate adds the expression and the position of the failing node, when
// CEL knows it, to an evaluation error.
func (c *condition) locate(err error) error {
	pos := ""
	var celErr *types.Err
	if errors.As(err, &celErr) && celErr.NodeID() != 0 {
		loc := c.ast.NativeRep().SourceInfo().GetStartLocation(celErr.NodeID())
		if loc.Line() > 0 {
			pos = " " + strconv.Itoa(loc.Line()) + ":" + strconv.Itoa(loc.Column()+1)
		}
	}
	return fmt.Errorf("conditions: expression %q%s: %w", c.expr, pos, err)
}

// Names of the variables.
const (
	varRequest = "request"
	varSub     = "token.sub"
	varClient  = "token.client_id"
	varScopes  = "token.scopes"
	varAud     = "token.audiences"
	varIssuer  = "token.issuer"
	varTenant  = "token.tenant"
	varACR     = "token.acr"
	varAMR     = "token.amr"
	varAuth    = "token.auth_time"
	varBinding = "token.binding"
	varClaims  = "token.claims"
	varMethod  = "call.method"
	varSubject = "call.certificate.subject"
	varDNS     = "call.certificate.dns_names"
	varURIs    = "call.certificate.uris"
)

// variables declares every variable but request, whose type depends on
// the method. The table in doc.go documents them.
var variables = []struct {
	name string
	typ  *cel.Type
}{
	{varSub, cel.StringType},
	{varClient, cel.StringType},
	{varScopes, cel.ListType(cel.StringType)},
	{varAud, cel.ListType(cel.StringType)},
	{varIssuer, cel.StringType},
	{varTenant, cel.StringType},
	{varACR, cel.StringType},
	{varAMR, cel.ListType(cel.StringType)},
	{varAuth, cel.TimestampType},
	{varBinding, cel.StringType},
	{varClaims, cel.MapType(cel.StringType, cel.DynType)},
	{varMethod, cel.StringType},
	{varSubject, cel.StringType},
	{varDNS, cel.ListType(cel.StringType)},
	{varURIs, cel.ListType(cel.StringType)},
}

// activation resolves the variables of one call, each when the expression
// first reads it: no map is built per call.
type activation struct {
	in     Input
	method string
}

var _ interpreter.Activation = (*activation)(nil)

// epoch is token.auth_time when the token has no auth_time claim.
var epoch = time.Unix(0, 0).UTC()

// ResolveName implements interpreter.Activation.
func (a *activation) ResolveName(name string) (any, bool) {
	c := a.in.Claims
	switch name {
	case varRequest:
		return a.in.Request, true
	case varSub:
		return c.Subject(), true
	case varClient:
		return c.ClientID(), true
	case varScopes:
		return &scopeList{set: c.Scopes()}, true
	case varAud:
		return nonNil(c.Audience()), true
	case varIssuer:
		return c.Issuer(), true
	case varTenant:
		return c.Tenant(), true
	case varACR:
		return c.ACR(), true
	case varAMR:
		return nonNil(c.AMR()), true
	case varAuth:
		if t := c.AuthTime(); !t.IsZero() {
			return t, true
		}
		return epoch, true
	case varBinding:
		return binding(c), true
	case varClaims:
		return otherClaims(c)
	case varMethod:
		return a.method, true
	case varSubject:
		if a.in.Certificate == nil {
			return "", true
		}
		return a.in.Certificate.Subject.String(), true
	case varDNS:
		if a.in.Certificate == nil {
			return []string{}, true
		}
		return nonNil(a.in.Certificate.DNSNames), true
	case varURIs:
		uris := []string{}
		if a.in.Certificate != nil {
			for _, u := range a.in.Certificate.URIs {
				uris = append(uris, u.String())
			}
		}
		return uris, true
	}
	return nil, false
}

// Parent implements interpreter.Activation.
func (a *activation) Parent() interpreter.Activation { return nil }

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// binding names the sender constraint of the token: "" for a bearer
// token, "mtls" (RFC 8705), "dpop" (RFC 9449; also for a token bound both
// ways).
func binding(c *verify.Claims) string {
	cnf, ok := c.Confirmation()
	switch {
	case !ok:
		return ""
	case cnf.JKT != "" || cnf.DPoP:
		return "dpop"
	case cnf.X5TS256 != "":
		return "mtls"
	}
	return ""
}

// typedClaims are the claims that token.claims leaves out because a
// variable of their own reads them, by the verifier's rules.
var typedClaims = []string{"iss", "sub", "aud", "client_id", "scope", "scp", "acr", "amr", "auth_time", "cnf"}

// otherClaims decodes the raw claim set into a map, without the claims
// that have a variable of their own.
func otherClaims(c *verify.Claims) (any, bool) {
	m := map[string]any{}
	if err := c.Decode(&m); err != nil {
		return types.NewErr("token.claims: %v", err), true
	}
	for _, k := range typedClaims {
		delete(m, k)
	}
	return m, true
}
