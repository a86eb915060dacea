package conditions

// An Option configures [Compile].
type Option interface{ apply(*options) }

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

type options struct {
	costLimit uint64
}

// DefaultCostLimit is the cost budget of one condition, in CEL cost units
// (about one unit per variable, field selection, comparison or call, and
// one per ten bytes compared or per element searched): the most [Compile]
// accepts as a condition's estimated worst case, and the most one
// evaluation of a condition that iterates may spend. It admits a pass over
// a repeated field of the request and refuses nested passes; see the
// package documentation for the estimate's assumptions.
const DefaultCostLimit = 100_000

// WithCostLimit sets the cost budget of each condition, in CEL cost units:
// [Compile] refuses a condition whose estimated worst-case cost exceeds
// it, and an evaluation that reaches it stops with [ErrEvaluation]. The
// default is [DefaultCostLimit]. Later calls replace earlier ones. A
// build-time check must be given the same limit (protoc-gen-oauthgate's
// condition_cost_limit parameter) to agree with the server.
func WithCostLimit(limit uint64) Option {
	return optionFunc(func(o *options) { o.costLimit = limit })
}
