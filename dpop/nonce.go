package dpop

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"time"
)

// nonces issues and checks server nonces (RFC 9449 §8) without state: a
// nonce is the HMAC of the current period number, so every replica that
// shares the key agrees, and a nonce stays valid for its period and the
// next.
type nonces struct {
	key    []byte
	period time.Duration
}

func newNonces(key []byte, period time.Duration) *nonces {
	if len(key) == 0 {
		key = make([]byte, 32)
		_, _ = rand.Read(key) // crypto/rand.Read never fails (Go 1.24+)
	}
	return &nonces{key: append([]byte(nil), key...), period: period}
}

func (n *nonces) at(period int64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(period))
	m := hmac.New(sha256.New, n.key)
	m.Write(b[:])
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

func (n *nonces) current(now time.Time) string { return n.at(now.UnixNano() / int64(n.period)) }

// valid reports whether s is the nonce of now's period or the one before.
func (n *nonces) valid(s string, now time.Time) bool {
	p := now.UnixNano() / int64(n.period)
	return hmac.Equal([]byte(s), []byte(n.at(p))) || hmac.Equal([]byte(s), []byte(n.at(p-1)))
}
