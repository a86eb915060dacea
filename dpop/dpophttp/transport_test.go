package dpophttp_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/go-jose/go-jose/v4"

	"github.com/oauthgate/oauthgate/connectgate"
	"github.com/oauthgate/oauthgate/dpop"
	"github.com/oauthgate/oauthgate/dpop/dpophttp"
	testpb "github.com/oauthgate/oauthgate/internal/testproto/oauthgatetest/v1"
	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/scopes"
	"github.com/oauthgate/oauthgate/verify"
)

const (
	defaultTestTimeout = 10 * time.Second

	getBookProc   = testpb.LibraryService_GetBook_FullMethodName
	listBooksProc = testpb.LibraryService_ListBooks_FullMethodName
	addBooksProc  = testpb.LibraryService_AddBooks_FullMethodName
)

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), defaultTestTimeout)
	t.Cleanup(cancel)
	return ctx
}

// server is a connectgate-protected library service accepting DPoP-bound
// tokens of one issuer, which records the requests it receives.
type server struct {
	URL   string
	base  http.RoundTripper // trusts the server's CA
	key   *oauthtest.DPoPKey
	token string // DPoP-bound to key, with every scope the service asks for

	mu     sync.Mutex
	proofs []string // the DPoP header of each request, "" for none
}

// newServer starts the service over TLS (tls) or h2c; with noncePeriod
// its proofs must carry a server nonce.
func newServer(t *testing.T, tls bool, noncePeriod time.Duration) *server {
	t.Helper()
	clock := oauthtest.NewClock(time.Now())
	iss := oauthtest.NewIssuer(t, oauthtest.IssuerConfig{Now: clock.Now})
	s := &server{key: oauthtest.NewDPoPKey(t, jose.ES256, clock.Now)}
	s.token = iss.Token(t, oauthtest.Token{Scopes: []string{"library.read", "library.write", "library.admin"}, DPoPKey: s.key})
	keys, err := verify.NewStaticKeySet(iss.JWKS().Keys...)
	if err != nil {
		t.Fatal(err)
	}
	jwt, err := verify.NewJWT(keys, verify.JWTConfig{Issuer: iss.URL, Audiences: []string{oauthtest.DefaultAudience}, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	policy, err := scopes.NewPolicy(scopes.FromFiles(testpb.File_oauthgatetest_v1_library_proto))
	if err != nil {
		t.Fatal(err)
	}
	cfg := dpop.Config{Now: clock.Now, NoncePeriod: noncePeriod}
	if noncePeriod > 0 {
		cfg.NonceKey = []byte("0123456789abcdef0123456789abcdef")
	}
	v, err := dpop.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	gate, err := connectgate.New(jwt, policy, connectgate.WithDPoP(v))
	if err != nil {
		t.Fatal(err)
	}
	ic := connect.WithInterceptors(gate)
	mux := http.NewServeMux()
	mux.Handle(getBookProc, connect.NewUnaryHandler(getBookProc, func(_ context.Context, req *connect.Request[testpb.GetBookRequest]) (*connect.Response[testpb.GetBookResponse], error) {
		return connect.NewResponse(&testpb.GetBookResponse{Name: req.Msg.GetName()}), nil
	}, ic, connect.WithIdempotency(connect.IdempotencyNoSideEffects)))
	mux.Handle(listBooksProc, connect.NewServerStreamHandler(listBooksProc, func(_ context.Context, req *connect.Request[testpb.ListBooksRequest], st *connect.ServerStream[testpb.ListBooksResponse]) error {
		for range req.Msg.GetCount() {
			if err := st.Send(&testpb.ListBooksResponse{Name: "dune"}); err != nil {
				return err
			}
		}
		return nil
	}, ic))
	mux.Handle(addBooksProc, connect.NewClientStreamHandler(addBooksProc, func(_ context.Context, st *connect.ClientStream[testpb.AddBooksRequest]) (*connect.Response[testpb.AddBooksResponse], error) {
		var n int32
		for st.Receive() {
			n++
		}
		return connect.NewResponse(&testpb.AddBooksResponse{Count: n}), st.Err()
	}, ic))
	h := gate.Handler(mux)
	record := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.proofs = append(s.proofs, r.Header.Get("DPoP"))
		s.mu.Unlock()
		h.ServeHTTP(w, r)
	})
	var srv *oauthtest.ConnectServer
	if tls {
		srv = oauthtest.ServeConnectTLS(t, record, oauthtest.NewCertificates(t))
	} else {
		srv = oauthtest.ServeConnect(t, record)
	}
	s.URL, s.base = srv.URL, srv.Client(t, nil).Transport
	return s
}

