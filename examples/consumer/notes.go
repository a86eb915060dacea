// Package notes is the note service of another team: its rules are
// declared in proto/notes/v1/notes.proto and enforced by oauthgate, which
// this module uses through its go.mod alone.
package notes

import (
	"context"
	"fmt"

	notesv1 "example.com/notes/gen/notes/v1"
	"github.com/oauthgate/oauthgate/interceptor"
	"github.com/oauthgate/oauthgate/scopes"
	"github.com/oauthgate/oauthgate/verify"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// NewPolicy returns the rules of notes.proto.
func NewPolicy() (*scopes.Policy, error) {
	return scopes.NewPolicy(scopes.FromFiles(notesv1.File_notes_v1_notes_proto))
}

// NewServer returns a grpc.Server serving the note service behind oauthgate,
// verifying tokens with v. It refuses to build a server that oauthgate's
// start-up check rejects (a method without a rule); its tests check with
// oauthtest.CheckWiring that every call passes through oauthgate.
func NewServer(v verify.Verifier) (*grpc.Server, error) {
	policy, err := NewPolicy()
	if err != nil {
		return nil, err
	}
	gate, err := interceptor.New(v, policy, interceptor.WithRealm("notes"))
	if err != nil {
		return nil, err
	}
	srv := grpc.NewServer(gate.ServerOptions()...)
	notesv1.RegisterNoteServiceServer(srv, service{})
	if err := gate.Check(srv); err != nil {
		srv.Stop()
		return nil, fmt.Errorf("notes: refusing to serve: %w", err)
	}
	return srv, nil
}

// service holds one note, "n-1".
type service struct {
	notesv1.UnimplementedNoteServiceServer
}

func (service) GetNote(_ context.Context, req *notesv1.GetNoteRequest) (*notesv1.GetNoteResponse, error) {
	if req.GetId() != "n-1" {
		return nil, status.Error(codes.NotFound, "no such note")
	}
	return &notesv1.GetNoteResponse{Text: "buy milk"}, nil
}

func (service) WatchNotes(_ *notesv1.WatchNotesRequest, stream grpc.ServerStreamingServer[notesv1.WatchNotesResponse]) error {
	return stream.Send(&notesv1.WatchNotesResponse{Text: "buy milk"})
}

func (service) DeleteNote(context.Context, *notesv1.DeleteNoteRequest) (*notesv1.DeleteNoteResponse, error) {
	return &notesv1.DeleteNoteResponse{}, nil
}
