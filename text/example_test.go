package text_test

import (
	"fmt"
	"strings"

	"github.com/graftml/graft/text"
)

func ExampleRead() {
	glove := "the 0.1 0.2 0.3\nspam 0.5 -0.5 1\nham -1 0 0.25\n"
	keep := map[string]bool{"spam": true, "ham": true}
	v, err := text.Read(strings.NewReader(glove), "glove.txt", text.FormatText,
		text.ReadOptions{Keep: func(w string) bool { return keep[w] }})
	if err != nil {
		panic(err)
	}
	fmt.Println(v.Len(), v.Dim, v.Lookup("spam"), v.Lookup("the") == nil)
	// Output: 2 3 [0.5 -0.5 1] true
}

func ExampleTokenize() {
	msg := "Subject: WIN $1,000 now!\nFrom: Promo <deals@example.com>\n\n<p>Click&nbsp;http://example.com today</p>\n"
	fmt.Println(text.Tokenize(nil, text.Clean(msg), 0))
	// Output: [win <num> now promo <email> click <url> today <html>]
}

func ExampleVocab_Encode() {
	docs := [][]string{{"free", "cash"}, {"team", "meeting", "free"}}
	v := text.BuildVocab(docs, 1, 0)
	ids := make([]float32, 5)
	n := v.Encode(ids, []string{"free", "lunch", "meeting"})
	fmt.Println(v.Words, ids, n)
	// Output: [<pad> <unk> free cash meeting team] [2 1 4 0 0] 3
}
