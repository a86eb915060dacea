package reports_test

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/oauthgate/oauthgate/examples/reports"
	"github.com/oauthgate/oauthgate/examples/reports/reportsv1"
	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/resource"
	"github.com/oauthgate/oauthgate/verify"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

const defaultTestTimeout = 10 * time.Second

// serve starts NewServer with a JWT verifier for iss on 127.0.0.1 and
// returns a client; both stop when the test ends.
func serve(t *testing.T, iss *oauthtest.Issuer, opts ...reports.Option) *grpc.ClientConn {
	t.Helper()
	return serveLeeway(t, iss, 0, opts...)
}

// serveLeeway is serve with the verifier's JWTConfig.Leeway set.
func serveLeeway(t *testing.T, iss *oauthtest.Issuer, leeway time.Duration, opts ...reports.Option) *grpc.ClientConn {
	t.Helper()
	srv, err := reports.NewServer(newJWT(t, iss, leeway), opts...)
	if err != nil {
		t.Fatalf("NewServer() error = %v", err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("Listen() error = %v", err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("NewClient() error = %v", err)
	}
	t.Cleanup(func() {
		_ = conn.Close()
		srv.Stop()
		if err := <-served; err != nil {
			t.Errorf("Serve() error = %v", err)
		}
	})
	return conn
}

// newJWT returns a verifier of iss's tokens for oauthtest.DefaultAudience.
func newJWT(t *testing.T, iss *oauthtest.Issuer, leeway time.Duration) *verify.JWT {
	t.Helper()
	keys, err := verify.NewStaticKeySet(iss.JWKS().Keys...)
	if err != nil {
		t.Fatalf("NewStaticKeySet() error = %v", err)
	}
	jwt, err := verify.NewJWT(keys, verify.JWTConfig{Issuer: iss.URL, Audiences: []string{oauthtest.DefaultAudience}, Leeway: leeway})
	if err != nil {
		t.Fatalf("NewJWT() error = %v", err)
	}
	return jwt
}

// reason returns the ErrorInfo reason of err, followed by " condition=" and
// the condition's name for a CONDITION_NOT_MET denial.
func reason(err error) string {
	for _, d := range status.Convert(err).Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			if c, ok := info.GetMetadata()["condition"]; ok {
				return info.GetReason() + " condition=" + c
			}
			return info.GetReason()
		}
	}
	return ""
}

// newMetadata returns the protected resource metadata of the report
// service as https://reports.example.com.
func newMetadata(t *testing.T) *resource.Metadata {
	t.Helper()
	policy, err := reports.NewPolicy()
	if err != nil {
		t.Fatal(err)
	}
	meta, err := resource.New(resource.Config{Resource: "https://reports.example.com",
		AuthorizationServers: []string{"https://auth.example.com"}, Policy: policy})
	if err != nil {
		t.Fatal(err)
	}
	return meta
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	t.Cleanup(cancel)
	return ctx
}

// TestNewServer_Wiring checks that every RPC of the server NewServer builds
// (reports, health, reflection, resource metadata) passes through
// oauthgate, unary and streaming alike.
func TestNewServer_Wiring(t *testing.T) {
	t.Parallel()
	iss := oauthtest.NewIssuer(t)
	policy, err := reports.NewPolicy()
	if err != nil {
		t.Fatal(err)
	}
	meta := newMetadata(t)
	tests := map[string][]reports.Option{
		"Default":          nil,
		"ResourceMetadata": {reports.WithResourceMetadata(meta)},
	}
	for name, opts := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv, err := reports.NewServer(newJWT(t, iss, 0), opts...)
			if err != nil {
				t.Fatal(err)
			}
			oauthtest.CheckWiring(t, srv, policy, iss)
		})
	}
}

