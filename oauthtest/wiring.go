package oauthtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/oauthgate/oauthgate/resource"
	"github.com/oauthgate/oauthgate/scopes"
)

// The ErrorInfo reasons of the oauthgate denials that CheckWiring expects:
// the values of interceptor.ReasonMissingToken, ReasonInsufficientScope,
// ReasonSenderConstraintRequired and ReasonUndeclaredMethod. oauthtest
// cannot import package interceptor (the tests of verify, which interceptor
// imports, use oauthtest); TestCheckWiring runs CheckWiring against a real
// Interceptor, and fails if these drift.
const (
	reasonMissingToken             = "MISSING_TOKEN"
	reasonInsufficientScope        = "INSUFFICIENT_SCOPE"
	reasonSenderConstraintRequired = "SENDER_CONSTRAINT_REQUIRED"
	reasonUndeclaredMethod         = "UNDECLARED_METHOD"
)

// wiringCallTimeout bounds each call of CheckWiring. oauthgate answers a
// call without a token, or with a token lacking scopes, as soon as the
// token is verified; only a handler that waits (a stream reading messages
// that never come) takes this long.
const wiringCallTimeout = 10 * time.Second

// CheckWiring proves, in a test, that every call to srv passes through
// oauthgate, however the interceptors were installed. srv is the server your
// code builds, with every service registered; policy is the policy its
// oauthgate Interceptor enforces, and iss an issuer whose tokens its
// verifier accepts. toks, merged as [Token] says, describe every token the
// check mints, to make them valid for that verifier (an Audience or
// Issuer, say); the check sets the scopes, in the claim form toks choose
// (SCP), and adds the audiences a rule narrows its method to.
//
//	iss := oauthtest.NewIssuer(t)
//	keys, err := verify.NewStaticKeySet(iss.JWKS().Keys...)
//	policy, err := newPolicy()          // the rules your server enforces
//	srv, err := newServer(keys, policy) // the server your main serves
//	oauthtest.CheckWiring(t, srv, policy, iss)
//
// CheckWiring serves srv in memory ([ServeGRPC], so srv is stopped when
// the test ends) and calls every registered method, unary or streaming,
// with an empty request and no message types:
//
//   - a method with a protected rule is called without a token, and must
//     be answered Unauthenticated with reason MISSING_TOKEN; then with a
//     token holding every scope of the policy except those the rule names
//     (with the rule's audiences), and must be answered PermissionDenied
//     with reason INSUFFICIENT_SCOPE (Unauthenticated with
//     SENDER_CONSTRAINT_REQUIRED for a sender-constrained rule);
//   - a method without a rule is called without a token, and must be
//     denied as undeclared (PermissionDenied, UNDECLARED_METHOD);
//   - a public method is called without a token, and may be answered
//     anything but an oauthgate denial, so its handler runs with an empty
//     request message;
//   - oauthgate.v1.ResourceMetadataService, public by construction with
//     interceptor.WithResourceMetadata and denied without it, is not
//     called unless the policy declares it.
//
// A streaming call sends one empty message when the method does not stream
// requests, none otherwise, closes its side and reads the first answer.
// Each method whose answer differs from the expected denial fails the test
// with tb.Errorf, naming the method and what it answered: that is a method
// whose calls get past oauthgate (the unary or the stream interceptor is
// missing, a go-grpc-middleware selector skips it, or the service's
// AuthFuncOverride replaces oauthgate's AuthFunc), or a server whose
// Interceptor enforces another policy or rejects iss's tokens.
//
// srv must accept plaintext connections (no grpc.Creds): build the test's
// server with the same code but without transport credentials. Setup
// errors fail the test with tb.Fatalf.
func CheckWiring(tb testing.TB, srv *grpc.Server, policy *scopes.Policy, iss *Issuer, toks ...Token) {
	tb.Helper()
	switch {
	case srv == nil:
		tb.Fatalf("oauthtest.CheckWiring: server is nil")
		return
	case policy == nil:
		tb.Fatalf("oauthtest.CheckWiring: policy is nil")
		return
	case iss == nil:
		tb.Fatalf("oauthtest.CheckWiring: issuer is nil")
		return
	}
	methods := registeredMethods(srv)
	if len(methods) == 0 {
		tb.Errorf("oauthtest.CheckWiring: the server has no registered method: register its services before the check")
		return
	}
	w := wiringCheck{tb: tb, conn: ServeGRPC(tb, srv), policy: policy, iss: iss, tok: mergeTokens(toks)}
	for _, m := range methods {
		w.check(m)
	}
}

