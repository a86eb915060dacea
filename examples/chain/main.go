// Command chain runs a chain of three services secured by oauthgate, edge →
// orders → payments, in one process, with an embedded authorization
// server (package oauthtest), and prints what each call shows:
//
//	go run ./examples/chain
//
// Each service is the example report service (package reports' proto)
// behind oauthgate, on its own 127.0.0.1 port, accepting only tokens for
// its own audience. edge forwards the user's token (its audience names edge
// and orders); orders calls payments on the user's behalf with a token
// exchanged for it (RFC 8693, package outbound), which keeps the user as
// sub and names orders in act; payments serves only calls whose act is
// orders. Then the authorization server's token endpoint goes down: a new
// user's call fails with Unavailable at the edge, not Unauthenticated.
//
// See docs/calling-services.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/oauthgate/oauthgate/conditions"
	"github.com/oauthgate/oauthgate/examples/reports/reportsv1"
	"github.com/oauthgate/oauthgate/interceptor"
	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/outbound"
	"github.com/oauthgate/oauthgate/scopes"
	"github.com/oauthgate/oauthgate/verify"
)

// The audiences of the three services, and orders' client registration at
// the authorization server.
const (
	edgeAudience     = "https://edge.example.com"
	ordersAudience   = "https://orders.example.com"
	paymentsAudience = "https://payments.example.com"
	ordersClientID   = "orders"
	ordersSecret     = "orders-secret" // from a secret store in real code
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// run starts the issuer and the three services, makes the calls, prints
// the outcomes to w, and stops everything.
func run(ctx context.Context, w io.Writer) error {
	iss, err := oauthtest.Start(oauthtest.IssuerConfig{
		Clients: []oauthtest.Client{{ID: ordersClientID, Secret: ordersSecret}},
	})
	if err != nil {
		return err
	}
	defer iss.Close()

	var stop []func()
	defer func() {
		for i := len(stop) - 1; i >= 0; i-- {
			stop[i]()
		}
	}()
	serve := func(aud string, title func(context.Context) (string, error), opts ...interceptor.Option) (string, error) {
		srv, closeKeys, err := gated(iss, aud, reportServer{title: title}, opts...)
		if err != nil {
			return "", err
		}
		stop = append(stop, closeKeys)
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		go func() { _ = srv.Serve(lis) }()
		stop = append(stop, srv.Stop)
		return lis.Addr().String(), nil
	}

	// payments: serves orders acting for a user, nobody else.
	paymentsAddr, err := serve(paymentsAudience, func(ctx context.Context) (string, error) {
		c, _ := interceptor.FromContext(ctx)
		return "payments sees sub=" + c.Subject() + " act=" + actor(c), nil
	}, interceptor.WithAuthorizer(func(_ context.Context, call interceptor.Call) error {
		if actor(call.Claims) != ordersClientID {
			return errors.New("payments serves orders only")
		}
		return nil
	}))
	if err != nil {
		return err
	}

	// orders: calls payments with a token exchanged for the caller's.
	exchange, err := outbound.Exchange(outbound.Config{
		Issuer:            iss.URL,
		InsecureAllowHTTP: true, // the embedded issuer is http://127.0.0.1
		Client:            outbound.ClientSecretBasic(ordersClientID, ordersSecret),
		Resource:          []string{paymentsAudience},
		Scopes:            []string{"read:reports"},
		Target:            paymentsAddr, // loopback: no TLS needed here
	})
	if err != nil {
		return err
	}
	defer exchange.Close()
	toPayments, err := grpc.NewClient(paymentsAddr,
		grpc.WithTransportCredentials(insecure.NewCredentials()), // TLS in production
		grpc.WithPerRPCCredentials(exchange))
	if err != nil {
		return err
	}
	defer toPayments.Close()
	payments := reportsv1.NewReportServiceClient(toPayments)
	ordersAddr, err := serve(ordersAudience, func(ctx context.Context) (string, error) {
		// ctx is the handler's: it carries the verified incoming token
		// that the credentials exchange. An error keeps its code
		// (Unavailable when the authorization server is down).
		resp, err := payments.GetReport(ctx, &reportsv1.GetReportRequest{Owner: subject(ctx), Id: "r-1"})
		return resp.GetReport().GetTitle(), err
	})
	if err != nil {
		return err
	}

	// edge: forwards the user's token, whose audience includes orders.
	toOrders, err := grpc.NewClient(ordersAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer toOrders.Close()
	orders := reportsv1.NewReportServiceClient(toOrders)
	edgeAddr, err := serve(edgeAudience, func(ctx context.Context) (string, error) {
		tok, _ := interceptor.TokenFromContext(ctx)
		resp, err := orders.GetReport(ctx, &reportsv1.GetReportRequest{Owner: subject(ctx), Id: "r-1"}, oauthtest.Bearer(tok))
		return resp.GetReport().GetTitle(), err
	})
	if err != nil {
		return err
	}

	conn, err := grpc.NewClient(edgeAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	edge := reportsv1.NewReportServiceClient(conn)
	call := func(user string) string {
		tok, err := iss.MintToken(oauthtest.Token{Subject: user, Audience: []string{edgeAudience, ordersAudience},
			Scopes: []string{"read:reports"}})
		if err != nil {
			return err.Error()
		}
		resp, err := edge.GetReport(ctx, &reportsv1.GetReportRequest{Owner: user, Id: "r-1"}, oauthtest.Bearer(tok))
		if err != nil {
			return status.Code(err).String()
		}
		return resp.GetReport().GetTitle()
	}
	fmt.Fprintln(w, "alice:", call("alice"))
	tok, err := iss.MintToken(oauthtest.Token{Subject: "alice", Audience: []string{edgeAudience, ordersAudience},
		Scopes: []string{"read:reports"}})
	if err != nil {
		return err
	}
	direct, err := grpc.NewClient(paymentsAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer direct.Close()
	_, err = reportsv1.NewReportServiceClient(direct).GetReport(ctx, &reportsv1.GetReportRequest{Owner: "alice", Id: "r-1"}, oauthtest.Bearer(tok))
	fmt.Fprintln(w, "alice's own token at payments:", status.Code(err))
	iss.SetFault(oauthtest.EndpointToken, oauthtest.Fault{Down: true})
	fmt.Fprintln(w, "bob, token endpoint down:", call("bob"))
	return nil
}

// gated returns a report server behind oauthgate that accepts tokens of
// iss for aud, discovering the issuer's keys, and a function that stops
// the key set's refreshes.
func gated(iss *oauthtest.Issuer, aud string, h reportsv1.ReportServiceServer, opts ...interceptor.Option) (*grpc.Server, func(), error) {
	keys, err := verify.NewRemoteKeySet(verify.RemoteKeySetConfig{Issuer: iss.URL, InsecureAllowHTTP: true})
	if err != nil {
		return nil, nil, err
	}
	closeKeys := func() { _ = keys.Close() }
	fail := func(err error) (*grpc.Server, func(), error) {
		closeKeys()
		return nil, nil, err
	}
	jwt, err := verify.NewJWT(keys, verify.JWTConfig{Issuer: iss.URL, Audiences: []string{aud}})
	if err != nil {
		return fail(err)
	}
	policy, err := scopes.NewPolicy(scopes.FromFiles(reportsv1.File_examples_reports_v1_reports_proto))
	if err != nil {
		return fail(err)
	}
	cond, err := conditions.Compile(policy) // GetReport's owner condition
	if err != nil {
		return fail(err)
	}
	gate, err := interceptor.New(jwt, policy, append(opts, interceptor.WithConditions(cond))...)
	if err != nil {
		return fail(err)
	}
	srv := grpc.NewServer(gate.ServerOptions()...)
	reportsv1.RegisterReportServiceServer(srv, h)
	return srv, closeKeys, nil
}

// reportServer answers GetReport with a report titled by title.
type reportServer struct {
	reportsv1.UnimplementedReportServiceServer
	title func(context.Context) (string, error)
}

func (s reportServer) GetReport(ctx context.Context, req *reportsv1.GetReportRequest) (*reportsv1.GetReportResponse, error) {
	title, err := s.title(ctx)
	if err != nil {
		return nil, err
	}
	return &reportsv1.GetReportResponse{Report: &reportsv1.Report{Id: req.GetId(), Owner: req.GetOwner(), Title: title}}, nil
}

// actor returns act.sub of the claims: who acts for the subject (RFC 8693 §4.1).
func actor(c *verify.Claims) string {
	var act struct {
		Act struct {
			Sub string `json:"sub"`
		} `json:"act"`
	}
	_ = c.Decode(&act)
	return act.Act.Sub
}

// subject returns the sub of the call's verified token.
func subject(ctx context.Context) string {
	c, _ := interceptor.FromContext(ctx)
	return c.Subject()
}
