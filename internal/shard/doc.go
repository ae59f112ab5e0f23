// Package shard says which scheduler replicas hold which cron triggers: each trigger (a key,
// "workflow/trigger") is held by Copies (two) of the live schedulers, chosen by rendezvous
// (highest random weight) hashing of the key and each member's id. The member of highest
// weight is the key's primary, the second its standby.
//
// It is pure: a Ring is one view of the membership (the live scheduler ids of the instance
// registry, internal/registry), and every member that sees the same members computes the same
// owners for every key, with no coordination and nothing stored.
//
// # Why rendezvous hashing
//
//   - Balance: each member is primary of about 1/n of the keys and standby of another 1/n, so it
//     holds about 2/n of them; capacity grows with the replicas.
//   - Minimal movement: a member's weight for a key does not depend on the other members, so a
//     member that joins takes only the keys it now ranks in the top two of (about 2/n of them,
//     one holding each: a share of about 1/n of all holdings), and a member that leaves gives up
//     only the keys it held. No other key changes hands.
//   - No ring state to agree on: no virtual nodes, no tokens; the owners of a key are a function
//     of the key and the set of member ids.
//
// The cost is O(n) weights per key per membership view, which for tens of replicas is nothing
// next to scheduling the trigger.
//
// # Weights
//
// Key and member ids are hashed with FNV-1a (64 bits, no seed, so every process agrees), and
// the weight of a (key, member) pair is splitmix64's finaliser of both: FNV alone would rank
// the members alike for keys that share a prefix.
package shard
