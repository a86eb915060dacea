package reports

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/oauthgate/oauthgate/examples/reports/reportsv1"
	"github.com/oauthgate/oauthgate/interceptor"
	"github.com/oauthgate/oauthgate/verify"
)

func claims(t *testing.T, sub string, scope ...string) *verify.Claims {
	t.Helper()
	raw, err := json.Marshal(map[string]any{"sub": sub, "scope": strings.Join(scope, " ")})
	if err != nil {
		t.Fatal(err)
	}
	c, err := verify.ParseClaims(raw)
	if err != nil {
		t.Fatalf("verify.ParseClaims() error = %v", err)
	}
	return c
}

func TestService_Authorize(t *testing.T) {
	t.Parallel()
	svc, err := NewService(DemoReports()...)
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		claims  *verify.Claims
		req     any
		wantErr bool
	}{
		"Owner":          {claims(t, SubjectAlice, ScopeRead), &reportsv1.GetReportRequest{Owner: SubjectAlice, Id: "r-1"}, false},
		"OtherUser":      {claims(t, SubjectAlice, ScopeRead), &reportsv1.GetReportRequest{Owner: SubjectBob, Id: "r-3"}, true},
		"Admin":          {claims(t, "root", ScopeAdmin), &reportsv1.GetReportRequest{Owner: SubjectBob, Id: "r-3"}, false},
		"UnknownID":      {claims(t, SubjectAlice, ScopeRead), &reportsv1.GetReportRequest{Owner: SubjectAlice, Id: "r-9"}, true},
		"UnknownIDAdmin": {claims(t, "root", ScopeAdmin), &reportsv1.GetReportRequest{Owner: SubjectAlice, Id: "r-9"}, false},
		"EmptySubject":   {claims(t, "", ScopeRead), &reportsv1.GetReportRequest{Id: "r-1"}, true},
		"OtherRequest":   {claims(t, SubjectAlice, ScopeWrite), &reportsv1.CreateReportRequest{}, false},
		"StreamStart":    {claims(t, SubjectAlice, ScopeRead), nil, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := svc.Authorize(context.Background(), interceptor.Call{Method: "/m", Claims: tc.claims, Request: tc.req})
			var de *interceptor.DenyError
			if gotErr := err != nil; gotErr != tc.wantErr {
				t.Fatalf("Authorize() = %v, want error %v", err, tc.wantErr)
			}
			if err != nil && (!errors.As(err, &de) || de.Reason != ReasonNotOwner) {
				t.Errorf("Authorize() = %v, want a *DenyError with reason %s", err, ReasonNotOwner)
			}
		})
	}
}

// TestService_FailsClosed calls handlers without the interceptor: no
// claims, no data.
func TestService_FailsClosed(t *testing.T) {
	t.Parallel()
	svc, err := NewService(DemoReports()...)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := svc.GetReport(ctx, &reportsv1.GetReportRequest{Owner: SubjectAlice, Id: "r-1"}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("GetReport() without claims error = %v, want Unauthenticated", err)
	}
	if _, err := svc.CreateReport(ctx, &reportsv1.CreateReportRequest{Title: "t"}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("CreateReport() without claims error = %v, want Unauthenticated", err)
	}
	if _, err := svc.DeleteReport(ctx, &reportsv1.DeleteReportRequest{Id: "r-1"}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("DeleteReport() without claims error = %v, want Unauthenticated", err)
	}
	// Without the hook, the handler still refuses another user's report.
	alice := interceptor.NewContext(ctx, claims(t, SubjectAlice, ScopeRead))
	if _, err := svc.GetReport(alice, &reportsv1.GetReportRequest{Owner: SubjectBob, Id: "r-3"}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("GetReport(bob/r-3) as alice error = %v, want PermissionDenied", err)
	}
}

func TestNewService(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		seed    []*reportsv1.Report
		wantErr bool
		nextID  string
	}{
		"Empty":     {nil, false, "r-1"},
		"Demo":      {DemoReports(), false, "r-4"},
		"Gap":       {[]*reportsv1.Report{{Id: "r-7", Owner: "a"}, {Id: "other", Owner: "a"}}, false, "r-8"},
		"NoID":      {[]*reportsv1.Report{{Owner: "a"}}, true, ""},
		"NoOwner":   {[]*reportsv1.Report{{Id: "r-1"}}, true, ""},
		"Duplicate": {[]*reportsv1.Report{{Id: "r-1", Owner: "a"}, {Id: "r-1", Owner: "b"}}, true, ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			svc, err := NewService(tc.seed...)
			if (err != nil) != tc.wantErr {
				t.Fatalf("NewService() error = %v, want error %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			r, err := svc.add("z", "title", "")
			if err != nil || r.GetId() != tc.nextID {
				t.Errorf("add() = %v, %v, want id %s", r, err, tc.nextID)
			}
		})
	}
}

func TestService_AddLimits(t *testing.T) {
	t.Parallel()
	svc, err := NewService()
	if err != nil {
		t.Fatal(err)
	}
	long := string(make([]byte, MaxTitleSize+1))
	tests := map[string]struct {
		title, body string
		want        codes.Code
	}{
		"OK":           {"t", "b", codes.OK},
		"EmptyTitle":   {"", "b", codes.InvalidArgument},
		"LongTitle":    {long, "", codes.InvalidArgument},
		"LongBody":     {"t", string(make([]byte, MaxBodySize+1)), codes.InvalidArgument},
		"InvalidUTF8":  {"\xff", "", codes.InvalidArgument},
		"MaxSizeTitle": {long[:MaxTitleSize], "", codes.OK},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if _, err := svc.add("o", tc.title, tc.body); status.Code(err) != tc.want {
				t.Errorf("add() error = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestService_StoreFull(t *testing.T) {
	t.Parallel()
	svc, err := NewService()
	if err != nil {
		t.Fatal(err)
	}
	for i := range MaxReports {
		if _, err := svc.add("o", "t", ""); err != nil {
			t.Fatalf("add() #%d error = %v", i+1, err)
		}
	}
	if _, err := svc.add("o", "t", ""); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("add() beyond MaxReports error = %v, want ResourceExhausted", err)
	}
}
