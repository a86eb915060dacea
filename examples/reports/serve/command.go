package serve

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/oauthgate/oauthgate/verify"
)

// secretEnv names the environment variable read when -client-secret is not
// given.
const secretEnv = "OAUTHGATE_CLIENT_SECRET"

// Timeouts of the server's lifecycle.
const (
	// startTimeout bounds the wait at start-up for the first JWKS and the
	// first answer of the introspection endpoint, together.
	startTimeout = 10 * time.Second
	// stopTimeout bounds the graceful stop; calls still running after it
	// are cut.
	stopTimeout = 10 * time.Second
	// readHeaderTimeout bounds the request headers of the HTTP listeners
	// (-metadata-addr and every Endpoint), against slowloris clients.
	readHeaderTimeout = 5 * time.Second
)

// Listener names passed to [Command].OnListen besides the Endpoints'.
const (
	listenerGRPC     = "grpc"
	listenerMetadata = "metadata"
	listenerSSF      = "ssf"
)

// A Command is the example server's command line. The zero Command is the
// command of examples/reports/server. A Command must not be modified while
// [Command.Main] runs; Main may run several times, one after another or at
// once, if the listen addresses allow it.
type Command struct {
	// Name names the command at the start of its command-line errors. If
	// empty, "server" is used.
	Name string
	// MeterProvider receives the OpenTelemetry metrics of the interceptor
	// ([interceptor.WithMeterProvider]), of the key set
	// (RemoteKeySetConfig.MeterProvider), of the verified-token cache
	// (JWTConfig.MeterProvider) and of introspection
	// (IntrospectionConfig.MeterProvider). If nil, the interceptor and the
	// key set use the global provider (otel.GetMeterProvider), which
	// records nothing until an SDK is installed, and the caches and
	// introspection record nothing. It only observes calls.
	MeterProvider metric.MeterProvider
	// Endpoints are HTTP handlers served beside the gRPC server, each on
	// a listener of its own. Each adds its address flag to the command
	// line. Their names and flags must be unique, and must not be those
	// of the server; Main reports a bad Endpoint before parsing.
	Endpoints []Endpoint
	// OnListen, if not nil, is called with the name and address of each
	// listener once it listens, before the server serves: "metadata" for
	// -metadata-addr and each Endpoint's Name, then "grpc" for -addr,
	// always last. Tests use it to learn the ports of "127.0.0.1:0".
	OnListen func(name string, addr net.Addr)
}

// Main runs the command with args (the command line without the program
// name) until ctx ends, then stops gracefully, and returns the exit status:
// 0, 1 if the server failed or c is not valid (see Endpoints), or 2 if
// the command line is invalid. Both are reported before anything listens. getenv supplies
// OAUTHGATE_CLIENT_SECRET (os.Getenv in a main). Usage, command-line
// errors and the log (log/slog, in the -log-format) go to stderr.
func (c Command) Main(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) int {
	if err := c.check(); err != nil {
		fmt.Fprintln(stderr, c.name()+":", err)
		return 1
	}
	cfg, err := c.parse(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, c.name()+":", err)
		return 2
	}
	logger := newLogger(stderr, cfg.logFormat)
	if err := c.run(ctx, cfg, logger); err != nil {
		logger.Error("server stopped", "error", oneLine(err))
		return 1
	}
	return 0
}

func (c Command) name() string {
	if c.Name == "" {
		return "server"
	}
	return c.Name
}

// config is the validated command line.
type config struct {
	addr         string
	issuer       string
	jwks         string
	audiences    []string
	allowUntyped bool
	introspect   string
	clientID     string
	clientSecret verify.Secret // redacts itself when printed or logged
	insecureHTTP bool
	logFormat    string
	decisionLog  bool
	tlsCert      string        // PEM certificate chain: serve TLS
	tlsKey       string        // PEM private key of tlsCert
	clientCA     string        // PEM CA bundle: require client certificates (mTLS)
	origins      []string      // public origins for DPoP htu, behind a proxy
	resource     string        // RFC 9728 resource identifier
	metadataAddr string        // HTTP listen address for the metadata document
	endpoints    []string      // listen address of each Command.Endpoints; "" is off
	connect      bool          // serve with connect-go instead of grpc-go
	corsOrigins  []string      // web origins allowed by CORS (with connect)
	ssfIssuer    string        // Shared Signals transmitter whose pushed events end sessions
	ssfAudience  string        // this receiver's aud in the transmitter's SETs
	ssfAddr      string        // HTTP listen address of the push endpoint
	ssfRetention time.Duration // how long events are remembered
}

// listFlag collects the values of a flag, repeated or comma-separated.
type listFlag []string

