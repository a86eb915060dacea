package conditions_test

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/oauthgate/oauthgate/conditions"
	testpb "github.com/oauthgate/oauthgate/internal/testproto/oauthgatetest/v1"
	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/verify"
)

// TestEval runs expressions over tokens and requests: each case compiles
// its expression as the only condition of UpdateDocument and evaluates it.
func TestEval(t *testing.T) {
	t.Parallel()
	k := newTokens(t)
	authTime := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	alice := k.claims(t, "acme", "alice", oauthtest.Token{Scopes: []string{"docs.write", "docs.read"}})
	admin := k.claims(t, "acme", "root", oauthtest.Token{Scopes: []string{"docs.write", "admin"}})
	bob := k.claims(t, "globex", "bob", oauthtest.Token{Scopes: []string{"docs.write"}})
	rich := k.claims(t, "acme", "carol", oauthtest.Token{
		Scopes:   []string{"docs.write"},
		ClientID: "app",
		Claims: map[string]any{
			"acr":       "urn:mfa",
			"amr":       []string{"pwd", "otp"},
			"auth_time": authTime.Unix(),
			"org":       "research",
			"level":     3,
			"groups":    []string{"eng", "ops"},
			"profile":   map[string]any{"team": "core"},
		},
	})
	mtls := k.claims(t, "acme", "svc", oauthtest.Token{Claims: map[string]any{"cnf": map[string]string{"x5t#S256": thumbprint("cert")}}})
	dpop := k.claims(t, "acme", "svc", oauthtest.Token{Claims: map[string]any{"cnf": map[string]string{"jkt": thumbprint("key")}}})

	own := &testpb.UpdateDocumentRequest{Tenant: "acme", Owner: "alice"}
	other := &testpb.UpdateDocumentRequest{Tenant: "acme", Owner: "bob"}
	full := &testpb.UpdateDocumentRequest{
		Tenant: "acme", Owner: "carol", Tags: []string{"draft", "eng"},
		Items:  []*testpb.Item{{Owner: "carol"}, {Owner: "carol", Text: "x"}},
		Labels: map[string]string{"env": "prod"}, Size: 7, Note: proto.String("n"),
		Main: &testpb.Item{Owner: "carol"}, Updated: timestamppb.New(authTime.Add(time.Hour)),
	}
	cert := &x509.Certificate{
		Subject:  pkix.Name{CommonName: "svc", Organization: []string{"acme"}},
		DNSNames: []string{"svc.acme.example"},
		URIs:     []*url.URL{{Scheme: "spiffe", Host: "acme.example", Path: "/svc"}},
	}

	const owner = "request.owner == token.sub || 'admin' in token.scopes"
	tests := map[string]struct {
		expr   string
		claims *verify.Claims
		req    *testpb.UpdateDocumentRequest
		cert   *x509.Certificate
		want   error // nil, ErrConditionFalse or ErrEvaluation
	}{
		// Recipes.
		"Owner":             {expr: owner, claims: alice, req: own},
		"NotOwner":          {expr: owner, claims: alice, req: other, want: conditions.ErrConditionFalse},
		"AdminOverride":     {expr: owner, claims: admin, req: other},
		"SameTenant":        {expr: "request.tenant == token.tenant", claims: alice, req: own},
		"OtherTenant":       {expr: "request.tenant == token.tenant", claims: bob, req: own, want: conditions.ErrConditionFalse},
		"TenantAndOwner":    {expr: "request.tenant == token.tenant && request.owner == token.sub", claims: alice, req: own},
		"EmptyTenantDenied": {expr: "request.tenant == token.tenant", claims: alice, req: &testpb.UpdateDocumentRequest{}, want: conditions.ErrConditionFalse},

		// Token variables.
		"ClientID":         {expr: "token.client_id == 'app'", claims: rich, req: full},
		"Issuer":           {expr: "token.issuer == 'https://idp.example/acme/'", claims: alice, req: own},
		"Audiences":        {expr: "'docs' in token.audiences && size(token.audiences) == 1", claims: alice, req: own},
		"ACR":              {expr: "token.acr == 'urn:mfa'", claims: rich, req: full},
		"AMR":              {expr: "'otp' in token.amr && token.amr.size() == 2", claims: rich, req: full},
		"AMRAbsent":        {expr: "token.amr == []", claims: alice, req: own},
		"AuthTime":         {expr: "token.auth_time == timestamp('2020-01-02T03:04:05Z')", claims: rich, req: full},
		"AuthTimeAbsent":   {expr: "token.auth_time == timestamp(0)", claims: alice, req: own},
		"AuthTimeVsReq":    {expr: "request.updated > token.auth_time", claims: rich, req: full},
		"BindingBearer":    {expr: "token.binding == ''", claims: alice, req: own},
		"BindingMTLS":      {expr: "token.binding == 'mtls'", claims: mtls, req: own},
		"BindingDPoP":      {expr: "token.binding == 'dpop'", claims: dpop, req: own},
		"ScopesIn":         {expr: "'docs.read' in token.scopes", claims: alice, req: own},
		"ScopesNotIn":      {expr: "'admin' in token.scopes", claims: alice, req: own, want: conditions.ErrConditionFalse},
		"ScopesSize":       {expr: "size(token.scopes) == 2", claims: alice, req: own},
		"ScopesSorted":     {expr: "token.scopes == ['docs.read', 'docs.write'] && token.scopes[0] == 'docs.read'", claims: alice, req: own},
		"ScopesEqualRev":   {expr: "['docs.read', 'docs.write'] == token.scopes", claims: alice, req: own},
		"ScopesConcat":     {expr: "(token.scopes + ['x']).size() == 3", claims: alice, req: own},
		"ScopesExists":     {expr: "token.scopes.exists(s, s.startsWith('docs.'))", claims: alice, req: own},
		"ScopesAll":        {expr: "token.scopes.all(s, s in ['docs.read', 'docs.write'])", claims: alice, req: own},
		"ScopesDynIn":      {expr: "dyn(1) in token.scopes", claims: alice, req: own, want: conditions.ErrConditionFalse},
		"RequestTagsInTok": {expr: "request.tags.all(t, t in ['draft', 'eng'])", claims: rich, req: full},

		// token.claims: the other claims, read-only.
		"ClaimString":       {expr: "token.claims.org == 'research'", claims: rich, req: full},
		"ClaimIndex":        {expr: "token.claims['org'] == 'research'", claims: rich, req: full},
		"ClaimNumber":       {expr: "token.claims.level == 3", claims: rich, req: full},
		"ClaimNumberDbl":    {expr: "token.claims.level == 3.0", claims: rich, req: full},
		"ClaimList":         {expr: "'ops' in token.claims.groups", claims: rich, req: full},
		"ClaimNested":       {expr: "token.claims.profile.team == 'core'", claims: rich, req: full},
		"ClaimHas":          {expr: "has(token.claims.org)", claims: rich, req: full},
		"ClaimHasNot":       {expr: "!has(token.claims.org)", claims: alice, req: own},
		"ClaimTid":          {expr: "token.claims.tid == token.tenant", claims: alice, req: own},
		"ClaimMissing":      {expr: "token.claims.org == 'research'", claims: alice, req: own, want: conditions.ErrEvaluation},
		"ClaimTypedLeft":    {expr: "has(token.claims.sub) || has(token.claims.scope) || has(token.claims.aud)", claims: alice, req: own, want: conditions.ErrConditionFalse},
		"ClaimWrongType":    {expr: "token.claims.org > 3", claims: rich, req: full, want: conditions.ErrEvaluation},
		"ClaimMissingGuard": {expr: "has(token.claims.org) && token.claims.org == 'x'", claims: alice, req: own, want: conditions.ErrConditionFalse},

		// The request.
		"HasOptional":    {expr: "has(request.note)", claims: rich, req: full},
		"HasOptionalNot": {expr: "has(request.note)", claims: alice, req: own, want: conditions.ErrConditionFalse},
		"HasMessage":     {expr: "has(request.main) && request.main.owner == token.sub", claims: rich, req: full},
		"UnsetMessage":   {expr: "request.main.owner == ''", claims: alice, req: own},
		"RepeatedAll":    {expr: "request.items.all(i, i.owner == token.sub)", claims: rich, req: full},
		"RepeatedAllNot": {expr: "request.items.all(i, i.owner == token.sub)", claims: alice, req: full, want: conditions.ErrConditionFalse},
		"RepeatedEmpty":  {expr: "request.items.all(i, i.owner == token.sub)", claims: alice, req: own},
		"TagIn":          {expr: "'draft' in request.tags", claims: alice, req: full},
		"Map":            {expr: "request.labels['env'] == 'prod' && 'env' in request.labels", claims: alice, req: full},
		"MapMissingKey":  {expr: "request.labels['team'] == 'x'", claims: alice, req: full, want: conditions.ErrEvaluation},
		"Int":            {expr: "request.size < 10", claims: alice, req: full},
		"Overflow":       {expr: "request.size + 9223372036854775807 > 0", claims: alice, req: full, want: conditions.ErrEvaluation},
		"DivideByZero":   {expr: "10 / (request.size - 7) > 0", claims: alice, req: full, want: conditions.ErrEvaluation},
		"Matches":        {expr: "request.owner.matches('^[a-z]+$')", claims: alice, req: own},

		// The call.
		"Method":           {expr: "call.method == '/oauthgatetest.v1.DocumentService/UpdateDocument'", claims: alice, req: own},
		"CertSubject":      {expr: "call.certificate.subject == 'CN=svc,O=acme'", claims: mtls, req: own, cert: cert},
		"CertDNS":          {expr: "'svc.acme.example' in call.certificate.dns_names", claims: mtls, req: own, cert: cert},
		"CertURI":          {expr: "call.certificate.uris == ['spiffe://acme.example/svc']", claims: mtls, req: own, cert: cert},
		"NoCert":           {expr: "call.certificate.subject == '' && call.certificate.dns_names == [] && call.certificate.uris == []", claims: alice, req: own},
		"NoCertNotTrusted": {expr: "'svc.acme.example' in call.certificate.dns_names", claims: alice, req: own, want: conditions.ErrConditionFalse},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m, err := compileOne(t, tc.expr)
			if err != nil {
				t.Fatalf("Compile(%q) = %v", tc.expr, err)
			}
			err = m.Eval(context.Background(), conditions.Input{Claims: tc.claims, Request: tc.req, Certificate: tc.cert})
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Eval(%q) = %v (cause %v), want nil", tc.expr, err, cause(err))
				}
				return
			}
			var de *conditions.DenyError
			if !errors.As(err, &de) || !errors.Is(err, tc.want) {
				t.Fatalf("Eval(%q) = %v (cause %v), want a *DenyError matching %v", tc.expr, err, cause(err), tc.want)
			}
			if de.Condition != "c" || de.Method != updateDocument {
				t.Errorf("DenyError = %+v, want condition c of %s", de, updateDocument)
			}
			if (de.Cause != nil) != errors.Is(err, conditions.ErrEvaluation) {
				t.Errorf("DenyError.Cause = %v for reason %v: want a cause exactly for evaluation errors", de.Cause, de.Reason)
			}
		})
	}
}

