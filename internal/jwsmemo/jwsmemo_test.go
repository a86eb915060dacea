package jwsmemo

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"strings"
	"sync"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

func sign(t *testing.T, key *ecdsa.PrivateKey, payload string) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign([]byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestMemo(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	a, b := sign(t, key, `{"n":1}`), sign(t, key, `{"n":2}`)
	var m Memo[int]
	if _, ok := m.Get(a); ok {
		t.Fatal("Get() on an empty memo hit")
	}
	jws, err := jose.ParseSignedCompact(a, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	m.Put(a, jws, 7)
	h, ok := m.Get(b) // same header segment
	if !ok || h.Value != 7 || h.Protected().Algorithm != "ES256" {
		t.Fatalf("Get(token with the same header) = %v, %t", h, ok)
	}
	if p, err := Verify(h, b, &key.PublicKey); err != nil || string(p) != `{"n":2}` {
		t.Errorf("Verify(b) = %q, %v; want b's own payload", p, err)
	}
	if _, err := Verify(h, b, &other.PublicKey); err == nil {
		t.Error("Verify() with another key succeeded")
	}
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	if _, err := Verify(h, pa[0]+"."+pb[1]+"."+pa[2], &key.PublicKey); err == nil {
		t.Error("Verify() of a payload under another token's signature succeeded")
	}
	if _, err := Verify(h, pa[0]+".!!."+pa[2], &key.PublicKey); err != ErrMalformed {
		t.Errorf("Verify(bad base64) = %v, want ErrMalformed", err)
	}
}

func TestMemo_Concurrent(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tok := sign(t, key, `{}`)
	jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	var m Memo[struct{}]
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			h, ok := m.Get(tok)
			if !ok {
				h = m.Put(tok, jws, struct{}{})
			}
			if _, err := Verify(h, tok, &key.PublicKey); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}