func (a *listFlag) String() string { return strings.Join(*a, ",") }

func (a *listFlag) Set(v string) error {
	for s := range strings.SplitSeq(v, ",") {
		if s = strings.TrimSpace(s); s == "" {
			return errors.New("empty value in a list")
		}
		*a = append(*a, s)
	}
	return nil
}

// parse parses and validates args (without the program name). getenv
// supplies OAUTHGATE_CLIENT_SECRET; -h prints the usage to usage. Every
// problem it finds is reported before anything is started.
func (c Command) parse(args []string, getenv func(string) string, usage io.Writer) (config, error) {
	var cfg config
	var secret string
	fs, err := c.flagSet(&cfg, &secret)
	if err != nil {
		return config{}, err
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(usage)
			fs.PrintDefaults()
		}
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if secret == "" {
		secret = getenv(secretEnv)
	}
	cfg.clientSecret = verify.Secret(secret)
	if err := cfg.validate(); err != nil {
		return config{}, err
	}
	return cfg, c.validateEndpoints(cfg)
}

// flagSet returns the command's flags, which set cfg and secret: the
// server's, then each Endpoint's address flag. It reports a bad Endpoint.
func (c Command) flagSet(cfg *config, secret *string) (*flag.FlagSet, error) {
	fs := flag.NewFlagSet(c.name(), flag.ContinueOnError)
	fs.SetOutput(io.Discard) // Main prints the error; -h prints usage in parse
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:50051", "listen `address`")
	fs.StringVar(&cfg.issuer, "issuer", "", "issuer identifier `URL`: the iss of JWT access tokens; discovery finds the JWKS when -jwks is omitted")
	fs.StringVar(&cfg.jwks, "jwks", "", "JWKS `URL`, instead of discovery")
	fs.Var((*listFlag)(&cfg.audiences), "audience", "this service's audience; repeat or comma-separate (required)")
	fs.BoolVar(&cfg.allowUntyped, "allow-untyped", false, `also accept JWTs with typ "JWT" or no typ, for issuers without RFC 9068`)
	fs.StringVar(&cfg.introspect, "introspect", "", "RFC 7662 introspection endpoint `URL`, for opaque tokens")
	fs.StringVar(&cfg.clientID, "client-id", "", "client `ID` for introspection")
	fs.StringVar(secret, "client-secret", "", "client `secret` for introspection (default $"+secretEnv+")")
	fs.BoolVar(&cfg.insecureHTTP, "insecure-http", false, "allow http:// endpoints on loopback hosts (local tests only)")
	fs.StringVar(&cfg.logFormat, "log-format", "text", "log `format`: text or json")
	fs.BoolVar(&cfg.decisionLog, "decision-log", false, "log every authorization decision, allowed calls included, with the token's client_id and sub (never the token)")
	fs.StringVar(&cfg.tlsCert, "tls-cert", "", "PEM certificate chain `file`: serve TLS (with -tls-key)")
	fs.StringVar(&cfg.tlsKey, "tls-key", "", "PEM private key `file` of -tls-cert")
	fs.StringVar(&cfg.clientCA, "client-ca", "", "PEM CA bundle `file`: require client certificates signed by it (mTLS, for certificate-bound tokens)")
	fs.StringVar(&cfg.resource, "resource", "", "resource identifier `URL` (https): publish RFC 9728 protected resource metadata over gRPC and name it in challenges")
	fs.StringVar(&cfg.metadataAddr, "metadata-addr", "", "HTTP listen `address` serving the metadata document at /.well-known/oauth-protected-resource (needs -resource)")
	fs.StringVar(&cfg.ssfIssuer, "ssf-transmitter", "", "issuer `URL` of a Shared Signals transmitter: receive its pushed CAEP/RISC events (RFC 8935) on -ssf-addr at /ssf/events and refuse the tokens, and end the streams, of revoked sessions")
	fs.StringVar(&cfg.ssfAudience, "ssf-audience", "", "this receiver's `audience` in the transmitter's events (with -ssf-transmitter)")
	fs.StringVar(&cfg.ssfAddr, "ssf-addr", "", "HTTP listen `address` of the event push endpoint (with -ssf-transmitter)")
	fs.DurationVar(&cfg.ssfRetention, "ssf-retention", time.Hour, "how long events are remembered: the longest lifetime of the accepted tokens")
	fs.Var((*listFlag)(&cfg.origins), "public-origin", "public `origin` (https://host[:port]) that DPoP proofs name behind a proxy; repeat or comma-separate")
	fs.BoolVar(&cfg.connect, "connect", false, "serve with connect-go: the Connect protocol, gRPC and gRPC-Web on -addr, over HTTP/1.1 and HTTP/2 (h2c without TLS); no grpc health or reflection")
	fs.Var((*listFlag)(&cfg.corsOrigins), "cors-origin", "web `origin` (scheme://host[:port]) whose scripts may call the server, with -connect; repeat or comma-separate")
	if err := c.endpointFlags(fs, cfg); err != nil {
		return nil, err
	}
	return fs, nil
}

