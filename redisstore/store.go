package redisstore

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valkey-io/valkey-go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"

	"github.com/oauthgate/oauthgate/dpop"
	"github.com/oauthgate/oauthgate/verify"
)

// A Store is both seams, on one client: dpop.ReplayStore for
// dpop.Config.ReplayStore and verify.IntrospectionCache for
// verify.IntrospectionConfig.SharedCache.
var (
	_ dpop.ReplayStore          = (*Store)(nil)
	_ verify.IntrospectionCache = (*Store)(nil)
)

// Defaults and limits of [Config].
const (
	defaultPrefix  = "oauthgate:"
	defaultTimeout = 50 * time.Millisecond
	minSecret      = 32
	maxPrefix      = 64
)

// Config configures a [Store]. It must not be modified after it is passed
// to [New].
type Config struct {
	// Secret keys the names of the entries (HMAC-SHA256 of the digests
	// oauthgate passes, never a token or a proof) and authenticates the
	// introspection results stored. Required, at least 32 bytes; every
	// replica must have the same. Whoever knows it and can write to the
	// server can make replicas accept tokens: keep it with the
	// introspection client secret.
	Secret []byte
	// Prefix starts the name of every entry, so that one server can hold
	// the entries of several services (each with a Secret of its own) or
	// other data. If empty, "oauthgate:" is used; at most 64 bytes.
	Prefix string
	// Timeout bounds each round trip. A call to the server that takes
	// longer fails: a DPoP proof is then refused with Unavailable (fail
	// closed) and an introspection asks the authorization server. Every
	// DPoP call waits for one round trip, so keep it small; if zero, 50 ms
	// is used.
	Timeout time.Duration
	// InsecureLocalReplayFallback makes a failed replay check fall back to
	// the in-process replay cache of the dpop.Verifier
	// ([dpop.ErrInProcessFallback]) instead of refusing the call: DPoP
	// calls keep working while the server is down, but a proof replayed
	// to another replica meanwhile is accepted. Each fallback is counted
	// (oauthgate.redis.fallbacks, op "replay"). The default is to fail
	// closed.
	InsecureLocalReplayFallback bool
	// MeterProvider receives the store's OpenTelemetry metrics. If nil,
	// the global provider is used, which records nothing until the
	// application installs an SDK.
	MeterProvider metric.MeterProvider
}

// A Store keeps oauthgate's fleet-shared state in Redis or Valkey through
// a client the application configured. It is safe for concurrent use. It
// starts no goroutine and does not own the client: closing the client is
// the application's business, after the verifiers using the Store are
// done.
type Store struct {
	client   valkey.Client
	prefix   string
	timeout  time.Duration
	fallback bool
	names    hmacPool // names of entries
	values   hmacPool // tags of introspection values
	metrics  *metrics
	// ready is whether the last round trip that ended on the server's
	// account succeeded (see Ready).
	ready atomic.Bool
}

// New returns a Store that reaches the server through client, or an error
// naming the field of cfg at fault. It sends nothing: call [Store.Probe]
// to check the server at start-up.
func New(client valkey.Client, cfg Config) (*Store, error) {
	switch {
	case client == nil:
		return nil, errors.New("redisstore: client is nil; pass a valkey.Client")
	case len(cfg.Secret) < minSecret:
		return nil, fmt.Errorf("redisstore: Config.Secret has %d bytes; at least %d random bytes are required, the same on every replica", len(cfg.Secret), minSecret)
	case len(cfg.Prefix) > maxPrefix:
		return nil, fmt.Errorf("redisstore: Config.Prefix is longer than %d bytes", maxPrefix)
	case cfg.Timeout < 0:
		return nil, errors.New("redisstore: Config.Timeout is negative; use 0 for the 50ms default")
	}
	s := &Store{
		client:   client,
		prefix:   cmp.Or(cfg.Prefix, defaultPrefix),
		timeout:  cmp.Or(cfg.Timeout, defaultTimeout),
		fallback: cfg.InsecureLocalReplayFallback,
		names:    newHMACPool(derive(cfg.Secret, "oauthgate redisstore names")),
		values:   newHMACPool(derive(cfg.Secret, "oauthgate redisstore values")),
	}
	mp := cfg.MeterProvider
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	var err error
	if s.metrics, err = newMetrics(mp); err != nil {
		return nil, err
	}
	return s, nil
}

