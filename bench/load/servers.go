package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/oauthgate/oauthgate/examples/reports"
	"github.com/oauthgate/oauthgate/examples/reports/reportsv1"
	"github.com/oauthgate/oauthgate/interceptor"
	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/verify"
)

// call is the RPC under load: a unary read that the owner's token may make.
const (
	call     = "examples.reports.v1.ReportService.GetReport"
	callData = `{"owner":"alice","id":"r-1"}`
)

// server is one report server listening on 127.0.0.1.
type server struct {
	addr string
	stop func()
}

// serve serves srv on a new 127.0.0.1 port until stop is called.
func serve(srv *grpc.Server) (*server, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(lis)
	}()
	return &server{addr: lis.Addr().String(), stop: func() { srv.Stop(); <-done }}, nil
}

// serveReports serves the example report service behind oauthgate with v,
// as the standalone example server does (reports.NewServer).
func serveReports(v verify.Verifier) (*server, error) {
	srv, err := reports.NewServer(v)
	if err != nil {
		return nil, err
	}
	return serve(srv)
}

// serveNoAuth serves the same report service without oauthgate: a unary
// interceptor puts fixed claims for alice in the context and checks no
// token, so the handler does the same work as behind oauthgate.
func serveNoAuth() (*server, error) {
	claims, err := verify.ParseClaims([]byte(`{"iss":"https://none.invalid/","sub":"` + reports.SubjectAlice + `","scope":"` + reports.ScopeRead + `"}`))
	if err != nil {
		return nil, err
	}
	svc, err := reports.NewService(reports.DemoReports()...)
	if err != nil {
		return nil, err
	}
	srv := grpc.NewServer(grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		return h(interceptor.NewContext(ctx, claims), req)
	}))
	reportsv1.RegisterReportServiceServer(srv, svc)
	return serve(srv)
}

// newRemoteJWT returns a JWT verifier fetching iss's JWKS, cached or not,
// and its key set, which the caller closes.
func newRemoteJWT(iss *oauthtest.Issuer, cfg verify.RemoteKeySetConfig, cached bool) (*verify.JWT, *verify.RemoteKeySet, error) {
	cfg.URL, cfg.InsecureAllowHTTP = iss.EndpointURL(oauthtest.EndpointJWKS), true
	keys, err := verify.NewRemoteKeySet(cfg)
	if err != nil {
		return nil, nil, err
	}
	j, err := verify.NewJWT(keys, verify.JWTConfig{Issuer: iss.URL, Audiences: []string{oauthtest.DefaultAudience}, DisableCache: !cached})
	if err != nil {
		_ = keys.Close()
		return nil, nil, err
	}
	return j, keys, nil
}

// waitKeys waits for keys to hold a usable set, bounded by 10s.
func waitKeys(keys *verify.RemoteKeySet) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return keys.WaitReady(ctx)
}

// newIntrospection returns an introspection verifier for iss whose answers
// are cached for 5 minutes (the default is 5s), so that the run measures
// cache hits, as the comparison intends.
func newIntrospection(iss *oauthtest.Issuer) (*verify.Introspection, error) {
	return verify.NewIntrospection(verify.IntrospectionConfig{
		Endpoint:          iss.EndpointURL(oauthtest.EndpointIntrospection),
		ClientID:          iss.ClientID,
		ClientSecret:      verify.Secret(iss.ClientSecret),
		Issuer:            iss.URL,
		Audiences:         []string{oauthtest.DefaultAudience},
		InsecureAllowHTTP: true,
		CacheTTL:          5 * time.Minute,
	})
}

// loadToken describes every load token: alice may read r-1.
func loadToken(alg jose.SignatureAlgorithm) oauthtest.Token {
	return oauthtest.Token{Algorithm: alg, Subject: reports.SubjectAlice, Scopes: []string{reports.ScopeRead}}
}

// mint mints n distinct tokens (JWTs of alg, or opaque tokens if opaque),
// on two goroutines.
func mint(iss *oauthtest.Issuer, alg jose.SignatureAlgorithm, opaque bool, n int) ([]string, error) {
	toks := make([]string, n)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for w := range 2 {
		wg.Go(func() {
			for i := w; i < n; i += 2 {
				var err error
				if opaque {
					toks[i], err = iss.MintOpaque(loadToken(alg))
				} else {
					toks[i], err = iss.MintToken(loadToken(alg))
				}
				if err != nil {
					errs[w] = err
					return
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return toks, nil
}

// A tokenSource picks the token of each call.
type tokenSource interface {
	token() string
}

// zipfTokens picks among a fixed set of tokens with a Zipf distribution
// (s = 1.1: a few clients make most calls, many make a few), from a
// sequence precomputed with a fixed seed so that runs are reproducible and
// the pick costs one atomic add.
type zipfTokens struct {
	toks []string
	seq  []uint16
	next atomic.Uint64
}

func newZipfTokens(toks []string, seed uint64) *zipfTokens {
	r := rand.New(rand.NewPCG(seed, 18))
	z := rand.NewZipf(r, 1.1, 1, uint64(len(toks)-1))
	seq := make([]uint16, 1<<16)
	for i := range seq {
		seq[i] = uint16(z.Uint64())
	}
	return &zipfTokens{toks: toks, seq: seq}
}

func (z *zipfTokens) token() string {
	i := z.next.Add(1)
	return z.toks[z.seq[i%uint64(len(z.seq))]]
}

// freshTokens hands out each token once; wraps counts the calls that had
// to reuse one because the pool ran out (the report shows it).
type freshTokens struct {
	toks  []string
	next  atomic.Uint64
	wraps atomic.Int64
}

func (f *freshTokens) token() string {
	i := f.next.Add(1) - 1
	if i >= uint64(len(f.toks)) {
		f.wraps.Add(1)
	}
	return f.toks[i%uint64(len(f.toks))]
}

// outgoing returns the metadata of a call carrying tok.
func outgoing(tok string) *metadata.MD {
	md := metadata.Pairs("authorization", "Bearer "+tok)
	return &md
}

// protoset returns the FileDescriptorSet of reports.proto and its imports,
// imports first, for ghz (no reflection calls, no files).
func protoset() ([]byte, error) {
	var set descriptorpb.FileDescriptorSet
	seen := map[string]bool{}
	var add func(fd protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		imports := fd.Imports()
		for i := range imports.Len() {
			add(imports.Get(i).FileDescriptor)
		}
		set.File = append(set.File, protodesc.ToFileDescriptorProto(fd))
	}
	add(reportsv1.File_examples_reports_v1_reports_proto)
	b, err := proto.Marshal(&set)
	if err != nil {
		return nil, fmt.Errorf("protoset: %w", err)
	}
	return b, nil
}
