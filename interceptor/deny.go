package interceptor

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/oauthgate/oauthgate/internal/core"
)

// This file renders the core's denials on gRPC: a status with a
// google.rpc.ErrorInfo detail, and the www-authenticate (and dpop-nonce)
// response metadata. The core decides and records; nothing here does.

// render sets the denial's challenge metadata on the call and returns its
// status error.
func (i *Interceptor) render(ctx context.Context, d *core.Denial) error {
	if md := i.challengeMetadata(d); md != nil {
		// Errors are sent as a trailers-only response, whose single
		// metadata block grpc-go clients read as both header and trailer.
		// Mid-stream (headers already sent) it can only go in the trailer.
		if grpc.SetHeader(ctx, md) != nil {
			_ = grpc.SetTrailer(ctx, md)
		}
	}
	return i.status(d).Err()
}

// status builds the gRPC status of d with its ErrorInfo detail.
func (i *Interceptor) status(d *core.Denial) *status.Status {
	st := status.New(codes.Code(d.Code), d.Description)
	withInfo, err := st.WithDetails(i.gate.ErrorInfo(d))
	if err != nil {
		return st // R11: a status without detail beats no status
	}
	return withInfo
}

// challengeMetadata returns the response metadata that describes d to an
// OAuth client, or nil: the www-authenticate challenges (RFC 6750 §3,
// RFC 9449 §7.1) and, for use_dpop_nonce, the dpop-nonce to retry with
// (RFC 9449 §8), as the core builds them.
func (i *Interceptor) challengeMetadata(d *core.Denial) metadata.MD {
	challenges := i.gate.Challenges(d)
	if challenges == nil {
		return nil
	}
	md := metadata.MD{"www-authenticate": challenges}
	if nonce := i.gate.DPoPNonce(d); nonce != "" {
		md.Append("dpop-nonce", nonce)
	}
	return md
}

// endedStream is what SendMsg and RecvMsg return after the core ended the
// stream; Stream replaces the handler's final status with the full answer.
func endedStream(d *core.Denial) error { return status.Error(codes.Code(d.Code), d.Description) }
