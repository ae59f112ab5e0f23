//go:build race

package scheduler_test

// defaultShardTriggers is TestShardedReplicas' size under the race detector, which costs
// several times the run time: CI's race step runs this package.
const defaultShardTriggers = 1_000