func TestNewServer_Rules(t *testing.T) {
	t.Parallel()
	const ownerNotMet = "CONDITION_NOT_MET condition=owner"
	iss := oauthtest.NewIssuer(t)
	conn := serve(t, iss)
	client := reportsv1.NewReportServiceClient(conn)
	token := func(sub string, scopes ...string) string {
		return iss.Token(t, oauthtest.Token{Subject: sub, Scopes: scopes})
	}
	// mfa is a token whose user signed in with MFA a minute ago: what
	// DeleteReport's step-up rule asks for.
	mfa := func(sub string, age time.Duration, scopes ...string) string {
		return iss.Token(t, oauthtest.Token{
			Subject: sub,
			Scopes:  scopes,
			Claims: map[string]any{
				"acr":       reports.ACRMultiFactor,
				"auth_time": time.Now().Add(-age).Unix(),
			},
		})
	}
	get := func(owner, id string) func(context.Context, ...grpc.CallOption) error {
		return func(ctx context.Context, o ...grpc.CallOption) error {
			_, err := client.GetReport(ctx, &reportsv1.GetReportRequest{Owner: owner, Id: id}, o...)
			return err
		}
	}
	del := func(id string) func(context.Context, ...grpc.CallOption) error {
		return func(ctx context.Context, o ...grpc.CallOption) error {
			_, err := client.DeleteReport(ctx, &reportsv1.DeleteReportRequest{Id: id}, o...)
			return err
		}
	}
	tests := map[string]struct {
		token      string
		call       func(context.Context, ...grpc.CallOption) error
		wantCode   codes.Code
		wantReason string
	}{
		"GetNoToken":   {"", get(reports.SubjectAlice, "r-1"), codes.Unauthenticated, "MISSING_TOKEN"},
		"GetOwner":     {token(reports.SubjectAlice, reports.ScopeRead), get(reports.SubjectAlice, "r-1"), codes.OK, ""},
		"GetWriteOnly": {token(reports.SubjectAlice, reports.ScopeWrite), get(reports.SubjectAlice, "r-1"), codes.PermissionDenied, "INSUFFICIENT_SCOPE"},
		// The owner condition is decided on the request alone, before
		// the store is read: another owner's ids, existing or not, get
		// the same denial; the owner's own unknown ids and the ids of
		// other owners get the same NotFound.
		"GetOtherOwner":          {token(reports.SubjectAlice, reports.ScopeRead), get(reports.SubjectBob, "r-3"), codes.PermissionDenied, ownerNotMet},
		"GetOtherOwnerUnknownID": {token(reports.SubjectAlice, reports.ScopeRead), get(reports.SubjectBob, "r-999"), codes.PermissionDenied, ownerNotMet},
		"GetOtherOwnersID":       {token(reports.SubjectAlice, reports.ScopeRead), get(reports.SubjectAlice, "r-3"), codes.NotFound, ""},
		"GetUnknownID":           {token(reports.SubjectAlice, reports.ScopeRead), get(reports.SubjectAlice, "r-999"), codes.NotFound, ""},
		"GetNoSubject":           {token("", reports.ScopeRead), get("", "r-1"), codes.PermissionDenied, ownerNotMet},
		"GetAdmin":               {token("root", reports.ScopeAdmin), get(reports.SubjectBob, "r-3"), codes.OK, ""},
		"GetAdminAndRead":        {token("root", reports.ScopeRead, reports.ScopeAdmin), get(reports.SubjectBob, "r-3"), codes.OK, ""},
		"GetAdminOtherOwnersID":  {token("root", reports.ScopeAdmin), get(reports.SubjectAlice, "r-3"), codes.NotFound, ""},
		"GetAdminUnknownID":      {token("root", reports.ScopeAdmin), get(reports.SubjectAlice, "r-999"), codes.NotFound, ""},
		"DeleteWriteOnly":        {token("root", reports.ScopeWrite), del("r-2"), codes.PermissionDenied, "INSUFFICIENT_SCOPE"},
		"DeleteAdminOnly":        {token("root", reports.ScopeAdmin), del("r-2"), codes.PermissionDenied, "INSUFFICIENT_SCOPE"},
		"DeleteUnknown":          {mfa("root", time.Minute, reports.ScopeWrite, reports.ScopeAdmin), del("r-999"), codes.NotFound, ""},
		"DeleteWithoutMFA":       {token("root", reports.ScopeWrite, reports.ScopeAdmin), del("r-2"), codes.Unauthenticated, "INSUFFICIENT_USER_AUTHENTICATION"},
		"DeleteStaleMFA":         {mfa("root", 10*time.Minute, reports.ScopeWrite, reports.ScopeAdmin), del("r-2"), codes.Unauthenticated, "INSUFFICIENT_USER_AUTHENTICATION"},
		"DeleteMFANoScope":       {mfa("root", time.Minute, reports.ScopeWrite), del("r-2"), codes.PermissionDenied, "INSUFFICIENT_SCOPE"},
		"InfoNoToken": {"", func(ctx context.Context, o ...grpc.CallOption) error {
			_, err := client.GetServerInfo(ctx, &reportsv1.GetServerInfoRequest{}, o...)
			return err
		}, codes.OK, ""},
		"HealthNoToken": {"", func(ctx context.Context, o ...grpc.CallOption) error {
			_, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}, o...)
			return err
		}, codes.OK, ""},
		"CreateNoSub": {iss.Token(t, oauthtest.Token{Claims: map[string]any{"sub": nil}, Scopes: []string{reports.ScopeWrite}}), func(ctx context.Context, o ...grpc.CallOption) error {
			_, err := client.CreateReport(ctx, &reportsv1.CreateReportRequest{Title: "t"}, o...)
			return err
		}, codes.FailedPrecondition, ""},
		"CreateNoTitle": {token(reports.SubjectAlice, reports.ScopeWrite), func(ctx context.Context, o ...grpc.CallOption) error {
			_, err := client.CreateReport(ctx, &reportsv1.CreateReportRequest{}, o...)
			return err
		}, codes.InvalidArgument, ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var opts []grpc.CallOption
			if tc.token != "" {
				opts = append(opts, oauthtest.Bearer(tc.token))
			}
			err := tc.call(testContext(t), opts...)
			if got := status.Code(err); got != tc.wantCode || reason(err) != tc.wantReason {
				t.Errorf("call = %v, %q (%v), want %v, %q", got, reason(err), err, tc.wantCode, tc.wantReason)
			}
		})
	}
}