// Kinds of entry: the first letters of a name after the prefix.
const (
	kindReplay = "r:"
	kindValue  = "i:"
	kindLock   = "l:"
)

// name returns the name of the entry of kind for key: the prefix, the
// kind and the hex HMAC of key.
func (s *Store) name(kind string, key [32]byte) string {
	var sum [sha256.Size]byte
	s.names.sum(sum[:0], key[:])
	var buf [maxPrefix + 2 + 2*sha256.Size]byte
	b := append(buf[:0], s.prefix...)
	b = append(b, kind...)
	b = hex.AppendEncode(b, sum[:])
	return string(b)
}

// Ready reports whether the last round trip to the server succeeded:
// false until one has, and after one that failed (unreachable, slower than
// Timeout, an error reply such as out of memory), true again after one
// that succeeded. Round trips cut short by their caller's context change
// nothing. It is an atomic load, safe for concurrent use, for package
// readiness: a Store is a readiness.Prober.
//
// Add the Store to the readiness sources when DPoP calls depend on it,
// that is, without InsecureLocalReplayFallback: a replica whose replay
// store is down refuses every DPoP call. The shared introspection cache
// alone needs no readiness: without it, replicas ask the authorization
// server.
func (s *Store) Ready() bool { return s.ready.Load() }

// Probe writes a short-lived entry (prefix + "probe", for one second) and
// updates what [Store.Ready] reports: a write, because a server out of
// memory under the noeviction policy answers reads and PING but refuses
// the writes that DPoP calls need. It returns the server's error, or nil.
func (s *Store) Probe(ctx context.Context) error {
	return s.do(ctx, opProbe, s.client.B().Set().Key(s.prefix+"probe").Value("1").PxMilliseconds(1000).Build(), expectOK)
}

// do sends cmd with the store's Timeout, hands the reply to check unless
// it is an error (a nil reply is not), and records the round trip and
// what Ready reports. It returns the reply's error, or check's.
func (s *Store) do(ctx context.Context, op int, cmd valkey.Completed, check func(valkey.ValkeyResult) error) error {
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	start := time.Now()
	res := s.client.Do(ctx, cmd)
	err := res.Error()
	if (err == nil || valkey.IsValkeyNil(err)) && check != nil {
		err = check(res)
	} else if valkey.IsValkeyNil(err) {
		err = nil
	}
	s.metrics.record(op, start, err)
	switch {
	case err == nil || errors.Is(err, errBadValue): // the server answered
		s.ready.Store(true)
	case parent.Err() == nil:
		// The server's failure, or the store's own Timeout; not a caller
		// that gave up.
		s.ready.Store(false)
	}
	if err != nil {
		return fmt.Errorf("redisstore: %s: %w", opNames[op], err)
	}
	return nil
}

// errReply reports a reply that is no answer to the command sent.
var errReply = errors.New("unexpected reply")

// errBadValue reports an introspection value without the tag of its key.
var errBadValue = errors.New("value without a valid tag")

// expectOK is the check of a command whose answer is OK.
func expectOK(res valkey.ValkeyResult) error {
	if v, err := res.ToString(); err != nil || v != "OK" {
		return errReply
	}
	return nil
}

// derive returns the key for one use of secret.
func derive(secret []byte, use string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(use))
	return m.Sum(nil)
}

// hmacPool hands out HMAC-SHA256 states under one key: hmac.New costs
// allocations and two block hashes, Reset neither.
type hmacPool struct{ pool *sync.Pool }

func newHMACPool(key []byte) hmacPool {
	return hmacPool{pool: &sync.Pool{New: func() any { return hmac.New(sha256.New, key) }}}
}

// sum appends the HMAC of the concatenation of parts to dst.
func (p hmacPool) sum(dst []byte, parts ...[]byte) []byte {
	m := p.pool.Get().(hash.Hash)
	m.Reset()
	for _, b := range parts {
		m.Write(b)
	}
	dst = m.Sum(dst)
	p.pool.Put(m)
	return dst
}
