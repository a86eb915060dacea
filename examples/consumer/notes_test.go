package notes_test

import (
	"context"
	"net"
	"os"
	"testing"
	"time"

	"example.com/notes"
	notesv1 "example.com/notes/gen/notes/v1"
	"github.com/oauthgate/oauthgate/oauthtest"
	oauthgatev1 "github.com/oauthgate/oauthgate/proto/oauthgate/v1"
	"github.com/oauthgate/oauthgate/verify"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// TestCalls serves the note service and checks that oauthgate enforces the
// rules of notes.proto: allowed calls pass, the others are denied.
func TestCalls(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	iss := oauthtest.NewIssuer(t)
	keys, err := verify.NewStaticKeySet(iss.JWKS().Keys...)
	if err != nil {
		t.Fatal(err)
	}
	jwt, err := verify.NewJWT(keys, verify.JWTConfig{Issuer: iss.URL, Audiences: []string{oauthtest.DefaultAudience}})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := notes.NewServer(jwt)
	if err != nil {
		t.Fatalf("NewServer() error = %v", err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(lis)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-served
	})
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := notesv1.NewNoteServiceClient(conn)

	read := oauthtest.Bearer(iss.Token(t, oauthtest.Token{Scopes: []string{"read:notes"}}))
	write := oauthtest.Bearer(iss.Token(t, oauthtest.Token{Scopes: []string{"write:notes"}}))
	tests := map[string]struct {
		call func() error
		want codes.Code
	}{
		"GetNoteRead": {call: func() error {
			_, err := client.GetNote(ctx, &notesv1.GetNoteRequest{Id: "n-1"}, read)
			return err
		}, want: codes.OK},
		"GetNoteNoToken": {call: func() error {
			_, err := client.GetNote(ctx, &notesv1.GetNoteRequest{Id: "n-1"})
			return err
		}, want: codes.Unauthenticated},
		"WatchNotesRead": {call: func() error {
			s, err := client.WatchNotes(ctx, &notesv1.WatchNotesRequest{}, read)
			if err == nil {
				_, err = s.Recv()
			}
			return err
		}, want: codes.OK},
		"WatchNotesWrite": {call: func() error {
			s, err := client.WatchNotes(ctx, &notesv1.WatchNotesRequest{}, write)
			if err == nil {
				_, err = s.Recv()
			}
			return err
		}, want: codes.PermissionDenied},
		"DeleteNoteWithoutAdmin": {call: func() error {
			_, err := client.DeleteNote(ctx, &notesv1.DeleteNoteRequest{Id: "n-1"}, write)
			return err
		}, want: codes.PermissionDenied},
	}
	for name, tc := range tests {
		if err := tc.call(); status.Code(err) != tc.want {
			t.Errorf("%s: error = %v, want code %v", name, err, tc.want)
		}
	}
}

// TestWiring checks that every RPC of the note service, unary and
// streaming, passes through oauthgate.
func TestWiring(t *testing.T) {
	iss := oauthtest.NewIssuer(t)
	keys, err := verify.NewStaticKeySet(iss.JWKS().Keys...)
	if err != nil {
		t.Fatal(err)
	}
	jwt, err := verify.NewJWT(keys, verify.JWTConfig{Issuer: iss.URL, Audiences: []string{oauthtest.DefaultAudience}})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := notes.NewServer(jwt)
	if err != nil {
		t.Fatalf("NewServer() error = %v", err)
	}
	policy, err := notes.NewPolicy()
	if err != nil {
		t.Fatal(err)
	}
	oauthtest.CheckWiring(t, srv, policy, iss)
}

// TestAnnotationsRegisteredOnce checks that the generated code uses
// oauthgate's own copy of oauthgate/v1/annotations.proto: one registration,
// from oauthgate's Go package, and no generated copy in this module.
func TestAnnotationsRegisteredOnce(t *testing.T) {
	const path = "oauthgate/v1/annotations.proto"
	registered, err := protoregistry.GlobalFiles.FindFileByPath(path)
	if err != nil {
		t.Fatalf("FindFileByPath(%q) error = %v", path, err)
	}
	if registered != oauthgatev1.File_oauthgate_v1_annotations_proto {
		t.Errorf("the registered %s is not oauthgate's", path)
	}
	imports := notesv1.File_notes_v1_notes_proto.Imports()
	for i := range imports.Len() {
		if imp := imports.Get(i); imp.Path() == path && imp.FileDescriptor != oauthgatev1.File_oauthgate_v1_annotations_proto {
			t.Errorf("notes.proto imports a copy of %s, not oauthgate's", path)
		}
	}
	// Every file of package oauthgate.v1 must be oauthgate's own (its Go
	// package registers annotations.proto and resource.proto), never a
	// copy generated here.
	protoregistry.GlobalFiles.RangeFilesByPackage("oauthgate.v1", func(fd protoreflect.FileDescriptor) bool {
		if fd != oauthgatev1.File_oauthgate_v1_annotations_proto && fd != oauthgatev1.File_oauthgate_v1_resource_proto {
			t.Errorf("%s of package oauthgate.v1 is registered from a copy", fd.Path())
		}
		return true
	})
	if _, err := os.Stat("gen/oauthgate"); !os.IsNotExist(err) {
		t.Errorf("gen/oauthgate exists (%v): a second copy of the annotations was generated", err)
	}
}
