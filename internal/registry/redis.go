package registry

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// heartbeatScript writes an instance's record with its TTL and scores it in the live ZSET by
// its expiry, both by Redis's clock, in one step: a listing never sees one without the other.
// The record expires at that same instant (PXAT, not PX: a relative TTL would count from the
// command's own clock reading, a little after TIME's), so the record exists exactly while the
// listing keeps the id: Redis drops a key once now > its expiry, the listing an id once its
// score < now.
//
// KEYS[1] -> the live ZSET
// KEYS[2] -> the instance's record
// ARGV[1] -> the instance id
// ARGV[2] -> the record (JSON)
// ARGV[3] -> the TTL in milliseconds
//
// Returns the expiry (unix ms, Redis's clock).
var heartbeatScript = redis.NewScript(`
local t = redis.call("TIME")
local expiry = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[3])
redis.call("SET", KEYS[2], ARGV[2], "PXAT", expiry)
redis.call("ZADD", KEYS[1], expiry, ARGV[1])
return expiry
`)

// listScript drops the instances whose expiry has passed by Redis's clock (score < now, as a key
// expires once now > its expiry) from the live ZSET and returns the ids left.
//
// KEYS[1] -> the live ZSET
//
// Returns the ids of the live instances.
var listScript = redis.NewScript(`
local t = redis.call("TIME")
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call("ZREMRANGEBYSCORE", KEYS[1], "-inf", "(" .. now)
return redis.call("ZRANGE", KEYS[1], 0, -1)
`)

func (r *Registry) beat(ctx context.Context, self Instance) error {
	record, err := json.Marshal(self)
	if err != nil {
		return fmt.Errorf("encode instance: %w", err)
	}
	err = heartbeatScript.Run(ctx, r.client, []string{r.live, r.record + self.ID}, self.ID, record, r.ttl.Milliseconds()).Err()
	if err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	return nil
}

func (r *Registry) deregister(ctx context.Context, id string) error {
	_, err := r.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, r.record+id)
		p.ZRem(ctx, r.live, id)
		return nil
	})
	if err != nil {
		return fmt.Errorf("deregister: %w", err)
	}
	return nil
}

// list reads the live ids (listScript), then their records (MGET). A record that is gone
// although its id was live (evicted under maxmemory, or it expired between the two calls) is
// skipped, and its id removed from the ZSET; one that does not decode is skipped too.
func (r *Registry) list(ctx context.Context) ([]Instance, error) {
	ids, err := listScript.Run(ctx, r.client, []string{r.live}).StringSlice()
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, nil
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = r.record + id
	}
	records, err := r.client.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, err
	}
	out := make([]Instance, 0, len(ids))
	var gone []any
	for i, rec := range records {
		s, ok := rec.(string)
		if !ok {
			gone = append(gone, ids[i])
			continue
		}
		var in Instance
		if err := json.Unmarshal([]byte(s), &in); err != nil {
			r.logger.WarnContext(ctx, "instance record does not decode; skipped", "instance_id", ids[i], "error", err.Error())
			continue
		}
		out = append(out, in)
	}
	if len(gone) > 0 {
		// Best effort: a failure leaves ids that the next listing skips again.
		_ = r.client.ZRem(ctx, r.live, gone...).Err()
	}
	return out, nil
}
