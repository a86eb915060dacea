package oauthtest_test

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	oauthgatetestv1 "github.com/oauthgate/oauthgate/internal/testproto/oauthgatetest/v1"
	"github.com/oauthgate/oauthgate/oauthtest"
)

// library echoes the authorization metadata it received as the book name.
type library struct {
	oauthgatetestv1.UnimplementedLibraryServiceServer
}

func (library) GetBook(ctx context.Context, _ *oauthgatetestv1.GetBookRequest) (*oauthgatetestv1.GetBookResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	auth := md.Get("authorization")
	if len(auth) != 1 {
		return nil, status.Errorf(codes.Unauthenticated, "got %d authorization values", len(auth))
	}
	return &oauthgatetestv1.GetBookResponse{Name: auth[0]}, nil
}

func (library) ListBooks(req *oauthgatetestv1.ListBooksRequest, stream grpc.ServerStreamingServer[oauthgatetestv1.ListBooksResponse]) error {
	md, _ := metadata.FromIncomingContext(stream.Context())
	for range req.GetCount() {
		if err := stream.Send(&oauthgatetestv1.ListBooksResponse{Name: md.Get("authorization")[0]}); err != nil {
			return err
		}
	}
	return nil
}

func TestServeGRPC_Bearer(t *testing.T) {
	t.Parallel()
	iss := oauthtest.NewIssuer(t)
	tok := iss.Token(t, oauthtest.Token{Scopes: []string{"library.read"}})

	var intercepted atomic.Int32
	srv := grpc.NewServer(grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		intercepted.Add(1)
		return h(ctx, req)
	}))
	oauthgatetestv1.RegisterLibraryServiceServer(srv, library{})
	conn := oauthtest.ServeGRPC(t, srv)
	client := oauthgatetestv1.NewLibraryServiceClient(conn)
	ctx, cancel := context.WithTimeout(t.Context(), defaultTestTimeout)
	defer cancel()

	resp, err := client.GetBook(ctx, &oauthgatetestv1.GetBookRequest{}, oauthtest.Bearer(tok))
	if err != nil {
		t.Fatalf("GetBook(Bearer) error = %v", err)
	}
	if got, want := resp.GetName(), "Bearer "+tok; got != want {
		t.Errorf("server saw authorization %.20q…, want %.20q…", got, want)
	}
	if got := intercepted.Load(); got != 1 {
		t.Errorf("server interceptor ran %d times, want 1 (server options must be applied)", got)
	}

	_, err = client.GetBook(ctx, &oauthgatetestv1.GetBookRequest{})
	if status.Code(err) != codes.Unauthenticated {
		t.Errorf("GetBook(no token) code = %v, want %v", status.Code(err), codes.Unauthenticated)
	}

	stream, err := client.ListBooks(ctx, &oauthgatetestv1.ListBooksRequest{Count: 2}, oauthtest.Bearer(tok))
	if err != nil {
		t.Fatalf("ListBooks() error = %v", err)
	}
	n := 0
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("ListBooks Recv() error = %v", err)
		}
		if msg.GetName() != "Bearer "+tok {
			t.Errorf("stream message %d: wrong authorization", n)
		}
		n++
	}
	if n != 2 {
		t.Errorf("ListBooks received %d messages, want 2", n)
	}
}

func TestServeGRPC_StopsWithTest(t *testing.T) {
	t.Parallel()
	var conn *grpc.ClientConn
	t.Run("inner", func(t *testing.T) {
		srv := grpc.NewServer()
		oauthgatetestv1.RegisterLibraryServiceServer(srv, library{})
		conn = oauthtest.ServeGRPC(t, srv)
		ctx, cancel := context.WithTimeout(t.Context(), defaultTestTimeout)
		defer cancel()
		if _, err := oauthgatetestv1.NewLibraryServiceClient(conn).GetBook(ctx, &oauthgatetestv1.GetBookRequest{}, oauthtest.Bearer("x")); err != nil {
			t.Fatalf("GetBook() error = %v", err)
		}
	})
	if got := conn.GetState(); got != connectivity.Shutdown {
		t.Errorf("conn state after the test = %v, want %v", got, connectivity.Shutdown)
	}
}
