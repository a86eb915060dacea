package reports

import (
	"context"

	"github.com/oauthgate/oauthgate/examples/reports/reportsv1"
	"github.com/oauthgate/oauthgate/interceptor"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ReasonNotOwner is the ErrorInfo reason of a GetReport call that
// [Service.Authorize] denies.
const ReasonNotOwner = "NOT_REPORT_OWNER"

// notOwnerDescription is the client-facing answer to a read of another
// user's report. It is fixed: it names neither the owner nor the caller.
const notOwnerDescription = "only the owner of a report or an admin may read it"

// errNotOwner is the handler's answer when it runs without the hook.
func errNotOwner() error { return status.Error(codes.PermissionDenied, notOwnerDescription) }

// Authorize is an [interceptor.Authorizer] (install it with
// interceptor.WithAuthorizer(svc.Authorize)) that decides who may read a
// report: its owner (the token's sub) or a token with the admin scope. It
// runs after the scope check, so GetReport callers hold read:reports or
// admin. Other calls are allowed: their handlers scope what they touch to
// the caller.
//
// An id that does not exist is denied like another user's report, for
// callers without admin: answering NotFound for unknown ids but
// PermissionDenied for existing ones would let any reader probe which ids
// exist. An admin gets NotFound from the handler.
func (s *Service) Authorize(_ context.Context, call interceptor.Call) error {
	req, ok := call.Request.(*reportsv1.GetReportRequest)
	if !ok {
		return nil
	}
	if call.Claims.Scopes().Has(ScopeAdmin) {
		return nil
	}
	if owner, ok := s.Owner(req.GetId()); !ok || !mayRead(call.Claims, owner) {
		return &interceptor.DenyError{Reason: ReasonNotOwner, Description: notOwnerDescription}
	}
	return nil
}
