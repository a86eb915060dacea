package conformance_test

import (
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/grpc/codes"

	"github.com/oauthgate/oauthgate/internal/core"
)

// TestCodes: the core's codes are gRPC's and Connect's numbers, which is
// what lets each adapter convert them with a type conversion; and their
// names are gRPC's, which every adapter's logs print.
func TestCodes(t *testing.T) {
	for _, c := range []struct {
		core    core.Code
		grpc    codes.Code
		connect connect.Code
	}{
		{core.PermissionDenied, codes.PermissionDenied, connect.CodePermissionDenied},
		{core.Internal, codes.Internal, connect.CodeInternal},
		{core.Unavailable, codes.Unavailable, connect.CodeUnavailable},
		{core.Unauthenticated, codes.Unauthenticated, connect.CodeUnauthenticated},
	} {
		if uint32(c.core) != uint32(c.grpc) || uint32(c.core) != uint32(c.connect) || c.core.String() != c.grpc.String() {
			t.Errorf("core code %d (%s): gRPC %d (%s), Connect %d", c.core, c.core, c.grpc, c.grpc, c.connect)
		}
	}
	if core.OK != 0 || core.OK.String() != codes.OK.String() {
		t.Errorf("core.OK = %d (%s)", core.OK, core.OK)
	}
}
