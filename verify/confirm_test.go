package verify

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"testing"
)

func thumb(b []byte) string {
	sum := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// TestConfirmation_Read: cnf is read by the one claim reader, for JWTs and
// introspection alike, and anything it cannot check is kept as Unknown.
func TestConfirmation_Read(t *testing.T) {
	t.Parallel()
	x5t, jkt := thumb([]byte("cert")), thumb([]byte("key"))
	tests := map[string]struct {
		in      string
		want    Confirmation
		wantErr bool
	}{
		"Bearer":         {in: `{}`},
		"NullCnf":        {in: `{"cnf":null}`},
		"X5T":            {in: `{"cnf":{"x5t#S256":"` + x5t + `"}}`, want: Confirmation{X5TS256: x5t}},
		"JKT":            {in: `{"cnf":{"jkt":"` + jkt + `"}}`, want: Confirmation{JKT: jkt}},
		"Both":           {in: `{"cnf":{"jkt":"` + jkt + `","x5t#S256":"` + x5t + `"}}`, want: Confirmation{X5TS256: x5t, JKT: jkt}},
		"EscapedName":    {in: `{"cnf":{"x5t\u0023S256":"` + x5t + `"}}`, want: Confirmation{X5TS256: x5t}},
		"JWK":            {in: `{"cnf":{"jwk":{"kty":"EC"}}}`, want: Confirmation{Unknown: true}},
		"KnownAndOther":  {in: `{"cnf":{"jkt":"` + jkt + `","kid":"k"}}`, want: Confirmation{JKT: jkt, Unknown: true}},
		"Empty":          {in: `{"cnf":{}}`, want: Confirmation{Unknown: true}},
		"OtherCase":      {in: `{"cnf":{"JKT":"` + jkt + `"}}`, want: Confirmation{Unknown: true}},
		"NotObject":      {in: `{"cnf":"` + jkt + `"}`, wantErr: true},
		"ShortThumbrint": {in: `{"cnf":{"jkt":"abc"}}`, wantErr: true},
		"Padded":         {in: `{"cnf":{"jkt":"` + jkt + `="}}`, wantErr: true},
		"NumberThumb":    {in: `{"cnf":{"x5t#S256":1}}`, wantErr: true},
		"RepeatedMember": {in: `{"cnf":{"jkt":"` + jkt + `","jkt":"` + jkt + `"}}`, wantErr: true},
		"RepeatedCnf":    {in: `{"cnf":{"jkt":"` + jkt + `"},"cnf":{}}`, wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, err := ParseClaims([]byte(tc.in))
			if tc.wantErr {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("ParseClaims(%s) error = %v, want ErrMalformed", tc.in, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, ok := c.Confirmation()
			if got != tc.want || ok != tc.want.Bound() {
				t.Errorf("Confirmation() = %+v, %t; want %+v", got, ok, tc.want)
			}
		})
	}
}

// TestCheckBinding is the table of RFC 8705 §3 and RFC 9449 §7.2: a bound
// token is never a bearer token.
func TestCheckBinding(t *testing.T) {
	t.Parallel()
	cert := &x509.Certificate{Raw: []byte("client certificate DER")}
	other := &x509.Certificate{Raw: []byte("another certificate DER")}
	jkt := thumb([]byte("dpop key"))
	bearer := &Claims{}
	certBound := &Claims{cnf: Confirmation{X5TS256: CertificateThumbprint(cert)}}
	dpopBound := &Claims{cnf: Confirmation{JKT: jkt}}
	dpopType := &Claims{cnf: Confirmation{DPoP: true}}
	unknown := &Claims{cnf: Confirmation{Unknown: true}}
	both := &Claims{cnf: Confirmation{X5TS256: CertificateThumbprint(cert), JKT: jkt}}
	tests := map[string]struct {
		c    *Claims
		p    Presentation
		want error
	}{
		"Bearer":                 {c: bearer},
		"BearerWithCertificate":  {c: bearer, p: Presentation{CertificateThumbprint: CertificateThumbprint(cert)}},
		"CertMatch":              {c: certBound, p: Presentation{CertificateThumbprint: CertificateThumbprint(cert)}},
		"CertMissing":            {c: certBound, want: ErrCertificateRequired},
		"CertOther":              {c: certBound, p: Presentation{CertificateThumbprint: CertificateThumbprint(other)}, want: ErrCertificateMismatch},
		"CertBoundWithDPoPOnly":  {c: certBound, p: Presentation{DPoPKeyThumbprint: jkt}, want: ErrCertificateRequired},
		"DPoPWithoutProof":       {c: dpopBound, p: Presentation{CertificateThumbprint: CertificateThumbprint(cert)}, want: ErrProofRequired},
		"DPoPMatch":              {c: dpopBound, p: Presentation{DPoPKeyThumbprint: jkt}},
		"DPoPOtherKey":           {c: dpopBound, p: Presentation{DPoPKeyThumbprint: thumb([]byte("x"))}, want: ErrProofKeyMismatch},
		"DPoPTypeWithoutJKT":     {c: dpopType, p: Presentation{DPoPKeyThumbprint: jkt}, want: ErrProofKeyMismatch},
		"DPoPTypeWithoutProof":   {c: dpopType, want: ErrProofRequired},
		"Unknown":                {c: unknown, p: Presentation{CertificateThumbprint: CertificateThumbprint(cert), DPoPKeyThumbprint: jkt}, want: ErrUnsupportedBinding},
		"BothNeedsBoth":          {c: both, p: Presentation{CertificateThumbprint: CertificateThumbprint(cert)}, want: ErrProofRequired},
		"BothSatisfied":          {c: both, p: Presentation{CertificateThumbprint: CertificateThumbprint(cert), DPoPKeyThumbprint: jkt}},
		"BothWrongCertRightDPoP": {c: both, p: Presentation{CertificateThumbprint: CertificateThumbprint(other), DPoPKeyThumbprint: jkt}, want: ErrCertificateMismatch},
	}
	for name, tc := range tests {
		err := CheckBinding(tc.c, tc.p)
		if tc.want == nil {
			if err != nil {
				t.Errorf("%s: CheckBinding() = %v, want nil", name, err)
			}
			continue
		}
		if !errors.Is(err, tc.want) || !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s: CheckBinding() = %v, want %v (an invalid token)", name, err, tc.want)
		}
	}
}