// transport returns a Transport sending the server's token, over the
// server's base transport.
func (s *server) transport(t *testing.T, opts ...dpophttp.Option) *dpophttp.Transport {
	t.Helper()
	tr, err := dpophttp.NewTransport(s.key.Signer(t), func(context.Context) (string, error) { return s.token, nil }, s.base, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// requests returns how many requests the server received since the last
// call, and the proofs they carried.
func (s *server) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.proofs
	s.proofs = nil
	return p
}

// claims returns the claims of a proof the server received.
func claims(t *testing.T, proof string) map[string]any {
	t.Helper()
	jws, err := jose.ParseSignedCompact(proof, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatalf("the request's DPoP header is not a JWS: %v", err)
	}
	var c map[string]any
	if err := json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// A call is one call of the library service through client.
type call func(ctx context.Context, client *http.Client, base string) error

func unary(opts ...connect.ClientOption) call {
	return func(ctx context.Context, client *http.Client, base string) error {
		c := connect.NewClient[testpb.GetBookRequest, testpb.GetBookResponse](client, base+getBookProc, opts...)
		resp, err := c.CallUnary(ctx, connect.NewRequest(&testpb.GetBookRequest{Name: "dune"}))
		if err == nil && resp.Msg.GetName() != "dune" {
			return errors.New("GetBook answered " + resp.Msg.GetName())
		}
		return err
	}
}

// connectGET is a Connect GET (htm GET) of the side-effect-free GetBook.
var connectGET = unary(connect.WithHTTPGet(), connect.WithIdempotency(connect.IdempotencyNoSideEffects))

func serverStream(opts ...connect.ClientOption) call {
	return func(ctx context.Context, client *http.Client, base string) error {
		c := connect.NewClient[testpb.ListBooksRequest, testpb.ListBooksResponse](client, base+listBooksProc, opts...)
		st, err := c.CallServerStream(ctx, connect.NewRequest(&testpb.ListBooksRequest{Count: 2}))
		if err != nil {
			return err
		}
		defer st.Close()
		n := 0
		for st.Receive() {
			n++
		}
		if err := st.Err(); err != nil {
			return err
		}
		if n != 2 {
			return errors.New("ListBooks streamed the wrong number of books")
		}
		return nil
	}
}

func clientStream(opts ...connect.ClientOption) call {
	return func(ctx context.Context, client *http.Client, base string) error {
		c := connect.NewClient[testpb.AddBooksRequest, testpb.AddBooksResponse](client, base+addBooksProc, opts...)
		st := c.CallClientStream(ctx)
		for range 3 {
			if err := st.Send(&testpb.AddBooksRequest{Name: "dune"}); err != nil {
				break // the answer says why
			}
		}
		resp, err := st.CloseAndReceive()
		if err == nil && resp.Msg.GetCount() != 3 {
			return errors.New("AddBooks counted the wrong number of books")
		}
		return err
	}
}

// plainPOST is GetBook over the Connect protocol with net/http alone;
// replayable says whether the request has GetBody.
func plainPOST(replayable bool) call {
	return func(ctx context.Context, client *http.Client, base string) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+getBookProc, strings.NewReader(`{"name":"dune"}`))
		if err != nil {
			return err
		}
		if !replayable {
			req.GetBody = nil
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if req.Header.Get("Authorization") != "" || req.Header.Get("DPoP") != "" {
			return errors.New("the Transport modified the request it was given")
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		if resp.StatusCode == http.StatusUnauthorized {
			return connect.NewError(connect.CodeUnauthenticated, errors.New(resp.Header.Get("WWW-Authenticate")))
		}
		if resp.StatusCode != http.StatusOK {
			return errors.New("GetBook answered " + resp.Status)
		}
		return nil
	}
}

// The calls of every kind and protocol, for the tests that run them all.
var calls = map[string]call{
	"ConnectUnary":        unary(),
	"ConnectGET":          connectGET,
	"ConnectServerStream": serverStream(),
	"ConnectClientStream": clientStream(),
	"GRPCUnary":           unary(connect.WithGRPC()),
	"GRPCServerStream":    serverStream(connect.WithGRPC()),
	"GRPCClientStream":    clientStream(connect.WithGRPC()),
	"GRPCWebUnary":        unary(connect.WithGRPCWeb()),
	"GRPCWebServerStream": serverStream(connect.WithGRPCWeb()),
	"PlainPOST":           plainPOST(true),
}

// TestTransport_Calls: every kind of call, over each protocol, reaches a
// connectgate handler that requires DPoP-bound tokens, over TLS and over
// h2c to a loopback address; each request carries a fresh proof for its
// method and URL.
func TestTransport_Calls(t *testing.T) {
	t.Parallel()
	for _, tls := range []bool{true, false} {
		s := newServer(t, tls, 0)
		client := &http.Client{Transport: s.transport(t)}
		for name, c := range calls {
			t.Run(name, func(t *testing.T) {
				if err := c(testContext(t), client, s.URL); err != nil {
					t.Fatalf("%s over TLS %v through the Transport: %v", name, tls, err)
				}
				proofs := s.requests()
				if len(proofs) != 1 {
					t.Fatalf("the server received %d requests, want 1", len(proofs))
				}
				cl := claims(t, proofs[0])
				wantHTM := http.MethodPost
				if name == "ConnectGET" {
					wantHTM = http.MethodGet
				}
				if cl["htm"] != wantHTM || !strings.HasPrefix(cl["htu"].(string), s.URL+"/oauthgatetest.v1.LibraryService/") || strings.Contains(cl["htu"].(string), "?") {
					t.Fatalf("proof htm %v htu %v, want %s and the procedure's URL without query", cl["htm"], cl["htu"], wantHTM)
				}
			})
		}
	}
}

// TestTransport_Nonce: a server that demands a nonce. A refusal the
// Transport sees (a 401, a gRPC response of headers only) teaches it the
// nonce; a replayable request is sent once more and succeeds with exactly
// two requests, others return the refusal and the next call succeeds. A
// refusal in a body (Connect streams, gRPC-Web) is returned, and its
// nonce, from the error's metadata, goes in with SetNonce.
func TestTransport_Nonce(t *testing.T) {
	t.Parallel()
	const (
		retried  = "retried"  // the call succeeds, after a second request
		learned  = "learned"  // the call fails; the next one succeeds
		setNonce = "setNonce" // the call fails; after SetNonce the next succeeds
	)
	tests := map[string]struct {
		call call
		want string
	}{
		"ConnectUnary":           {call: unary(), want: retried},
		"ConnectGET":             {call: connectGET, want: retried},
		"GRPCUnary":              {call: unary(connect.WithGRPC()), want: retried},
		"GRPCServerStream":       {call: serverStream(connect.WithGRPC()), want: retried},
		"GRPCClientStream":       {call: clientStream(connect.WithGRPC()), want: learned},
		"PlainPOST":              {call: plainPOST(true), want: retried},
		"PlainPOSTNotReplayable": {call: plainPOST(false), want: learned},
		"ConnectServerStream":    {call: serverStream(), want: setNonce},
		"ConnectClientStream":    {call: clientStream(), want: setNonce},
		"GRPCWebUnary":           {call: unary(connect.WithGRPCWeb()), want: retried},
		"GRPCWebServerStream":    {call: serverStream(connect.WithGRPCWeb()), want: retried},
		"GRPCWebClientStream":    {call: clientStream(connect.WithGRPCWeb()), want: learned},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := newServer(t, true, time.Minute)
			tr := s.transport(t)
			client := &http.Client{Transport: tr}
			err := tc.call(testContext(t), client, s.URL)
			proofs := s.requests()
			if tc.want == retried {
				if err != nil || len(proofs) != 2 {
					t.Fatalf("first call = %v after %d requests, want success after 2", err, len(proofs))
				}
				if claims(t, proofs[0])["nonce"] != nil || claims(t, proofs[1])["nonce"] == nil {
					t.Fatalf("proofs' nonces %v, %v; want none, then the server's", claims(t, proofs[0])["nonce"], claims(t, proofs[1])["nonce"])
				}
			} else {
				if connect.CodeOf(err) != connect.CodeUnauthenticated || len(proofs) != 1 {
					t.Fatalf("first call = %v after %d requests, want Unauthenticated after 1", err, len(proofs))
				}
				if tc.want == setNonce {
					var ce *connect.Error
					if !errors.As(err, &ce) || ce.Meta().Get("DPoP-Nonce") == "" {
						t.Fatalf("the refusal %v has no DPoP-Nonce in its metadata", err)
					}
					if err := tr.SetNonce(s.URL, ce.Meta().Get("DPoP-Nonce")); err != nil {
						t.Fatal(err)
					}
				}
			}
			// The nonce is kept: the next call needs one request.
			if err := tc.call(testContext(t), client, s.URL); err != nil {
				t.Fatalf("next call = %v, want success", err)
			}
			if n := len(s.requests()); n != 1 {
				t.Fatalf("next call made %d requests, want 1", n)
			}
		})
	}
}