// thumbprint is a well-formed SHA-256 thumbprint, for cnf claims.
func thumbprint(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func cause(err error) error {
	var de *conditions.DenyError
	if errors.As(err, &de) {
		return de.Cause
	}
	return nil
}

// TestEvalPolicy evaluates the conditions of the test service's .proto
// file: service conditions inherited, method conditions replacing them,
// in declaration order, the first failing one named.
func TestEvalPolicy(t *testing.T) {
	t.Parallel()
	k := newTokens(t)
	ev, err := conditions.Compile(documentPolicy(t))
	if err != nil {
		t.Fatal(err)
	}
	if m := ev.For(ping); m != nil {
		t.Errorf("For(%s) = %v, want nil: Ping has no condition", ping, m)
	}
	if m := ev.For("/nope.S/M"); m != nil {
		t.Errorf("For(unknown) = %v, want nil", m)
	}
	alice := k.claims(t, "acme", "alice", oauthtest.Token{Scopes: []string{"docs.write"}})
	bob := k.claims(t, "globex", "bob", oauthtest.Token{Scopes: []string{"docs.write", "admin"}})
	tests := map[string]struct {
		method        string
		claims        *verify.Claims
		req           proto.Message
		wantCondition string // "" for allowed
	}{
		"GetOwnTenant":       {method: getDocument, claims: alice, req: &testpb.GetDocumentRequest{Tenant: "acme", Id: "1"}},
		"GetOtherTenant":     {method: getDocument, claims: bob, req: &testpb.GetDocumentRequest{Tenant: "acme", Id: "1"}, wantCondition: "tenant"},
		"UpdateOwn":          {method: updateDocument, claims: alice, req: &testpb.UpdateDocumentRequest{Tenant: "acme", Owner: "alice"}},
		"UpdateNotOwner":     {method: updateDocument, claims: alice, req: &testpb.UpdateDocumentRequest{Tenant: "acme", Owner: "bob"}, wantCondition: "owner"},
		"UpdateTenantFirst":  {method: updateDocument, claims: bob, req: &testpb.UpdateDocumentRequest{Tenant: "acme", Owner: "bob"}, wantCondition: "tenant"},
		"UpdateAdminOwnTen":  {method: updateDocument, claims: bob, req: &testpb.UpdateDocumentRequest{Tenant: "globex", Owner: "carol"}},
		"UploadReplacesSvc":  {method: uploadDocs, claims: bob, req: &testpb.UploadDocumentsRequest{Owner: "bob"}},
		"UploadNotOwner":     {method: uploadDocs, claims: bob, req: &testpb.UploadDocumentsRequest{Owner: "alice"}, wantCondition: "owner"},
		"WrongRequestType":   {method: getDocument, claims: alice, req: &testpb.UpdateDocumentRequest{Tenant: "acme"}, wantCondition: "tenant"},
		"RequestOfOtherFile": {method: getDocument, claims: alice, req: &testpb.GetBookRequest{Name: "acme"}, wantCondition: "tenant"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m := ev.For(tc.method)
			if m == nil {
				t.Fatalf("For(%s) = nil", tc.method)
			}
			err := m.Eval(context.Background(), conditions.Input{Claims: tc.claims, Request: tc.req})
			var de *conditions.DenyError
			switch {
			case tc.wantCondition == "" && err != nil:
				t.Fatalf("Eval() = %v (cause %v), want nil", err, cause(err))
			case tc.wantCondition != "" && (!errors.As(err, &de) || de.Condition != tc.wantCondition):
				t.Fatalf("Eval() = %v, want a denial by condition %s", err, tc.wantCondition)
			}
		})
	}
}

