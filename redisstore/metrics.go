package redisstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Names of the store's OpenTelemetry instruments and attributes.
const (
	meterName = "github.com/oauthgate/oauthgate/redisstore"

	metricCommands  = "oauthgate.redis.commands"
	metricDuration  = "oauthgate.redis.duration"
	metricFallbacks = "oauthgate.redis.fallbacks"

	keyOp     = "oauthgate.redis.op"
	keyResult = "oauthgate.result"
)

// Operations, the oauthgate.redis.op attribute.
const (
	opReplay = iota
	opGet
	opSet
	opLock
	opUnlock
	opProbe
	opPublish
	opEvents
	numOps
)

// opNames is static data: the attribute value of each operation.
var opNames = [numOps]string{"replay", "get", "set", "lock", "unlock", "probe", "publish", "events"}

// Results of a round trip, the oauthgate.result attribute.
const (
	resultOK = iota
	resultTimeout
	resultError
	resultBadValue // a GET whose value failed its tag
	numResults
)

// resultNames is static data: the attribute value of each result.
var resultNames = [numResults]string{"ok", "timeout", "error", "bad_value"}

// durationBuckets are the histogram's boundaries, in seconds: a loopback
// round trip takes tens of microseconds, the default Timeout is 50 ms.
// Static data, never modified.
var durationBuckets = []float64{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1}

// metrics are a Store's instruments, with the options of every attribute
// combination built once, so that recording allocates nothing.
type metrics struct {
	commands  metric.Int64Counter
	duration  metric.Float64Histogram
	fallbacks metric.Int64Counter
	add       [numOps][numResults][]metric.AddOption
	rec       [numOps][numResults][]metric.RecordOption
	fell      [numOps][]metric.AddOption
}

func newMetrics(mp metric.MeterProvider) (*metrics, error) {
	meter := mp.Meter(meterName)
	commands, err1 := meter.Int64Counter(metricCommands, metric.WithUnit("{command}"),
		metric.WithDescription("Round trips to Redis by operation (replay, get, set, lock, unlock, probe) and result (ok, timeout, error, bad_value)."))
	duration, err2 := meter.Float64Histogram(metricDuration, metric.WithUnit("s"),
		metric.WithDescription("Duration of round trips to Redis, by operation and result."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	fallbacks, err3 := meter.Int64Counter(metricFallbacks, metric.WithUnit("{call}"),
		metric.WithDescription("Calls that went on without Redis: replay (recorded in the process, InsecureLocalReplayFallback) or introspection (asked the authorization server)."))
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, fmt.Errorf("redisstore: Config.MeterProvider: %w", err)
	}
	m := &metrics{commands: commands, duration: duration, fallbacks: fallbacks}
	for op := range numOps {
		for res := range numResults {
			set := attribute.NewSet(attribute.String(keyOp, opNames[op]), attribute.String(keyResult, resultNames[res]))
			m.add[op][res] = []metric.AddOption{metric.WithAttributeSet(set)}
			m.rec[op][res] = []metric.RecordOption{metric.WithAttributeSet(set)}
		}
		what := "introspection"
		if op == opReplay {
			what = "replay"
		}
		m.fell[op] = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(attribute.String(keyOp, what)))}
	}
	return m, nil
}

// record counts and times one round trip of op that started at start and
// ended with err.
func (m *metrics) record(op int, start time.Time, err error) {
	d := time.Since(start).Seconds()
	res := resultOK
	var ne net.Error
	switch {
	case err == nil:
	case errors.Is(err, errBadValue):
		res = resultBadValue
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		res = resultTimeout
	default:
		res = resultError
	}
	ctx := context.Background()
	m.commands.Add(ctx, 1, m.add[op][res]...)
	m.duration.Record(ctx, d, m.rec[op][res]...)
}

// fellBack counts a call that went on without Redis after op failed.
func (m *metrics) fellBack(op int) {
	m.fallbacks.Add(context.Background(), 1, m.fell[op]...)
}
