package reports

import (
	"log/slog"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"

	"github.com/oauthgate/oauthgate/interceptor"
	"github.com/oauthgate/oauthgate/resource"
)

// An Option configures [NewServer].
type Option interface{ apply(*options) }

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

type options struct {
	service     *Service
	realm       string
	logger      *slog.Logger
	gateOpts    []interceptor.Option
	meta        *resource.Metadata
	grpcOptions []grpc.ServerOption
	health      *health.Server
	origins     []string // browser origins allowed by CORS (NewConnectHandler)
}

// WithService serves svc. The default is a new Service seeded with
// [DemoReports]. Later calls replace earlier ones.
func WithService(svc *Service) Option {
	return optionFunc(func(o *options) { o.service = svc })
}

// WithRealm sets the realm of www-authenticate challenges. The default is
// "reports". Later calls replace earlier ones.
func WithRealm(realm string) Option {
	return optionFunc(func(o *options) { o.realm = realm })
}

// WithLogger makes the interceptor log denied calls to l (see
// [interceptor.WithLogger]); it never logs tokens. The default logs
// nothing. Later calls replace earlier ones.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(o *options) { o.logger = l })
}

// WithInterceptorOptions adds options for the interceptor, applied after
// the realm, logger and conditions evaluator that NewServer sets, so they
// can replace them or add to them (interceptor.WithClock, or
// interceptor.WithAuthorizer for a check that needs data, for example).
// [NewConnectHandler] applies them to its connectgate.Gate: an
// interceptor.Option is a connectgate.Option. Repeated calls add options.
func WithInterceptorOptions(opts ...interceptor.Option) Option {
	return optionFunc(func(o *options) { o.gateOpts = append(o.gateOpts, opts...) })
}

// WithGRPCOptions adds options to grpc.NewServer, such as transport
// credentials or more interceptors, which run after oauthgate's. Repeated
// calls add options. [NewConnectHandler] refuses it.
func WithGRPCOptions(opts ...grpc.ServerOption) Option {
	return optionFunc(func(o *options) { o.grpcOptions = append(o.grpcOptions, opts...) })
}

// WithResourceMetadata publishes m, the service's protected resource
// metadata (RFC 9728): challenges name its URL, and
// oauthgate.v1.ResourceMetadataService serves it over gRPC, public. The
// default publishes none.
func WithResourceMetadata(m *resource.Metadata) Option {
	return optionFunc(func(o *options) { o.meta = m })
}

// WithHealth registers hs as the grpc health service, so that the caller
// sets its statuses, with [readiness.Watch] for instance. The default is a
// health server that always reports SERVING. Later calls replace earlier
// ones. [NewConnectHandler] refuses it.
//
// [readiness.Watch]: https://pkg.go.dev/github.com/oauthgate/oauthgate/readiness#Watch
func WithHealth(hs *health.Server) Option {
	return optionFunc(func(o *options) { o.health = hs })
}

// WithCORS lets web pages from origins ("https://app.example.com", exactly
// as browsers send the Origin header: lower case, no default port, no
// path) call the handler of [NewConnectHandler]: it answers their CORS
// preflight requests itself, before oauthgate, and exposes the
// WWW-Authenticate and DPoP-Nonce headers of oauthgate's answers to their
// scripts. The default allows no origin: browsers then refuse
// scripts on other origins any answer. [NewServer] refuses it, since
// browsers cannot call grpc-go servers. Repeated calls add origins.
func WithCORS(origins ...string) Option {
	return optionFunc(func(o *options) { o.origins = append(o.origins, origins...) })
}