// TestEvalFailsClosed: whatever is missing or wrong in the input denies,
// as an evaluation error.
func TestEvalFailsClosed(t *testing.T) {
	t.Parallel()
	k := newTokens(t)
	claims := k.claims(t, "acme", "alice")
	m, err := compileOne(t, "true")
	if err != nil {
		t.Fatal(err)
	}
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	req := &testpb.UpdateDocumentRequest{}
	tests := map[string]struct {
		ctx context.Context
		in  conditions.Input
	}{
		"NoClaims":    {ctx: context.Background(), in: conditions.Input{Request: req}},
		"NoRequest":   {ctx: context.Background(), in: conditions.Input{Claims: claims}},
		"TypedNil":    {ctx: context.Background(), in: conditions.Input{Claims: claims, Request: (*testpb.UpdateDocumentRequest)(nil)}},
		"WrongType":   {ctx: context.Background(), in: conditions.Input{Claims: claims, Request: &testpb.GetDocumentRequest{}}},
		"CanceledCtx": {ctx: canceled, in: conditions.Input{Claims: claims, Request: req}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if err := m.Eval(tc.ctx, tc.in); !errors.Is(err, conditions.ErrEvaluation) {
				t.Fatalf("Eval() = %v, want ErrEvaluation", err)
			}
		})
	}
	if err := m.Eval(context.Background(), conditions.Input{Claims: claims, Request: req}); err != nil {
		t.Fatalf("Eval(complete input) = %v", err)
	}
	var none *conditions.Method
	if err := none.Eval(context.Background(), conditions.Input{}); err != nil {
		t.Errorf("(*Method)(nil).Eval() = %v, want nil: no conditions", err)
	}
}

