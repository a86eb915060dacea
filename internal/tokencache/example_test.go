package tokencache_test

import (
	"context"
	"fmt"
	"time"

	"github.com/oauthgate/oauthgate/internal/tokencache"
)

// Do fills a missing entry once and answers later calls from the cache
// until the entry's lifetime ends.
func ExampleCache_Do() {
	cache := tokencache.New[string](tokencache.Config{Size: 100, MaxBytes: 1 << 20, Now: time.Now})
	key := tokencache.DigestKey("an opaque token")
	fills := 0
	fill := func(context.Context) (string, time.Duration, error) {
		fills++
		return "alice", time.Minute, nil
	}
	for range 3 {
		sub, err := cache.Do(context.Background(), key, fill)
		fmt.Println(sub, err)
	}
	fmt.Println("fills:", fills)
	// Output:
	// alice <nil>
	// alice <nil>
	// alice <nil>
	// fills: 1
}
