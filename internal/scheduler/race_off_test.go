//go:build !race

package scheduler_test

// defaultShardTriggers is TestShardedReplicas' size: 10,000 triggers.
const defaultShardTriggers = 10_000