// TestDenyErrorText: what may reach a client names the condition and a
// fixed reason, never request data or claim values; the cause, for the
// server's logs, says where the expression failed.
func TestDenyErrorText(t *testing.T) {
	t.Parallel()
	k := newTokens(t)
	claims := k.claims(t, "acme", "secret-subject", oauthtest.Token{Claims: map[string]any{"org": "secret-org"}})
	req := &testpb.UpdateDocumentRequest{Owner: "secret-owner", Labels: map[string]string{"k": "secret-label"}}
	tests := map[string]struct {
		expr, wantText, wantCause string
	}{
		"False":      {expr: "request.owner == token.sub", wantText: "conditions: condition c not met"},
		"MissingKey": {expr: "request.labels['nope'] == token.claims.org", wantText: "conditions: condition c could not be evaluated", wantCause: `expression "request.labels['nope'] == token.claims.org" 1:15: no such key: nope`},
		"Convert":    {expr: "int(request.owner) > 0", wantText: "conditions: condition c could not be evaluated", wantCause: "1:4"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m, err := compileOne(t, tc.expr)
			if err != nil {
				t.Fatal(err)
			}
			err = m.Eval(context.Background(), conditions.Input{Claims: claims, Request: req})
			if err == nil || err.Error() != tc.wantText {
				t.Fatalf("Eval().Error() = %v, want %q", err, tc.wantText)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("Error() = %q quotes request data or claims", err)
			}
			if c := cause(err); tc.wantCause != "" && (c == nil || !strings.Contains(c.Error(), tc.wantCause)) {
				t.Errorf("Cause = %v, want it to contain %q", c, tc.wantCause)
			}
		})
	}
}

