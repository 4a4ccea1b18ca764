// Package text reads published word vectors and turns text into token ids
// for graft's text models.
//
// Word vectors: Load reads GloVe and word2vec/fastText text files (".txt",
// ".vec", with or without the "count dim" header line), word2vec binary
// files (".bin") and the wink JSON of npm's wink-embeddings packages
// ({"words", "vectors": {word: [v…, l2norm, index]}, …}). Every reader
// streams: the file is never held in memory, only the vectors it keeps
// (ReadOptions.Keep restricts them to a vocabulary), in chunks joined once
// at the end, so peak memory stays within twice the vectors kept (plus one
// 4 MB chunk, the words and their index); when a header announces a word
// count the file's size can hold (word2vec, fastText, wink's "size"), the
// table is allocated once and not joined. A malformed line, a wrong number of values, a duplicate word, a word that is
// not UTF-8 or a value that is not a finite number is an error naming the
// file and the line (the byte offset for JSON and binary files).
// LoadCached keeps a compact copy (safetensors + a vocabulary file) so the
// next load takes a fraction of a second.
//
// Text: Tokenize lower-cases and splits e-mail and prose into words and
// numbers, mapping URLs, e-mail addresses and numbers to the tokens URLTok,
// EmailTok and NumTok; Clean strips mail headers (keeping Subject) and HTML
// markup first. A Vocab maps tokens to ids with 0 the padding id and 1 the
// unknown id. Datasets come from the SpamAssassin corpus (LoadSpamAssassin),
// folders of .txt files per class, and CSV or JSONL files of text and label.
package text
