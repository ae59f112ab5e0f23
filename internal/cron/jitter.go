package cron

import (
	"crypto/md5" //nolint:gosec // md5 is the seed's jitter formula, not a security measure.
	"encoding/binary"
	"time"
)

// DefaultJitterWindowSeconds is the jitter window of a trigger that does not name one.
const DefaultJitterWindowSeconds = 300

// JitterSeconds is the seed's formula, bit for bit:
//
//	jitter_seconds = int(md5(workflow_id).hexdigest()[:8], 16) % window
//
// The first eight hex digits of the digest are its first four bytes read big-endian. The id is
// hashed as its UTF-8 bytes, so the same id gets the same offset in every process and language.
// A window of 0 or less turns jitter off.
func JitterSeconds(workflowID string, windowSeconds int) int {
	if windowSeconds <= 0 {
		return 0
	}
	sum := md5.Sum([]byte(workflowID)) //nolint:gosec // see the import.
	return int(uint64(binary.BigEndian.Uint32(sum[:4])) % uint64(windowSeconds))
}

// JitterOffset is JitterSeconds as a duration.
func JitterOffset(workflowID string, windowSeconds int) time.Duration {
	return time.Duration(JitterSeconds(workflowID, windowSeconds)) * time.Second
}