// TestCostLimitAtRunTime: a condition that iterates over a repeated field
// of a hostile size stops at the cost limit and denies, instead of
// running to the end; within the estimate's assumptions it is allowed.
func TestCostLimitAtRunTime(t *testing.T) {
	t.Parallel()
	k := newTokens(t)
	claims := k.claims(t, "acme", "alice")
	m, err := compileOne(t, "request.items.all(i, i.owner == token.sub)")
	if err != nil {
		t.Fatal(err)
	}
	items := func(n int) *testpb.UpdateDocumentRequest {
		req := &testpb.UpdateDocumentRequest{}
		for range n {
			req.Items = append(req.Items, &testpb.Item{Owner: "alice"})
		}
		return req
	}
	if err := m.Eval(context.Background(), conditions.Input{Claims: claims, Request: items(100)}); err != nil {
		t.Fatalf("Eval(100 items) = %v (cause %v), want nil", err, cause(err))
	}
	err = m.Eval(context.Background(), conditions.Input{Claims: claims, Request: items(1_000_000)})
	if !errors.Is(err, conditions.ErrEvaluation) || !strings.Contains(cause(err).Error(), "cost limit") {
		t.Fatalf("Eval(1 000 000 items) = %v (cause %v), want ErrEvaluation for the cost limit", err, cause(err))
	}

	// A lower budget stops sooner.
	low, err := compileOne(t, "request.items.all(i, i.owner == token.sub)", conditions.WithCostLimit(11_000))
	if err != nil {
		t.Fatal(err)
	}
	if err := low.Eval(context.Background(), conditions.Input{Claims: claims, Request: items(10_000)}); !errors.Is(err, conditions.ErrEvaluation) {
		t.Fatalf("Eval(10 000 items, budget 11 000) = %v, want ErrEvaluation", err)
	}
}

// TestEvalConcurrent evaluates one Method from many goroutines, as a
// server does; run with -race.
func TestEvalConcurrent(t *testing.T) {
	t.Parallel()
	k := newTokens(t)
	alice := k.claims(t, "acme", "alice")
	bob := k.claims(t, "acme", "bob")
	m, err := compileOne(t, "request.owner == token.sub && call.method.endsWith('UpdateDocument')")
	if err != nil {
		t.Fatal(err)
	}
	req := &testpb.UpdateDocumentRequest{Owner: "alice"}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			claims, want := alice, error(nil)
			if i%2 == 1 {
				claims, want = bob, conditions.ErrConditionFalse
			}
			for range 200 {
				if err := m.Eval(context.Background(), conditions.Input{Claims: claims, Request: req}); !errors.Is(err, want) && err != want {
					t.Errorf("Eval() = %v, want %v", err, want)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestEval_NoLoopNoCostLimit: a condition without a loop is not cost
// tracked (doc.go): membership in a repeated field far longer than the
// estimate assumed is answered, linear in the field, and not refused by
// the run-time limit that only loops get.
func TestEval_NoLoopNoCostLimit(t *testing.T) {
	t.Parallel()
	k := newTokens(t)
	claims := k.claims(t, "acme", "alice")
	m, err := compileOne(t, "'needle' in request.tags", conditions.WithCostLimit(1_000))
	if err != nil {
		t.Fatal(err)
	}
	tags := make([]string, 200_000)
	for i := range tags {
		tags[i] = "hay"
	}
	tags[len(tags)-1] = "needle"
	if err := m.Eval(context.Background(), conditions.Input{Claims: claims, Request: &testpb.UpdateDocumentRequest{Tags: tags}}); err != nil {
		t.Fatalf("Eval(200 000 tags) = %v, want nil", err)
	}
}