// A method is a registered method of the checked server.
type method struct {
	name string // full method name, "/pkg.Service/Method"
	info grpc.MethodInfo
}

// kind names the kind of call of m, for messages.
func (m method) kind() string {
	switch {
	case m.info.IsClientStream && m.info.IsServerStream:
		return "bidi-streaming"
	case m.info.IsClientStream:
		return "client-streaming"
	case m.info.IsServerStream:
		return "server-streaming"
	}
	return "unary"
}

func (m method) streaming() bool { return m.info.IsClientStream || m.info.IsServerStream }

// registeredMethods returns the methods registered on srv, sorted by name.
func registeredMethods(srv *grpc.Server) []method {
	var methods []method
	for svc, si := range srv.GetServiceInfo() {
		for _, info := range si.Methods {
			methods = append(methods, method{name: "/" + svc + "/" + info.Name, info: info})
		}
	}
	slices.SortFunc(methods, func(a, b method) int { return strings.Compare(a.name, b.name) })
	return methods
}

// A denial is the answer oauthgate gives a call it refuses.
type denial struct {
	code   codes.Code
	reason string
}

func (d denial) String() string { return d.code.String() + " " + d.reason }

// wiringCheck holds what CheckWiring needs for each method.
type wiringCheck struct {
	tb     testing.TB
	conn   *grpc.ClientConn
	policy *scopes.Policy
	iss    *Issuer
	tok    Token // the merged toks of CheckWiring
}

// check calls m as its rule says and reports a wrong answer.
func (w *wiringCheck) check(m method) {
	w.tb.Helper()
	rule, declared := w.policy.Rule(m.name)
	switch {
	case !declared && m.name == resource.Procedure:
		return
	case !declared:
		w.expect(m, "without a token", "", denial{codes.PermissionDenied, reasonUndeclaredMethod})
	case rule.IsPublic():
		if st := w.call(m, ""); gateDenial(st) {
			w.tb.Errorf("oauthtest.CheckWiring: %s (%s, public) called without a token: answered %s, an oauthgate denial; "+
				"does the server's Interceptor enforce this policy?", m.name, m.kind(), describe(st))
		}
	default:
		if !w.expect(m, "without a token", "", denial{codes.Unauthenticated, reasonMissingToken}) {
			return // one report a method
		}
		want := denial{codes.PermissionDenied, reasonInsufficientScope}
		if rule.RequiresSenderConstraint() {
			want = denial{codes.Unauthenticated, reasonSenderConstraintRequired}
		}
		tok := w.iss.Token(w.tb, w.lacking(rule))
		w.expect(m, "with a token lacking its scopes", tok, want)
	}
}

// expect calls m with token ("" for none) and reports an answer other than
// want; it returns whether the answer was want.
func (w *wiringCheck) expect(m method, how, token string, want denial) bool {
	w.tb.Helper()
	st := w.call(m, token)
	if st.Code() == want.code && reason(st) == want.reason {
		return true
	}
	w.tb.Errorf("oauthtest.CheckWiring: %s (%s) called %s: answered %s, want %s from oauthgate; %s",
		m.name, m.kind(), how, describe(st), want, hint(m, st, want))
	return false
}

