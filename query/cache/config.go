package cache

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/redis/go-redis/v9"
)

// Defaults applied by New to the zero values of Config.
const (
	DefaultRedisTTL     = time.Hour
	DefaultRedisTimeout = 50 * time.Millisecond
	// MaxDefaultEntryBytes caps the default MaxEntryBytes (MaxBytes/8).
	MaxDefaultEntryBytes = 16 << 20
)

// Config of a Cache. Zero durations and a zero MaxEntryBytes take their
// defaults in New.
type Config struct {
	MaxBytes     int64         // bound of the L1 LRU in bytes (keys + values); 0 disables L1
	RedisURL     string        // optional L2, e.g. "redis://127.0.0.1:6379/0"; "" disables L2
	RedisTTL     time.Duration // expiry of L2 entries (default 1h)
	RedisTimeout time.Duration // per Redis operation (default 50ms); an L2 error or timeout is a miss, logged at debug, counted, never returned to the caller
	// MaxEntryBytes: values larger than this are not cached at either level
	// (default MaxBytes/8, at most 16 MiB; 16 MiB when L1 is disabled).
	MaxEntryBytes int64
}

// DefaultConfig is a 256 MiB L1 and no Redis.
func DefaultConfig() Config {
	c := Config{MaxBytes: 256 << 20, RedisTTL: DefaultRedisTTL, RedisTimeout: DefaultRedisTimeout}
	c.MaxEntryBytes = c.defaultMaxEntryBytes()
	return c
}

// LocalConfig is a small preset for tests: an 8 MiB L1 and no Redis.
func LocalConfig() Config {
	c := DefaultConfig()
	c.MaxBytes = 8 << 20
	c.MaxEntryBytes = c.defaultMaxEntryBytes()
	return c
}

// Validate reports every invalid field, each error naming it.
func (c Config) Validate() error {
	var errs []error
	if c.MaxBytes < 0 {
		errs = append(errs, fmt.Errorf("max-bytes: %d is negative", c.MaxBytes))
	}
	if c.MaxEntryBytes < 0 {
		errs = append(errs, fmt.Errorf("max-entry-bytes: %d is negative", c.MaxEntryBytes))
	}
	if c.RedisTTL < 0 {
		errs = append(errs, fmt.Errorf("redis-ttl: %s is negative", c.RedisTTL))
	}
	if c.RedisTimeout < 0 {
		errs = append(errs, fmt.Errorf("redis-timeout: %s is negative", c.RedisTimeout))
	}
	if c.RedisURL != "" {
		if _, err := redis.ParseURL(c.RedisURL); err != nil {
			// url.Error quotes the whole URL, password included: keep only
			// the reason.
			if ue := (*url.Error)(nil); errors.As(err, &ue) {
				err = ue.Err
			}
			errs = append(errs, fmt.Errorf("redis-url: %w", err))
		}
	}
	return errors.Join(errs...)
}

// withDefaults fills the zero fields that have a default.
func (c Config) withDefaults() Config {
	if c.RedisTTL == 0 {
		c.RedisTTL = DefaultRedisTTL
	}
	if c.RedisTimeout == 0 {
		c.RedisTimeout = DefaultRedisTimeout
	}
	if c.MaxEntryBytes == 0 {
		c.MaxEntryBytes = c.defaultMaxEntryBytes()
	}
	return c
}

func (c Config) defaultMaxEntryBytes() int64 {
	if c.MaxBytes <= 0 {
		return MaxDefaultEntryBytes
	}
	return min(c.MaxBytes/8, MaxDefaultEntryBytes)
}