func TestService_CreateListDelete(t *testing.T) {
	t.Parallel()
	iss := oauthtest.NewIssuer(t)
	client := reportsv1.NewReportServiceClient(serve(t, iss))
	ctx := testContext(t)
	carolWrite := oauthtest.Bearer(iss.Token(t, oauthtest.Token{Subject: "carol", Scopes: []string{reports.ScopeWrite}}))
	carolRead := oauthtest.Bearer(iss.Token(t, oauthtest.Token{Subject: "carol", Scopes: []string{reports.ScopeRead}}))
	admin := oauthtest.Bearer(iss.Token(t, oauthtest.Token{
		Subject: "root",
		Scopes:  []string{reports.ScopeRead, reports.ScopeWrite, reports.ScopeAdmin},
		Claims: map[string]any{
			"acr":       reports.ACRMultiFactor,
			"auth_time": time.Now().Unix(),
		},
	}))

	created, err := client.CreateReport(ctx, &reportsv1.CreateReportRequest{Title: "one"}, carolWrite)
	if err != nil {
		t.Fatalf("CreateReport() error = %v", err)
	}
	if got := created.GetReport(); got.GetId() != "r-4" || got.GetOwner() != "carol" {
		t.Errorf("CreateReport() = %v, want id r-4 owned by carol", got)
	}
	up, err := client.UploadReports(ctx, carolWrite)
	if err != nil {
		t.Fatalf("UploadReports() error = %v", err)
	}
	for _, title := range []string{"two", "three"} {
		if err := up.Send(&reportsv1.UploadReportsRequest{Title: title}); err != nil {
			t.Fatalf("Send() error = %v", err)
		}
	}
	resp, err := up.CloseAndRecv()
	if err != nil || len(resp.GetIds()) != 2 || resp.GetIds()[0] != "r-5" || resp.GetIds()[1] != "r-6" {
		t.Fatalf("UploadReports() = %v, %v, want ids r-5 r-6", resp.GetIds(), err)
	}

	list := func(md grpc.CallOption, req *reportsv1.ListReportsRequest) ([]string, error) {
		stream, err := client.ListReports(ctx, req, md)
		if err != nil {
			return nil, err
		}
		var ids []string
		for {
			m, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				return ids, nil
			}
			if err != nil {
				return ids, err
			}
			ids = append(ids, m.GetReport().GetId())
		}
	}
	tests := map[string]struct {
		md       grpc.CallOption
		req      *reportsv1.ListReportsRequest
		want     []string
		wantCode codes.Code
	}{
		"Own":             {carolRead, &reportsv1.ListReportsRequest{}, []string{"r-4", "r-5", "r-6"}, codes.OK},
		"Limit":           {carolRead, &reportsv1.ListReportsRequest{Limit: 2, IntervalMs: 10}, []string{"r-4", "r-5"}, codes.OK},
		"AdminAll":        {admin, &reportsv1.ListReportsRequest{Limit: 4}, []string{"r-1", "r-2", "r-3", "r-4"}, codes.OK},
		"IntervalTooLong": {carolRead, &reportsv1.ListReportsRequest{IntervalMs: 1001}, nil, codes.InvalidArgument},
		"NegativeLimit":   {carolRead, &reportsv1.ListReportsRequest{Limit: -1}, nil, codes.InvalidArgument},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := list(tc.md, tc.req)
			if status.Code(err) != tc.wantCode || !equal(got, tc.want) {
				t.Errorf("ListReports(%v) = %v, %v, want %v, %v", tc.req, got, err, tc.want, tc.wantCode)
			}
		})
	}

	if _, err := client.DeleteReport(ctx, &reportsv1.DeleteReportRequest{Id: "r-5"}, admin); err != nil {
		t.Fatalf("DeleteReport() error = %v", err)
	}
	if got, err := list(carolRead, &reportsv1.ListReportsRequest{}); err != nil || !equal(got, []string{"r-4", "r-6"}) {
		t.Errorf("ListReports() after delete = %v, %v, want [r-4 r-6]", got, err)
	}
}

