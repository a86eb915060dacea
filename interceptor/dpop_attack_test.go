package interceptor_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/oauthgate/oauthgate/dpop"
	"github.com/oauthgate/oauthgate/dpop/dpopgrpc"
	testpb "github.com/oauthgate/oauthgate/internal/testproto/oauthgatetest/v1"
	"github.com/oauthgate/oauthgate/oauthtest"
)

// fixedHTU is per-RPC credentials that sign a fresh proof for every call,
// always for the same htu: what an attacker holding the key sends for a
// URI of its choosing.
type fixedHTU struct {
	t     *testing.T
	key   *oauthtest.DPoPKey
	token string
	htu   string
}

func (c fixedHTU) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "DPoP " + c.token, "dpop": c.key.Proof(c.t, "POST", c.htu, c.token)}, nil
}

func (fixedHTU) RequireTransportSecurity() bool { return false }

// TestDPoP_HostileAuthority: without configured public origins, the URI a
// proof must name is built from the call's :authority, which the client
// chooses. An authority that is not a host[:port] once turned the real
// method into a query string or fragment, so that a fresh proof for
// another resource server and method passed; now every such call is
// refused with DPOP_PROOF_URI, on every kind of RPC, and never reaches the
// handler.
func TestDPoP_HostileAuthority(t *testing.T) {
	f := newDPoPFixture(t, dpop.Config{}, nil)
	tok := f.iss.Token(t, oauthtest.Token{Scopes: allScopes, DPoPKey: f.key})
	target := strings.TrimPrefix(f.conn.Target(), "passthrough:///")
	const elsewhere = "http://other-rs.example/pkg.Other/Delete"
	for name, authority := range map[string]string{
		"PathAndQuery":  "other-rs.example/pkg.Other/Delete?",
		"PathFragment":  "other-rs.example/pkg.Other/Delete#",
		"Path":          "other-rs.example/pkg.Other/Delete/",
		"UserInfo":      "user@other-rs.example",
		"PercentEncode": "other-rs.example%2fpkg.Other%2fDelete%3f",
		"Space":         "other-rs.example /x?",
		"Backslash":     `other-rs.example\x?`,
		"BadPort":       "other-rs.example:http",
	} {
		t.Run(name, func(t *testing.T) {
			// The proof names the URI the old concatenation made of this
			// authority, where that was a URI, else another server's.
			htu := elsewhere
			if u, err := dpop.NormalizeURI("http://" + authority + "/oauthgatetest.v1.LibraryService/GetBook"); err == nil {
				htu = u
			}
			conn := oauthtest.DialGRPC(t, target, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithAuthority(authority))
			creds := grpc.PerRPCCredentials(fixedHTU{t: t, key: f.key, token: tok, htu: htu})
			outcomes := callKinds(testContext(t), testpb.NewLibraryServiceClient(conn), creds)
			if len(outcomes) != 4 {
				t.Fatalf("called %d kinds of RPC, want 4", len(outcomes))
			}
			for kind, got := range outcomes {
				if status.Code(got.err) != codes.Unauthenticated || errorInfo(t, got.err).GetReason() != "DPOP_PROOF_URI" {
					t.Errorf("%s with :authority %q = %v, want Unauthenticated DPOP_PROOF_URI", kind, authority, got.err)
				}
			}
		})
	}
}

// TestDPoP_RawAuthority sends what a grpc-go client cannot: an empty
// :authority, and two of them, over raw HTTP/2. Neither gets a call
// through: grpc-go refuses two values itself, and the gate refuses an
// empty one.
func TestDPoP_RawAuthority(t *testing.T) {
	f := newDPoPFixture(t, dpop.Config{}, nil)
	tok := f.iss.Token(t, oauthtest.Token{Scopes: allScopes, DPoPKey: f.key})
	addr := strings.TrimPrefix(f.conn.Target(), "passthrough:///")
	const method = "/oauthgatetest.v1.LibraryService/GetBook"
	tests := map[string]struct {
		authorities []string
		wantStatus  string // grpc-status
		wantError   string // in www-authenticate, if any
	}{
		"Empty": {authorities: []string{""}, wantStatus: "16", wantError: `error="invalid_dpop_proof"`},
		"Two":   {authorities: []string{addr, "other-rs.example"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			htu := "http://" + tc.authorities[0] + method
			if tc.authorities[0] == "" {
				htu = "http://other-rs.example" + method
			}
			got := rawGRPCCall(t, addr, method, tc.authorities, [][2]string{
				{"authorization", "DPoP " + tok},
				{"dpop", f.key.Proof(t, "POST", htu, tok)},
			})
			if got["grpc-status"] == "0" || got["grpc-status"] == "" && got[":status"] == "200" {
				t.Fatalf("call with :authority %q answered %v, want it refused", tc.authorities, got)
			}
			if tc.wantStatus != "" && got["grpc-status"] != tc.wantStatus {
				t.Errorf("grpc-status = %q, want %q (%v)", got["grpc-status"], tc.wantStatus, got)
			}
			if tc.wantError != "" && !strings.Contains(got["www-authenticate"], tc.wantError) {
				t.Errorf("www-authenticate = %q, want %s", got["www-authenticate"], tc.wantError)
			}
		})
	}
}

