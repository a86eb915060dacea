package dpophttp

// An Option configures a [Transport].
type Option interface{ apply(*Transport) }

type optionFunc func(*Transport)

func (f optionFunc) apply(t *Transport) { f(t) }

// AllowInsecure lets the Transport send tokens over cleartext http to any
// host, not only to loopback hosts: for tests and local development only,
// since anyone on the path can then read the token, the proofs and the
// answers, and use a proof in place of the client by holding the request
// back (a proof binds the request, not the connection).
// The default refuses such requests with [ErrInsecure]. Repeated calls
// change nothing.
func AllowInsecure() Option { return optionFunc(func(t *Transport) { t.insecure = true }) }
