package text

import (
	"testing"
)

// BenchmarkGloVe times loading the 341,479-word GloVe 6B 100d from its
// wink JSON (streamed) and from the cache LoadCached keeps (skipped when
// the file is absent: tools/fetch/text.sh fetches it).
func BenchmarkGloVe(b *testing.B) {
	p := gloveJSON(b)
	b.Run("source=json", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			v, err := Load(p, ReadOptions{})
			if err != nil || v.Len() != 341479 {
				b.Fatal(v, err)
			}
		}
	})
	dir := b.TempDir()
	if _, _, err := LoadCached(p, dir, ReadOptions{}); err != nil {
		b.Fatal(err)
	}
	b.Run("source=cache", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			v, hit, err := LoadCached(p, dir, ReadOptions{})
			if err != nil || !hit || v.Len() != 341479 {
				b.Fatal(hit, err)
			}
		}
	})
}