// TestTransport_Replay: each request has a proof of its own; the server
// refuses a proof the Transport sent, sent again.
func TestTransport_Replay(t *testing.T) {
	t.Parallel()
	s := newServer(t, true, 0)
	client := &http.Client{Transport: s.transport(t)}
	for range 2 {
		if err := unary()(testContext(t), client, s.URL); err != nil {
			t.Fatalf("GetBook() = %v", err)
		}
	}
	proofs := s.requests()
	if claims(t, proofs[0])["jti"] == claims(t, proofs[1])["jti"] {
		t.Fatal("two requests carried proofs with one jti")
	}
	req, err := http.NewRequestWithContext(testContext(t), http.MethodPost, s.URL+getBookProc, strings.NewReader(`{"name":"dune"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "DPoP "+s.token)
	req.Header.Set("DPoP", proofs[1])
	resp, err := (&http.Client{Transport: s.base}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if www := strings.Join(resp.Header.Values("WWW-Authenticate"), ", "); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(www, "invalid_dpop_proof") {
		t.Fatalf("replayed proof: %s, %q; want 401 with invalid_dpop_proof", resp.Status, www)
	}
}

// TestTransport_URI: htu is the request's URL without query and fragment,
// normalized; the request given is not modified.
func TestTransport_URI(t *testing.T) {
	t.Parallel()
	s := newServer(t, true, 0)
	tr := s.transport(t)
	tests := map[string]struct {
		url, method, wantHTU string
	}{
		"Query":          {url: s.URL + getBookProc + "?message=x&encoding=json", method: http.MethodGet, wantHTU: s.URL + getBookProc},
		"Fragment":       {url: s.URL + getBookProc + "#part", method: http.MethodPost, wantHTU: s.URL + getBookProc},
		"EmptyPath":      {url: s.URL, method: http.MethodGet, wantHTU: s.URL + "/"},
		"PercentEncoded": {url: s.URL + "/a%20b/c?d=e", method: http.MethodDelete, wantHTU: s.URL + "/a%20b/c"},
		"UpperCaseHost":  {url: strings.Replace(s.URL, "https://", "HTTPS://", 1) + "/x", method: http.MethodPut, wantHTU: s.URL + "/x"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(testContext(t), tc.method, tc.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("X-Caller", "kept")
			before := req.Clone(req.Context())
			resp, err := tr.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			proofs := s.requests()
			if len(proofs) != 1 {
				t.Fatalf("the server received %d requests, want 1", len(proofs))
			}
			if c := claims(t, proofs[0]); c["htu"] != tc.wantHTU || c["htm"] != tc.method {
				t.Fatalf("proof htm %v htu %v, want %s %s", c["htm"], c["htu"], tc.method, tc.wantHTU)
			}
			if !reflect.DeepEqual(req.Header, before.Header) || req.URL.String() != before.URL.String() || req.Host != before.Host {
				t.Fatalf("RoundTrip modified its request: header %v, URL %v", req.Header, req.URL)
			}
		})
	}
}

// TestTransport_Refused: what the Transport refuses to send, and that it
// sends nothing then.
func TestTransport_Refused(t *testing.T) {
	t.Parallel()
	s := newServer(t, false, 0) // h2c on 127.0.0.1
	key := oauthtest.NewDPoPKey(t, jose.ES256, nil)
	tokens := func(context.Context) (string, error) { return s.token, nil }
	failing := errors.New("token source down")
	tests := map[string]struct {
		url     string
		host    string // req.Host, if set
		token   dpophttp.TokenFunc
		wantErr error
	}{
		"CleartextToOtherHost": {url: "http://api.example.com/x", token: tokens, wantErr: dpophttp.ErrInsecure},
		"CleartextToIPv4":      {url: "http://192.0.2.1/x", token: tokens, wantErr: dpophttp.ErrInsecure},
		"NotHTTP":              {url: "ftp://127.0.0.1/x", token: tokens, wantErr: dpophttp.ErrURI},
		"BadHost":              {url: s.URL + "/x", host: "a b", token: tokens, wantErr: dpophttp.ErrURI},
		"TokenFails":           {url: s.URL + "/x", token: func(context.Context) (string, error) { return "", failing }, wantErr: failing},
		"NotAToken":            {url: s.URL + "/x", token: func(context.Context) (string, error) { return "a\r\nb", nil }, wantErr: dpophttp.ErrToken},
		"EmptyToken":           {url: s.URL + "/x", token: func(context.Context) (string, error) { return "", nil }, wantErr: dpophttp.ErrToken},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tr, err := dpophttp.NewTransport(key.Signer(t), tc.token, s.base)
			if err != nil {
				t.Fatal(err)
			}
			body := &closeRecorder{Reader: strings.NewReader("x")}
			req, err := http.NewRequestWithContext(testContext(t), http.MethodPost, tc.url, body)
			if err != nil {
				t.Fatal(err)
			}
			if tc.host != "" {
				req.Host = tc.host
			}
			resp, err := tr.RoundTrip(req)
			if resp != nil {
				resp.Body.Close()
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("RoundTrip() = %v, want %v", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), s.token) {
				t.Fatalf("RoundTrip() error %q holds the token", err)
			}
			if !body.closed {
				t.Fatal("RoundTrip failed without closing the request's body")
			}
			if n := len(s.requests()); n != 0 {
				t.Fatalf("the server received %d requests, want 0", n)
			}
		})
	}
}

// closeRecorder is a request body that records its Close.
type closeRecorder struct {
	io.Reader
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

// TestTransport_AllowInsecure: with AllowInsecure, cleartext to any host;
// htu names the host the request names (its Host), not the address it
// is dialled at.
func TestTransport_AllowInsecure(t *testing.T) {
	t.Parallel()
	s := newServer(t, false, 0)
	addr := strings.TrimPrefix(s.URL, "http://")
	_, port, _ := net.SplitHostPort(addr)
	base := &http.Transport{Protocols: new(http.Protocols),
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr) // api.example.com is this server
		}}
	base.Protocols.SetUnencryptedHTTP2(true)
	t.Cleanup(base.CloseIdleConnections)
	tr, err := dpophttp.NewTransport(s.key.Signer(t), func(context.Context) (string, error) { return s.token, nil }, base, dpophttp.AllowInsecure())
	if err != nil {
		t.Fatal(err)
	}
	other := "http://api.example.com:" + port
	if err := unary()(testContext(t), &http.Client{Transport: tr}, other); err != nil {
		t.Fatalf("GetBook() at %s with AllowInsecure = %v, want success", other, err)
	}
	if htu := claims(t, s.requests()[0])["htu"]; htu != other+getBookProc {
		t.Fatalf("htu = %v, want %s", htu, other+getBookProc)
	}
}

func TestNewTransport(t *testing.T) {
	t.Parallel()
	signer := oauthtest.NewDPoPKey(t, jose.ES256, nil).Signer(t)
	tokens := func(context.Context) (string, error) { return "t", nil }
	if _, err := dpophttp.NewTransport(nil, tokens, nil); err == nil || !strings.HasPrefix(err.Error(), "dpophttp: ") {
		t.Errorf("NewTransport(nil signer) = %v, want a dpophttp error", err)
	}
	if _, err := dpophttp.NewTransport(signer, nil, nil); err == nil || !strings.HasPrefix(err.Error(), "dpophttp: ") {
		t.Errorf("NewTransport(nil token) = %v, want a dpophttp error", err)
	}
	tr, err := dpophttp.NewTransport(signer, tokens, nil)
	if err != nil {
		t.Fatal(err)
	}
	for origin, ok := range map[string]bool{
		"https://api.example.com":      true,
		"https://API.example.com:443/": true,
		"http://127.0.0.1:8080":        true,
		"https://api.example.com/path": false,
		"https://api.example.com?q":    false,
		"https://api.example.com?":     false,
		"https://user@api.example.com": false,
		"ftp://api.example.com":        false,
		"api.example.com":              false,
	} {
		if err := tr.SetNonce(origin, "n-1"); (err == nil) != ok {
			t.Errorf("SetNonce(%q) = %v, want ok %v", origin, err, ok)
		}
	}
	for nonce, ok := range map[string]bool{"n-1": true, "": true, "a b": false, strings.Repeat("n", 1025): false} {
		if err := tr.SetNonce("https://api.example.com", nonce); (err == nil) != ok {
			t.Errorf("SetNonce(%q) = %v, want ok %v", nonce, err, ok)
		}
	}
}

// TestTransport_Redirect: a redirect within the origin gets a proof for
// its own URL; one to another origin fails with ErrRedirect and nothing
// reaches that origin.
func TestTransport_Redirect(t *testing.T) {
	t.Parallel()
	here := oauthtest.NewIssuer(t) // http on 127.0.0.1: a loopback origin
	there := oauthtest.NewIssuer(t)
	here.SetFault(oauthtest.EndpointJWKS, oauthtest.Fault{Location: here.EndpointURL(oauthtest.EndpointOAuthMetadata)})
	here.SetFault(oauthtest.EndpointIntrospection, oauthtest.Fault{Location: there.EndpointURL(oauthtest.EndpointOAuthMetadata)})
	key := oauthtest.NewDPoPKey(t, jose.ES256, nil)
	tr, err := dpophttp.NewTransport(key.Signer(t), func(context.Context) (string, error) { return "token", nil }, here.Client().Transport)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: tr}
	resp, err := client.Get(here.EndpointURL(oauthtest.EndpointJWKS))
	if err != nil {
		t.Fatalf("GET with a same-origin redirect: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || here.Requests(oauthtest.EndpointOAuthMetadata) != 1 {
		t.Fatalf("GET with a same-origin redirect = %s, want 200 from the redirect's target", resp.Status)
	}
	resp, err = client.Get(here.EndpointURL(oauthtest.EndpointIntrospection))
	if resp != nil {
		resp.Body.Close()
	}
	if !errors.Is(err, dpophttp.ErrRedirect) {
		t.Fatalf("GET with a redirect to another origin = %v, want ErrRedirect", err)
	}
	if n := there.Requests(oauthtest.EndpointOAuthMetadata); n != 0 {
		t.Fatalf("the other origin received %d requests, want 0", n)
	}
}

// TestTransport_Concurrent: one Transport serves concurrent calls to a
// server that demands nonces; every call succeeds, and no call is sent
// more than twice.
func TestTransport_Concurrent(t *testing.T) {
	t.Parallel()
	s := newServer(t, true, time.Minute)
	client := &http.Client{Transport: s.transport(t)}
	const workers, calls = 8, 4
	var wg sync.WaitGroup
	errs := make(chan error, workers*calls)
	for range workers {
		wg.Go(func() {
			for range calls {
				errs <- unary()(testContext(t), client, s.URL)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("GetBook() = %v, want success", err)
		}
	}
	if n := len(s.requests()); n < workers*calls || n > 2*workers*calls {
		t.Fatalf("the server received %d requests for %d calls", n, workers*calls)
	}
}

// recorder is a RoundTripper that keeps the DPoP header of each request
// it passes on: how a test observes what the Transport sends to the
// oauthtest issuer (whose Client().Transport it wraps, as its doc says).
type recorder struct {
	base   http.RoundTripper
	mu     sync.Mutex
	proofs []string
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.proofs = append(r.proofs, req.Header.Get("DPoP"))
	r.mu.Unlock()
	return r.base.RoundTrip(req)
}

func (r *recorder) last(t *testing.T) map[string]any {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	return claims(t, r.proofs[len(r.proofs)-1])
}

// TestTransport_NonceOnSuccess: a DPoP-Nonce on a 2xx answer goes into
// the next proofs for that origin (RFC 9449 §8.2); one on another answer
// without a use_dpop_nonce challenge, or not of nonce syntax, does not.
func TestTransport_NonceOnSuccess(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		fault     oauthtest.Fault
		nonces    []string
		wantNonce any // of the next proof; nil for none
	}{
		"OK":             {nonces: []string{"n-1"}, wantNonce: "n-1"},
		"ServerError":    {fault: oauthtest.Fault{Status: http.StatusInternalServerError}, nonces: []string{"n-1"}},
		"Forbidden":      {fault: oauthtest.Fault{Status: http.StatusForbidden}, nonces: []string{"n-1"}},
		"TwoNonces":      {nonces: []string{"n-1", "n-2"}},
		"NotNonceSyntax": {nonces: []string{"n 1"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			iss := oauthtest.NewIssuer(t)
			iss.SetFault(oauthtest.EndpointJWKS, tc.fault)
			iss.SetHeader(oauthtest.EndpointJWKS, "DPoP-Nonce", tc.nonces...)
			rec := &recorder{base: iss.Client().Transport}
			key := oauthtest.NewDPoPKey(t, jose.ES256, nil)
			tr, err := dpophttp.NewTransport(key.Signer(t), func(context.Context) (string, error) { return "token", nil }, rec)
			if err != nil {
				t.Fatal(err)
			}
			client := &http.Client{Transport: tr}
			for _, e := range []oauthtest.Endpoint{oauthtest.EndpointJWKS, oauthtest.EndpointOAuthMetadata} {
				resp, err := client.Get(iss.EndpointURL(e))
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
			}
			if got := rec.last(t)["nonce"]; got != tc.wantNonce {
				t.Fatalf("the next proof's nonce = %v, want %v", got, tc.wantNonce)
			}
		})
	}
}
