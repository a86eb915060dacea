package jwsmemo_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"

	"github.com/go-jose/go-jose/v4"
	"github.com/oauthgate/oauthgate/internal/jwsmemo"
)

// The header of the first token is parsed and remembered; a second token
// with the same header is verified without parsing it again.
func ExampleVerify() {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, nil)
	if err != nil {
		panic(err)
	}
	sign := func(payload string) string {
		jws, err := signer.Sign([]byte(payload))
		if err != nil {
			panic(err)
		}
		s, err := jws.CompactSerialize()
		if err != nil {
			panic(err)
		}
		return s
	}
	first, second := sign(`{"n":1}`), sign(`{"n":2}`)

	var memo jwsmemo.Memo[string]
	parsed, err := jose.ParseSignedCompact(first, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		panic(err)
	}
	memo.Put(first, parsed, "checked") // after checking alg, kid, typ
	h, ok := memo.Get(second)
	fmt.Println(ok, h.Value)
	payload, err := jwsmemo.Verify(h, second, &key.PublicKey)
	fmt.Println(string(payload), err)
	// Output:
	// true checked
	// {"n":2} <nil>
}