// rawGRPCCall makes one unary gRPC call to method at addr over a raw
// HTTP/2 connection, with the given :authority values and metadata, and
// returns the response's header and trailer fields (the last value of
// each, and www-authenticate values joined by ", ").
func rawGRPCCall(t *testing.T, addr, method string, authorities []string, md [][2]string) map[string]string {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx := testContext(t)
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if _, err := conn.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(conn, conn)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	fields := [][2]string{{":method", "POST"}, {":scheme", "http"}, {":path", method}}
	for _, a := range authorities {
		fields = append(fields, [2]string{":authority", a})
	}
	fields = append(fields, [2]string{"content-type", "application/grpc"}, [2]string{"te", "trailers"})
	fields = append(fields, md...)
	for _, kv := range fields {
		if err := enc.WriteField(hpack.HeaderField{Name: kv[0], Value: kv[1]}); err != nil {
			t.Fatal(err)
		}
	}
	if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
	if err := fr.WriteData(1, true, []byte{0, 0, 0, 0, 0}); err != nil { // one empty message
		t.Fatal(err)
	}
	got := map[string]string{}
	dec := hpack.NewDecoder(4096, func(hf hpack.HeaderField) {
		if hf.Name == "www-authenticate" && got[hf.Name] != "" {
			got[hf.Name] += ", " + hf.Value
			return
		}
		got[hf.Name] = hf.Value
	})
	for {
		frame, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("reading the answer: %v (so far %v)", err, got)
		}
		switch fr := frame.(type) {
		case *http2.SettingsFrame:
			if !fr.IsAck() {
				continue
			}
		case *http2.HeadersFrame:
			if _, err := dec.Write(fr.HeaderBlockFragment()); err != nil {
				t.Fatal(err)
			}
			if fr.StreamEnded() {
				return got
			}
		case *http2.DataFrame:
			if fr.StreamEnded() {
				return got
			}
		case *http2.RSTStreamFrame:
			got["rst_stream"] = fmt.Sprint(fr.ErrCode)
			return got
		case *http2.GoAwayFrame:
			got["goaway"] = fmt.Sprint(fr.ErrCode)
			return got
		}
	}
}

// TestDPoP_AnonymousFlood: anyone can sign valid proofs with a key of
// their own; with a junk token and a matching ath they once filled the
// replay cache, so that every legitimate DPoP call failed with
// DPOP_REPLAY_CACHE_FULL. A proof is now recorded only after its token is
// verified and bound to its key: the flood is refused as invalid tokens
// and leaves no trace, and legitimate calls answer OK.
func TestDPoP_AnonymousFlood(t *testing.T) {
	f := newDPoPFixture(t, dpop.Config{ReplayCacheSize: 160, ReplayKeyLimit: 160}, nil)
	ctx := testContext(t)
	attacker := oauthtest.NewDPoPKey(t, jose.ES256, nil)
	for i := range 480 {
		junk := fmt.Sprintf("junk.token.%d", i)
		_, err := f.client.GetBook(withDPoP(ctx, junk, attacker.Proof(t, "POST", f.uri("GetBook"), junk)), &testpb.GetBookRequest{})
		if status.Code(err) != codes.Unauthenticated || errorInfo(t, err).GetReason() != "INVALID_TOKEN" {
			t.Fatalf("junk call %d = %v, want Unauthenticated INVALID_TOKEN", i, err)
		}
	}
	tok := f.iss.Token(t, oauthtest.Token{Scopes: []string{"library.read"}, DPoPKey: f.key})
	creds := grpc.PerRPCCredentials(dpopgrpc.NewCredentials(f.key.Signer(t), func(context.Context) (string, error) { return tok, nil }, dpopgrpc.AllowInsecure()))
	for i := range 20 {
		if _, err := f.client.GetBook(ctx, &testpb.GetBookRequest{}, creds); err != nil {
			t.Fatalf("legitimate call %d after the flood = %v, want OK", i, err)
		}
	}
}
