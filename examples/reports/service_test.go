package reports

import (
	"context"
	"encoding/json"
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

// TestService_GetReport calls the handler without the interceptor: it
// checks the owner condition itself, and answers NotFound alike for an id
// that does not exist and for another owner's.
func TestService_GetReport(t *testing.T) {
	t.Parallel()
	svc, err := NewService(DemoReports()...)
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		claims *verify.Claims
		owner  string
		id     string
		want   codes.Code
	}{
		"Owner":               {claims(t, SubjectAlice, ScopeRead), SubjectAlice, "r-1", codes.OK},
		"OtherOwner":          {claims(t, SubjectAlice, ScopeRead), SubjectBob, "r-3", codes.PermissionDenied},
		"OtherOwnerUnknownID": {claims(t, SubjectAlice, ScopeRead), SubjectBob, "r-9", codes.PermissionDenied},
		"OtherOwnersID":       {claims(t, SubjectAlice, ScopeRead), SubjectAlice, "r-3", codes.NotFound},
		"UnknownID":           {claims(t, SubjectAlice, ScopeRead), SubjectAlice, "r-9", codes.NotFound},
		"Admin":               {claims(t, "root", ScopeAdmin), SubjectBob, "r-3", codes.OK},
		"AdminOtherOwnersID":  {claims(t, "root", ScopeAdmin), SubjectAlice, "r-3", codes.NotFound},
		"EmptySubject":        {claims(t, "", ScopeRead), "", "r-1", codes.PermissionDenied},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := interceptor.NewContext(context.Background(), tc.claims)
			resp, err := svc.GetReport(ctx, &reportsv1.GetReportRequest{Owner: tc.owner, Id: tc.id})
			if got := status.Code(err); got != tc.want {
				t.Fatalf("GetReport(%s/%s) error = %v, want %v", tc.owner, tc.id, err, tc.want)
			}
			if err == nil && (resp.GetReport().GetId() != tc.id || resp.GetReport().GetOwner() != tc.owner) {
				t.Errorf("GetReport(%s/%s) = %v", tc.owner, tc.id, resp.GetReport())
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
