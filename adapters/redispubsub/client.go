package redispubsub

import "github.com/redis/go-redis/v9"

// NewClient is a client for the bridge and the channel publisher made from
// a copy of opts. It sends each command once: go-redis otherwise repeats a
// command whose reply was lost, and an append that did happen would then
// happen twice.
func NewClient(opts redis.Options) *redis.Client {
	opts.MaxRetries = -1
	return redis.NewClient(&opts)
}