// hint says what an answer other than the expected denial most likely
// means.
func hint(m method, st *status.Status, want denial) string {
	switch {
	case st.Code() == codes.DeadlineExceeded && reason(st) == "":
		return fmt.Sprintf("no answer within %v: the call reached a handler, which oauthgate answers before", wiringCallTimeout)
	case st.Code() == codes.Unavailable && reason(st) == "":
		return "the server could not be reached in memory: build it without grpc.Creds for the check"
	case reason(st) == "":
		interceptor := "grpc.ChainUnaryInterceptor(gate.Unary)"
		if m.streaming() {
			interceptor = "grpc.ChainStreamInterceptor(gate.Stream)"
		}
		return "the call got past oauthgate: is " + interceptor + " installed (gate.ServerOptions() installs both kinds), " +
			"and does no selector or AuthFuncOverride skip the method?"
	case reason(st) == reasonUndeclaredMethod:
		return "the server's Interceptor has no rule for the method: does it enforce this policy?"
	case want.reason == reasonInsufficientScope || want.reason == reasonSenderConstraintRequired:
		return "the server's verifier must accept the issuer's tokens (pass CheckWiring a Token with its Audience or Issuer), " +
			"and its Interceptor enforce this policy"
	}
	return "does the server's Interceptor enforce this policy?"
}

// lacking returns the token the check mints for rule: w.tok with every
// scope of the policy except those rule names, and the audiences rule
// narrows the method to, so that only the scopes are missing. The claim
// form (scope or scp) is the one w.tok chose.
func (w *wiringCheck) lacking(rule *scopes.Rule) Token {
	named := make(map[string]bool)
	for _, alt := range rule.Alternatives() {
		for _, s := range alt {
			named[s] = true
		}
	}
	others := []string{} // not nil: no scopes at all is a choice, too
	for _, s := range w.policy.Scopes() {
		if !named[s] {
			others = append(others, s)
		}
	}
	tok := w.tok
	tok.Scopes = others
	if auds := rule.Audiences(); len(auds) > 0 {
		base := w.iss.cfg.Audience
		if tok.Audience != nil {
			base = tok.Audience
		}
		tok.Audience = slices.Concat(base, auds)
	}
	return tok
}

// call calls m with an empty request and token ("" for none) and returns
// the first answer: the status of a unary call, or of a stream's first
// message or end.
func (w *wiringCheck) call(m method, token string) *status.Status {
	ctx, cancel := context.WithTimeout(w.tb.Context(), wiringCallTimeout)
	defer cancel()
	var callOpts []grpc.CallOption
	if token != "" {
		callOpts = append(callOpts, Bearer(token))
	}
	if !m.streaming() {
		return status.Convert(w.conn.Invoke(ctx, m.name, &emptypb.Empty{}, &emptypb.Empty{}, callOpts...))
	}
	desc := &grpc.StreamDesc{StreamName: m.info.Name, ClientStreams: m.info.IsClientStream, ServerStreams: m.info.IsServerStream}
	s, err := w.conn.NewStream(ctx, desc, m.name, callOpts...)
	if err != nil {
		return status.Convert(err)
	}
	// A method that does not stream requests reads exactly one; the empty
	// message is a valid encoding of any request type. io.EOF means the
	// stream already ended: RecvMsg returns its status.
	if !m.info.IsClientStream {
		if err := s.SendMsg(&emptypb.Empty{}); err != nil && !errors.Is(err, io.EOF) {
			return status.Convert(err)
		}
	}
	if err := s.CloseSend(); err != nil {
		return status.Convert(err)
	}
	// emptypb.Empty keeps any response's fields as unknown fields.
	err = s.RecvMsg(&emptypb.Empty{})
	if errors.Is(err, io.EOF) {
		return status.New(codes.OK, "")
	}
	return status.Convert(err)
}

// reason returns the ErrorInfo reason of st, or "".
func reason(st *status.Status) string {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.GetReason()
		}
	}
	return ""
}

// gateDenial reports whether st is how oauthgate refuses a call without a
// token: to a protected method, or to one without a rule.
func gateDenial(st *status.Status) bool {
	switch reason(st) {
	case reasonMissingToken:
		return st.Code() == codes.Unauthenticated
	case reasonUndeclaredMethod:
		return st.Code() == codes.PermissionDenied
	}
	return false
}

// describe renders st for a failure message.
func describe(st *status.Status) string {
	if st.Code() == codes.OK {
		return "OK"
	}
	s := fmt.Sprintf("%s %q", st.Code(), st.Message())
	if r := reason(st); r != "" {
		s += " (" + r + ")"
	}
	return s
}