// TestService_StreamEndsAtExpiry checks the handler honours its context: a
// token that expires mid-stream ends ListReports with Unauthenticated.
func TestService_StreamEndsAtExpiry(t *testing.T) {
	t.Parallel()
	iss := oauthtest.NewIssuer(t)
	// The stream ends at exp plus the leeway, as unary calls do.
	client := reportsv1.NewReportServiceClient(serveLeeway(t, iss, time.Millisecond))
	ctx := testContext(t)
	// exp lies 0.3–1.3 s ahead; three messages at 1 s intervals take 2 s.
	exp := time.Now().Add(300 * time.Millisecond).Truncate(time.Second).Add(time.Second)
	tok := iss.Token(t, oauthtest.Token{Subject: "root", Scopes: []string{reports.ScopeRead, reports.ScopeAdmin}, Expiry: exp})
	stream, err := client.ListReports(ctx, &reportsv1.ListReportsRequest{IntervalMs: 1000}, oauthtest.Bearer(tok))
	if err != nil {
		t.Fatalf("ListReports() error = %v", err)
	}
	n := 0
	for {
		if _, err = stream.Recv(); err != nil {
			break
		}
		n++
	}
	if status.Code(err) != codes.Unauthenticated || n == 0 || n == 3 {
		t.Errorf("ListReports() got %d messages, then %v; want 1 or 2, then Unauthenticated", n, err)
	}
}

func TestService_ConcurrentCreate(t *testing.T) {
	t.Parallel()
	iss := oauthtest.NewIssuer(t)
	client := reportsv1.NewReportServiceClient(serve(t, iss))
	ctx := testContext(t)
	write := oauthtest.Bearer(iss.Token(t, oauthtest.Token{Subject: "dave", Scopes: []string{reports.ScopeWrite}}))
	const n = 50
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		ids = map[string]bool{}
	)
	for range n {
		wg.Go(func() {
			resp, err := client.CreateReport(ctx, &reportsv1.CreateReportRequest{Title: "x"}, write)
			if err != nil {
				t.Errorf("CreateReport() error = %v", err)
				return
			}
			mu.Lock()
			ids[resp.GetReport().GetId()] = true
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(ids) != n {
		t.Errorf("%d concurrent CreateReport calls got %d distinct ids, want %d", n, len(ids), n)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
