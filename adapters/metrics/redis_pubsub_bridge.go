package metrics

import "github.com/prometheus/client_golang/prometheus"

// RedisPubSubBridge counts what the Redis Pub/Sub bridge takes into the
// streams. Registered only when the bridge runs, so that services without
// it do not show its series.
type RedisPubSubBridge struct {
	appended       prometheus.Counter
	appendFailures *prometheus.CounterVec
	holder         prometheus.Gauge
}

// NewRedisPubSubBridge registers the bridge's collectors; once per Metrics.
func (m *Metrics) NewRedisPubSubBridge() (*RedisPubSubBridge, error) {
	b := &RedisPubSubBridge{
		appended: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "redis_pubsub_bridge_appended_total",
			Help: "Redis Pub/Sub messages appended to their stream.",
		}),
		appendFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "redis_pubsub_bridge_append_failures_total",
			Help: "Redis Pub/Sub messages that could not be appended to their stream (logged with their payload), by reason.",
		}, []string{"reason"}),
		holder: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "redis_pubsub_bridge_holder",
			Help: "1 while this process holds the bridge lease and is subscribed to the Pub/Sub channels.",
		}),
	}
	for _, c := range []prometheus.Collector{b.appended, b.appendFailures, b.holder} {
		if err := m.registry.Register(c); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func (b *RedisPubSubBridge) Appended() { b.appended.Inc() }
func (b *RedisPubSubBridge) AppendFailed(reason string) {
	b.appendFailures.WithLabelValues(reason).Inc()
}

// Holding records whether this process is the bridge holder.
func (b *RedisPubSubBridge) Holding(held bool) {
	if held {
		b.holder.Set(1)
		return
	}
	b.holder.Set(0)
}