// check reports a bad Command: an Endpoint that cannot be served.
func (c Command) check() error {
	_, err := c.flagSet(&config{}, new(string))
	return err
}

// validate checks the combination of the server's flags.
func (c *config) validate() error {
	if _, _, err := net.SplitHostPort(c.addr); err != nil {
		return fmt.Errorf("-addr %q: want host:port", c.addr)
	}
	if c.issuer == "" && c.jwks == "" && c.introspect == "" {
		return errors.New("set -issuer (JWT access tokens), -introspect (opaque tokens), or both")
	}
	if c.jwks != "" && c.issuer == "" {
		return errors.New("-jwks needs -issuer: tokens' iss claim must be checked")
	}
	if len(c.audiences) == 0 {
		return errors.New("-audience is required: a resource server must check the aud of its tokens")
	}
	for _, u := range []struct{ flag, value string }{{"-issuer", c.issuer}, {"-jwks", c.jwks}, {"-introspect", c.introspect}} {
		if err := checkURL(u.value, c.insecureHTTP); u.value != "" && err != nil {
			return fmt.Errorf("%s: %w", u.flag, err)
		}
	}
	switch {
	case c.introspect == "" && (c.clientID != "" || c.clientSecret != ""):
		return errors.New("-client-id and -client-secret are for -introspect, which is not set")
	case c.introspect != "" && c.clientID == "":
		return errors.New("-introspect needs -client-id")
	case c.introspect != "" && c.clientSecret == "":
		return errors.New("-introspect needs -client-secret or $" + secretEnv)
	}
	switch {
	case (c.tlsCert == "") != (c.tlsKey == ""):
		return errors.New("-tls-cert and -tls-key go together")
	case c.clientCA != "" && c.tlsCert == "":
		return errors.New("-client-ca needs TLS: set -tls-cert and -tls-key")
	case c.metadataAddr != "" && c.resource == "":
		return errors.New("-metadata-addr needs -resource")
	case c.resource != "" && c.issuer == "":
		return errors.New("-resource needs -issuer: the metadata names the authorization server")
	case len(c.corsOrigins) > 0 && !c.connect:
		return errors.New("-cors-origin needs -connect: browsers cannot call a grpc-go server")
	}
	if c.metadataAddr != "" {
		if _, _, err := net.SplitHostPort(c.metadataAddr); err != nil {
			return fmt.Errorf("-metadata-addr %q: want host:port", c.metadataAddr)
		}
	}
	if err := c.validateSSF(); err != nil {
		return err
	}
	if c.logFormat != "text" && c.logFormat != "json" {
		return fmt.Errorf("-log-format %q: want text or json", c.logFormat)
	}
	return nil
}

// checkURL accepts an absolute https URL, or an http URL on a loopback host
// when insecure is set. The verify constructors check again; this gives the
// flag's name in the message.
func checkURL(raw string, insecure bool) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return errors.New("not an absolute URL")
	}
	if u.User != nil {
		return errors.New("must not contain user information")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if !insecure {
			return errors.New("http:// needs -insecure-http (loopback hosts only)")
		}
		if !isLoopback(u.Hostname()) {
			return errors.New("http:// is allowed only for loopback hosts")
		}
		return nil
	default:
		return fmt.Errorf("scheme %q: want https", u.Scheme)
	}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// validateSSF checks the -ssf-* flags: all of -ssf-transmitter,
// -ssf-audience and -ssf-addr, or none.
func (c *config) validateSSF() error {
	switch {
	case c.ssfIssuer == "" && (c.ssfAudience != "" || c.ssfAddr != ""):
		return errors.New("-ssf-audience and -ssf-addr are for -ssf-transmitter, which is not set")
	case c.ssfIssuer == "":
		return nil
	case c.ssfAudience == "" || c.ssfAddr == "":
		return errors.New("-ssf-transmitter needs -ssf-audience and -ssf-addr")
	case c.ssfRetention <= 0:
		return errors.New("-ssf-retention must be positive")
	}
	if err := checkURL(c.ssfIssuer, c.insecureHTTP); err != nil {
		return fmt.Errorf("-ssf-transmitter: %w", err)
	}
	if _, _, err := net.SplitHostPort(c.ssfAddr); err != nil {
		return fmt.Errorf("-ssf-addr %q: want host:port", c.ssfAddr)
	}
	return nil
}
