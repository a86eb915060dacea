package reports

import (
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/oauthgate/oauthgate/examples/reports/reportsv1"
	"github.com/oauthgate/oauthgate/interceptor"
	"github.com/oauthgate/oauthgate/verify"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Scopes the service's rules and handlers use. The rules themselves live in
// reports.proto; these constants are for code that mints or checks tokens.
const (
	// ScopeRead lets a token read and list its owner's reports.
	ScopeRead = "read:reports"
	// ScopeWrite lets a token create reports.
	ScopeWrite = "write:reports"
	// ScopeAdmin lets a token read, list and (with ScopeWrite) delete every
	// report.
	ScopeAdmin = "admin"
)

// ACRMultiFactor is the authentication context class DeleteReport requires
// (with an authentication at most five minutes old), as reports.proto
// declares: a step-up requirement (RFC 9470).
const ACRMultiFactor = "urn:example:mfa"

// Subjects that own the reports of [DemoReports].
const (
	// SubjectAlice owns reports r-1 and r-2.
	SubjectAlice = "alice"
	// SubjectBob owns report r-3.
	SubjectBob = "bob"
)

// Limits that keep one caller from exhausting the in-memory store.
const (
	// MaxTitleSize is the largest title, in bytes.
	MaxTitleSize = 200
	// MaxBodySize is the largest body, in bytes.
	MaxBodySize = 4 << 10
	// MaxReports is the most reports the store holds.
	MaxReports = 10_000
	// MaxInterval is the largest ListReportsRequest.interval_ms.
	MaxInterval = time.Second
)

// What GetServerInfo reports.
const (
	// Name is the server's name.
	Name = "oauthgate-reports"
	// Version is the server's version.
	Version = "v1"
)

// DemoReports returns fresh copies of the reports the demo and the
// standalone server start with: r-1 and r-2 owned by [SubjectAlice], r-3
// owned by [SubjectBob].
func DemoReports() []*reportsv1.Report {
	return []*reportsv1.Report{
		{Id: "r-1", Owner: SubjectAlice, Title: "Q1 sales", Body: "Up 4% on Q4."},
		{Id: "r-2", Owner: SubjectAlice, Title: "Q2 sales", Body: "Flat."},
		{Id: "r-3", Owner: SubjectBob, Title: "Salaries", Body: "Confidential."},
	}
}

// Service implements reportsv1.ReportServiceServer over an in-memory store;
// [NewConnectHandler] serves it with connect-go too. The caller's sub claim
// owns the reports it creates. It is safe for concurrent use. Create one
// with [NewService].
type Service struct {
	reportsv1.UnimplementedReportServiceServer

	mu      sync.RWMutex
	reports map[string]*reportsv1.Report // by id; never modified once stored
	order   []string                     // ids in creation order
	next    int                          // last number used in an id
}

// NewService returns a Service holding copies of seed, which keep their ids
// and owners; [DemoReports] is a ready-made seed. New reports get ids
// "r-<n>" that do not clash with the seed's. It fails on a seed report
// without id or owner, or with a duplicate id.
func NewService(seed ...*reportsv1.Report) (*Service, error) {
	s := &Service{reports: make(map[string]*reportsv1.Report, len(seed))}
	for _, r := range seed {
		switch {
		case r.GetId() == "" || r.GetOwner() == "":
			return nil, errors.New("reports: seed report needs an id and an owner")
		case s.reports[r.GetId()] != nil:
			return nil, errors.New("reports: duplicate seed report id " + strconv.Quote(r.GetId()))
		}
		s.storeLocked(proto.CloneOf(r))
	}
	return s, nil
}

// GetReport returns the report with the request's id if it belongs to the
// request's owner, and NotFound otherwise, whether no report has that id
// or another owner's has: a reader learns nothing of other owners' ids.
//
// Who may read an owner's reports is the owner condition of GetReport's
// rule in reports.proto: the owner, or a token with the admin scope. The
// interceptor evaluates it before the handler runs, on the request alone,
// so its denial cannot reveal which ids exist either. The handler checks
// it again, before reading the store, so that it is safe behind a policy
// without the condition.
func (s *Service) GetReport(ctx context.Context, req *reportsv1.GetReportRequest) (*reportsv1.GetReportResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if !mayRead(c, req.GetOwner()) {
		return nil, status.Error(codes.PermissionDenied, "only the owner of a report or an admin may read it")
	}
	s.mu.RLock()
	r, ok := s.reports[req.GetId()]
	s.mu.RUnlock()
	if !ok || r.GetOwner() != req.GetOwner() {
		return nil, status.Error(codes.NotFound, "no such report")
	}
	return &reportsv1.GetReportResponse{Report: proto.CloneOf(r)}, nil
}

// ListReports streams the caller's reports in creation order, or every
// report for an admin token, pausing interval_ms between two messages. It
// stops early when the stream's context ends, as it does when the token
// expires.
func (s *Service) ListReports(req *reportsv1.ListReportsRequest, stream grpc.ServerStreamingServer[reportsv1.ListReportsResponse]) error {
	return s.listReports(stream.Context(), req, stream.Send)
}

// listReports is ListReports over any transport: send sends one message.
func (s *Service) listReports(ctx context.Context, req *reportsv1.ListReportsRequest, send func(*reportsv1.ListReportsResponse) error) error {
	c, err := caller(ctx)
	if err != nil {
		return err
	}
	interval := time.Duration(req.GetIntervalMs()) * time.Millisecond
	if req.GetLimit() < 0 || interval < 0 || interval > MaxInterval {
		return status.Errorf(codes.InvalidArgument, "limit must be ≥ 0 and interval_ms in [0, %d]", MaxInterval.Milliseconds())
	}
	var list []*reportsv1.Report
	s.mu.RLock()
	for _, id := range s.order {
		if r := s.reports[id]; mayList(c, r.GetOwner()) {
			list = append(list, r) // stored reports are never modified
		}
	}
	s.mu.RUnlock()
	if n := int(req.GetLimit()); n > 0 && n < len(list) {
		list = list[:n]
	}

	var timer *time.Timer
	for i, r := range list {
		if i > 0 && interval > 0 {
			if timer == nil {
				timer = time.NewTimer(interval)
				defer timer.Stop()
			} else {
				timer.Reset(interval)
			}
			select {
			case <-timer.C:
			case <-ctx.Done():
				return status.FromContextError(ctx.Err()).Err()
			}
		}
		if err := send(&reportsv1.ListReportsResponse{Report: r}); err != nil {
			return err
		}
	}
	return nil
}

// CreateReport stores a report owned by the caller's sub.
func (s *Service) CreateReport(ctx context.Context, req *reportsv1.CreateReportRequest) (*reportsv1.CreateReportResponse, error) {
	c, err := owner(ctx)
	if err != nil {
		return nil, err
	}
	r, err := s.add(c.Subject(), req.GetTitle(), req.GetBody())
	if err != nil {
		return nil, err
	}
	return &reportsv1.CreateReportResponse{Report: r}, nil
}

// UploadReports stores every report of the stream, owned by the caller's
// sub, and answers with their ids once the client closes its side. Reports
// received before an error stay stored.
func (s *Service) UploadReports(stream grpc.ClientStreamingServer[reportsv1.UploadReportsRequest, reportsv1.UploadReportsResponse]) error {
	res, err := s.uploadReports(stream.Context(), stream.Recv)
	if err != nil {
		return err
	}
	return stream.SendAndClose(res)
}

// uploadReports is UploadReports over any transport: recv returns the next
// message, or io.EOF once the client has closed its side.
func (s *Service) uploadReports(ctx context.Context, recv func() (*reportsv1.UploadReportsRequest, error)) (*reportsv1.UploadReportsResponse, error) {
	c, err := owner(ctx)
	if err != nil {
		return nil, err
	}
	var ids []string
	for {
		req, err := recv()
		if errors.Is(err, io.EOF) {
			return &reportsv1.UploadReportsResponse{Ids: ids}, nil
		}
		if err != nil {
			return nil, err
		}
		r, err := s.add(c.Subject(), req.GetTitle(), req.GetBody())
		if err != nil {
			return nil, err
		}
		ids = append(ids, r.GetId())
	}
}

// DeleteReport removes a report. Its rule (write:reports AND admin) already
// restricts it to administrators.
func (s *Service) DeleteReport(ctx context.Context, req *reportsv1.DeleteReportRequest) (*reportsv1.DeleteReportResponse, error) {
	if _, err := caller(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.reports[req.GetId()]; !ok {
		return nil, status.Error(codes.NotFound, "no such report")
	}
	delete(s.reports, req.GetId())
	for i, id := range s.order {
		if id == req.GetId() {
			s.order = append(s.order[:i], s.order[i+1:]...)
			break
		}
	}
	return &reportsv1.DeleteReportResponse{}, nil
}

// GetServerInfo describes the server. It is public: it reads no claims.
func (s *Service) GetServerInfo(context.Context, *reportsv1.GetServerInfoRequest) (*reportsv1.GetServerInfoResponse, error) {
	return &reportsv1.GetServerInfoResponse{Name: Name, Version: Version}, nil
}

// add validates and stores a new report, returning a copy.
func (s *Service) add(owner, title, body string) (*reportsv1.Report, error) {
	switch {
	case title == "" || len(title) > MaxTitleSize || !utf8.ValidString(title):
		return nil, status.Errorf(codes.InvalidArgument, "title must be 1 to %d bytes of UTF-8", MaxTitleSize)
	case len(body) > MaxBodySize || !utf8.ValidString(body):
		return nil, status.Errorf(codes.InvalidArgument, "body must be at most %d bytes of UTF-8", MaxBodySize)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.reports) >= MaxReports {
		return nil, status.Error(codes.ResourceExhausted, "the report store is full")
	}
	id := ""
	for id == "" || s.reports[id] != nil {
		s.next++
		id = "r-" + strconv.Itoa(s.next)
	}
	r := &reportsv1.Report{Id: id, Owner: owner, Title: title, Body: body}
	s.storeLocked(r)
	return proto.CloneOf(r), nil
}

// storeLocked stores r, which must not be modified afterwards.
func (s *Service) storeLocked(r *reportsv1.Report) {
	s.reports[r.GetId()] = r
	s.order = append(s.order, r.GetId())
	if num, ok := strings.CutPrefix(r.GetId(), "r-"); ok {
		if n, err := strconv.Atoi(num); err == nil && n > s.next {
			s.next = n // new ids start after the seed's
		}
	}
}

// caller returns the verified claims of the call. Without them the call
// did not pass through the interceptor: fail closed.
func caller(ctx context.Context) (*verify.Claims, error) {
	c, ok := interceptor.FromContext(ctx)
	if !ok {
		return nil, status.Error(codes.Unauthenticated, "no verified access token")
	}
	return c, nil
}

// owner returns the claims of a caller that can own reports: one with a sub.
func owner(ctx context.Context) (*verify.Claims, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if c.Subject() == "" {
		return nil, status.Error(codes.FailedPrecondition, "the access token has no sub claim to own reports")
	}
	return c, nil
}

// mayRead reports whether c may read a report owned by owner: the owner
// condition of GetReport's rule, for the handlers.
func mayRead(c *verify.Claims, owner string) bool {
	return c.Scopes().Has(ScopeAdmin) || (c.Subject() != "" && c.Subject() == owner)
}

// mayList is mayRead: a caller lists exactly the reports it may read.
func mayList(c *verify.Claims, owner string) bool { return mayRead(c, owner) }
