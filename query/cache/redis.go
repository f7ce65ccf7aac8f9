package cache

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

const (
	// redisKeyPrefix namespaces the L2 keys; the caller's key is hashed so
	// that any key (any length, any bytes) is a safe Redis key.
	redisKeyPrefix = "starling:qc:v1:"
	// envelopeVersion is the first byte of every stored value.
	envelopeVersion = 1
)

var (
	errEnvelopeVersion   = errors.New("unknown envelope version")
	errEnvelopeTruncated = errors.New("truncated envelope")
	errEnvelopeKey       = errors.New("envelope holds another key")
)

// redisKey is the Redis key of a caller's key.
func redisKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return redisKeyPrefix + hex.EncodeToString(sum[:])
}

// encodeEnvelope is what L2 stores under redisKey(key): the format version,
// the caller's key (uvarint length, then bytes) and the value.
func encodeEnvelope(key string, val []byte) []byte {
	b := make([]byte, 0, 1+binary.MaxVarintLen64+len(key)+len(val))
	b = append(b, envelopeVersion)
	b = binary.AppendUvarint(b, uint64(len(key)))
	b = append(b, key...)
	return append(b, val...)
}

// decodeEnvelope returns the value of an envelope if it is of a known
// version and holds key (a hash collision or a foreign writer otherwise).
// The value shares b.
func decodeEnvelope(key string, b []byte) ([]byte, error) {
	if len(b) == 0 {
		return nil, errEnvelopeTruncated
	}
	if b[0] != envelopeVersion {
		return nil, fmt.Errorf("%w %d", errEnvelopeVersion, b[0])
	}
	n, w := binary.Uvarint(b[1:])
	if w <= 0 {
		return nil, errEnvelopeTruncated
	}
	rest := b[1+w:]
	if n > uint64(len(rest)) {
		return nil, errEnvelopeTruncated
	}
	if string(rest[:n]) != key {
		return nil, errEnvelopeKey
	}
	return rest[n:], nil
}

// l2 is the Redis level. Every operation is bounded by timeout; the caller
// counts and logs its errors and never passes them on.
type l2 struct {
	client  *redis.Client
	ttl     time.Duration
	timeout time.Duration
	log     *slog.Logger
}

// newL2 creates the client of cfg.RedisURL (go-redis connects lazily) and
// pings once, only logging a failure: Redis may come up later.
func newL2(cfg Config, log *slog.Logger) (*l2, error) {
	opt, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("redis-url: %w", err)
	}
	// One budget for every step of an operation, whatever the URL says: a
	// slow or absent Redis must cost a query at most cfg.RedisTimeout.
	opt.DialTimeout = cfg.RedisTimeout
	opt.ReadTimeout = cfg.RedisTimeout
	opt.WriteTimeout = cfg.RedisTimeout
	opt.PoolTimeout = cfg.RedisTimeout
	opt.ContextTimeoutEnabled = true
	opt.DialerRetries = 1 // one attempt; the pool itself redials in the background after repeated failures
	opt.MaxRetries = -1   // a cache miss is cheaper than a retry
	opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	r := &l2{client: redis.NewClient(opt), ttl: cfg.RedisTTL, timeout: cfg.RedisTimeout, log: log}
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
	defer cancel()
	if err := r.client.Ping(ctx).Err(); err != nil {
		log.Warn("query cache: redis not answering at start; L2 lookups miss until it does",
			slog.String("addr", opt.Addr), slog.Any("err", err))
	} else {
		log.Debug("query cache: redis answering", slog.String("addr", opt.Addr))
	}
	return r, nil
}

// get returns the value of key; found is false for an absent key and for an
// envelope that is not key's (logged at debug), err is set only when Redis
// failed or timed out.
func (r *l2) get(ctx context.Context, key string) (val []byte, found bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	b, err := r.client.Get(ctx, redisKey(key)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("redis get: %w", err)
	}
	val, err = decodeEnvelope(key, b)
	if err != nil {
		r.log.Debug("query cache: redis entry ignored", slog.String("redis_key", redisKey(key)), slog.Any("err", err))
		return nil, false, nil
	}
	return val, true, nil
}

// set stores val under key with the TTL. The caller's cancellation does not
// cut it short (the result is worth keeping even if its requester left), its
// timeout does.
func (r *l2) set(ctx context.Context, key string, val []byte) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.timeout)
	defer cancel()
	if err := r.client.Set(ctx, redisKey(key), encodeEnvelope(key, val), r.ttl).Err(); err != nil {
		return fmt.Errorf("redis set: %w", err)
	}
	return nil
}

func (r *l2) close() error {
	if err := r.client.Close(); err != nil {
		return fmt.Errorf("close redis client: %w", err)
	}
	return nil
}
